//! `denormalize-profiles`: both strategies give the contract's rows, atomically,
//! with statements that grow with batches rather than rows.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use service::jobs::denormalize_profiles::{
    bench, write_batch_insert_many, write_batch_unnest, DenormalizeProfiles, Record, Target,
    OPTIMIZED_BATCH,
};
use service::runner::lock;
use service::{run_job, RunOptions, RunReport, RunStatus, Strategy};
use tests::{exec, json_line, scalar, stderr, stdout, TestDb};

type Row = (i64, i64, i64, Option<String>, Vec<String>);

/// Every record, in profile order.
async fn records(db: &DatabaseConnection) -> Vec<Row> {
    db.query_all_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT community_id, profile_id, user_id, primary_group, groups FROM denorm_profile_records ORDER BY profile_id",
    ))
    .await
    .expect("records")
    .iter()
    .map(|r| {
        (
            r.try_get_by_index(0).expect("community_id"),
            r.try_get_by_index(1).expect("profile_id"),
            r.try_get_by_index(2).expect("user_id"),
            r.try_get_by_index(3).expect("primary_group"),
            r.try_get_by_index(4).expect("groups"),
        )
    })
    .collect()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Crafted community 1 (profiles 1..=12) beside community 2 (profiles 13, 14).
/// The group-name column is given a locale collation (ICU English), under
/// which `apple < Zebra` and `a b`/`ab` order differently from bytes.
async fn crafted(db: &DatabaseConnection) {
    exec(
        db,
        r#"ALTER TABLE groups ALTER COLUMN name TYPE text COLLATE "en-US-x-icu";
        INSERT INTO communities (id, name) OVERRIDING SYSTEM VALUE VALUES (1, 'crafted'), (2, 'other'), (3, 'empty');
        INSERT INTO groups (id, name) OVERRIDING SYSTEM VALUE VALUES
          (1, 'staff'), (2, 'moderator'), (3, 'creator'), (4, 'member'),
          (5, 'apple'), (6, 'Zebra'), (7, 'éclair'), (8, 'ab'), (9, 'a b'),
          (10, 'we"ird'), (11, 'back\slash'), (12, 'x,y'), (13, '{brace}'), (14, 'NULL'), (15, ' spaced ');
        INSERT INTO profiles (id, community_id, user_id, display_name) OVERRIDING SYSTEM VALUE VALUES
          (1, 1, 101, 'none'), (2, 1, 102, 'one'), (3, 1, 103, 'staff wins'), (4, 1, 104, 'moderator wins'),
          (5, 1, 105, 'creator wins'), (6, 1, 106, 'member wins'), (7, 1, 107, 'smallest by bytes'),
          (8, 1, 108, 'a b before ab'), (9, 1, 109, 'escapes'), (10, 1, 110, 'all precedence'),
          (11, 1, 111, 'one precedence'), (12, 1, 112, 'none again'),
          (13, 2, 201, 'other'), (14, 2, 202, 'other');
        SELECT setval(pg_get_serial_sequence('profiles', 'id'), 100);
        SELECT setval(pg_get_serial_sequence('communities', 'id'), 100);
        SELECT setval(pg_get_serial_sequence('groups', 'id'), 100);
        INSERT INTO profile_groups (profile_id, group_id) VALUES
          (2, 7),
          (3, 4), (3, 5), (3, 1), (3, 2),
          (4, 3), (4, 2), (4, 6),
          (5, 4), (5, 3), (5, 5),
          (6, 6), (6, 4), (6, 7),
          (7, 5), (7, 6), (7, 7), (7, 8),
          (8, 8), (8, 9),
          (9, 10), (9, 11), (9, 12), (9, 13), (9, 14), (9, 15),
          (10, 4), (10, 3), (10, 2), (10, 1),
          (11, 4),
          (13, 1), (14, 5);"#,
    )
    .await;
}

/// What the contract says community 1's records are (default precedence).
fn expected_crafted() -> Vec<Row> {
    let row = |p: i64, primary: Option<&str>, groups: &[&str]| {
        (1, p, 100 + p, primary.map(str::to_string), strings(groups))
    };
    vec![
        row(1, None, &[]),
        row(2, Some("éclair"), &["éclair"]),
        row(3, Some("staff"), &["apple", "member", "moderator", "staff"]),
        row(4, Some("moderator"), &["Zebra", "creator", "moderator"]),
        row(5, Some("creator"), &["apple", "creator", "member"]),
        row(6, Some("member"), &["Zebra", "member", "éclair"]),
        row(7, Some("Zebra"), &["Zebra", "ab", "apple", "éclair"]),
        row(8, Some("a b"), &["a b", "ab"]),
        row(
            9,
            Some(" spaced "),
            &[
                " spaced ",
                "NULL",
                "back\\slash",
                "we\"ird",
                "x,y",
                "{brace}",
            ],
        ),
        row(
            10,
            Some("staff"),
            &["creator", "member", "moderator", "staff"],
        ),
        row(11, Some("member"), &["member"]),
        row(12, None, &[]),
    ]
}

fn job(community: i64) -> DenormalizeProfiles {
    DenormalizeProfiles::new(Target::Community(community))
}

async fn run(t: &TestDb, job: &DenormalizeProfiles, strategy: Strategy) -> RunReport {
    let opts = RunOptions {
        strategy,
        quiet: true,
        ..Default::default()
    };
    run_job(&t.services(None), job, &opts)
        .await
        .expect("not bad input")
}

async fn run_ok(t: &TestDb, job: &DenormalizeProfiles, strategy: Strategy) -> RunReport {
    let report = run(t, job, strategy).await;
    assert_eq!(report.status, RunStatus::Ok, "{report:?}");
    report
}

fn of_community(rows: &[Row], community: i64) -> Vec<Row> {
    rows.iter().filter(|r| r.0 == community).cloned().collect()
}

#[tokio::test]
async fn both_strategies_write_the_contract_rows_for_a_crafted_community() {
    for strategy in [Strategy::Optimized, Strategy::Naive] {
        let t = TestDb::new().await;
        crafted(&t.db).await;
        let report = run_ok(&t, &job(1), strategy).await;
        assert_eq!(report.rows, 12, "{strategy}");
        assert_eq!(records(&t.db).await, expected_crafted(), "{strategy}");
    }
}

#[tokio::test]
async fn other_communities_are_untouched_and_rerunning_gives_the_same_table() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    run_ok(&t, &job(2), Strategy::Optimized).await;
    let other = records(&t.db).await;
    assert_eq!(other.len(), 2);
    for strategy in [Strategy::Optimized, Strategy::Naive, Strategy::Optimized] {
        run_ok(&t, &job(1), strategy).await;
        let all = records(&t.db).await;
        assert_eq!(of_community(&all, 2), other, "{strategy}");
        assert_eq!(of_community(&all, 1), expected_crafted(), "{strategy}");
        assert_eq!(all.len(), 14);
    }
}

#[tokio::test]
async fn batch_size_one_and_larger_than_the_community_give_the_same_rows() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    for strategy in [Strategy::Optimized, Strategy::Naive] {
        for batch in [1, 5, 1_000_000] {
            let mut j = job(1);
            j.batch_size = Some(batch);
            let report = run_ok(&t, &j, strategy).await;
            assert_eq!(report.rows, 12);
            assert_eq!(
                records(&t.db).await,
                expected_crafted(),
                "{strategy}, batch {batch}"
            );
        }
    }
}

#[tokio::test]
async fn precedence_can_be_changed_and_an_empty_list_picks_the_smallest_name() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    for strategy in [Strategy::Optimized, Strategy::Naive] {
        let mut j = job(1);
        j.precedence = strings(&["Zebra", "member"]);
        run_ok(&t, &j, strategy).await;
        let primary: Vec<Option<String>> = records(&t.db).await.into_iter().map(|r| r.3).collect();
        let want = [
            None,
            Some("éclair"),
            Some("member"),
            Some("Zebra"),
            Some("member"),
            Some("Zebra"),
            Some("Zebra"),
            Some("a b"),
            Some(" spaced "),
            Some("member"),
            Some("member"),
            None,
        ];
        assert_eq!(primary, want.map(|p| p.map(str::to_string)), "{strategy}");
        j.precedence = vec![];
        run_ok(&t, &j, strategy).await;
        for r in records(&t.db).await {
            assert_eq!(r.3, r.4.first().cloned(), "{strategy}");
        }
    }
}

#[tokio::test]
async fn a_failure_mid_run_leaves_the_old_rows_intact() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    run_ok(&t, &job(1), Strategy::Optimized).await;
    let before = records(&t.db).await;
    // New profiles the next run would write; the one of user 999 breaks a constraint
    // after earlier batches (batch size 1) were already written in the transaction.
    exec(
        &t.db,
        "INSERT INTO profiles (community_id, user_id, display_name) VALUES (1, 300, 'a'), (1, 999, 'bad'), (1, 301, 'b');
         ALTER TABLE denorm_profile_records ADD CONSTRAINT injected_failure CHECK (user_id <> 999);",
    )
    .await;
    for strategy in [Strategy::Optimized, Strategy::Naive] {
        let mut j = job(1);
        j.batch_size = Some(1);
        let report = run(&t, &j, strategy).await;
        assert_eq!(report.status, RunStatus::Error, "{strategy}");
        assert_eq!(report.exit_code(), 1);
        assert!(
            report
                .error
                .as_deref()
                .unwrap_or("")
                .contains("injected_failure"),
            "{report:?}"
        );
        assert_eq!(records(&t.db).await, before, "{strategy}");
    }
}

#[tokio::test]
async fn unknown_community_exits_2_and_writes_nothing() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    run_ok(&t, &job(1), Strategy::Optimized).await;
    let before = records(&t.db).await;
    let out = t.cli(
        None,
        &["run", "denormalize-profiles", "--community", "4242"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "no JSON line for bad input");
    assert!(
        stderr(&out).contains("unknown community 4242"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).trim().lines().count(), 1);
    assert_eq!(records(&t.db).await, before);
    let runs = scalar(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE lock_key = 'denormalize-profiles:4242'",
    )
    .await;
    assert_eq!(runs, 0);
}

#[tokio::test]
async fn bad_flags_exit_2() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    for args in [
        &["run", "denormalize-profiles"][..],
        &["run", "denormalize-profiles", "--community", "1", "--all"],
        &[
            "run",
            "denormalize-profiles",
            "--community",
            "1",
            "--batch-size",
            "0",
        ],
        &["run", "denormalize-profiles", "--all", "--concurrency", "0"],
        &["run", "denormalize-profiles", "--community", "x"],
        &[
            "run",
            "denormalize-profiles",
            "--community",
            "1",
            "--precedence",
            "staff,,member",
        ],
    ] {
        let out = t.cli(None, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}");
        assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    }
    assert!(records(&t.db).await.is_empty());
}

#[tokio::test]
async fn cli_run_prints_the_json_line_with_the_community_lock_key() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    let out = t.cli(None, &["run", "denormalize-profiles", "--community", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = json_line(&out);
    assert_eq!(line["status"], "ok");
    assert_eq!(line["strategy"], "optimized");
    assert_eq!(line["rows"], 12);
    assert_eq!(line["lock_key"], "denormalize-profiles:1");
    assert_eq!(of_community(&records(&t.db).await, 1), expected_crafted());
}

/// A community of `n` generated profiles with 0..=6 groups each.
async fn generated(db: &DatabaseConnection, n: i64) -> i64 {
    bench::ensure_community(db, n as u64)
        .await
        .expect("bench community")
}

#[tokio::test]
async fn optimized_statements_grow_with_batches_not_rows() {
    let t = TestDb::new().await;
    let small = generated(&t.db, 1_000).await;
    let large = generated(&t.db, 10_000).await;
    let statements = |report: &RunReport| report.db_statements;
    // Besides the inserts: count, delete, state (and change log), stream. One insert per batch.
    let expected = |rows: u64, batch: u64| 4 + rows.div_ceil(batch);
    let a = run_ok(&t, &job(small), Strategy::Optimized).await;
    let b = run_ok(&t, &job(large), Strategy::Optimized).await;
    assert_eq!((a.rows, b.rows), (1_000, 10_000));
    let default = OPTIMIZED_BATCH as u64;
    assert_eq!(statements(&a), expected(1_000, default));
    assert_eq!(statements(&b), expected(10_000, default));
    assert!(statements(&b) <= 2 * statements(&a), "{a:?} {b:?}");
    // A batch larger than the community: the same five statements at both sizes.
    for (id, rows) in [(small, 1_000), (large, 10_000)] {
        let mut j = job(id);
        j.batch_size = Some(20_000);
        assert_eq!(
            statements(&run_ok(&t, &j, Strategy::Optimized).await),
            expected(rows, 20_000)
        );
    }
    let mut j = job(large);
    j.batch_size = Some(1_000);
    assert_eq!(
        statements(&run_ok(&t, &j, Strategy::Optimized).await),
        4 + 10
    );
    // The naive strategy sends a query per profile.
    let naive = run_ok(&t, &job(small), Strategy::Naive).await;
    assert!(statements(&naive) > 1_000, "{naive:?}");
}

#[tokio::test]
async fn insert_many_batches_over_65535_parameters_are_chunked() {
    let t = TestDb::new().await;
    // 5 parameters per record: 13,200 records need 66,000 parameters.
    let batch: Vec<Record> = (1..=13_200)
        .map(|i| {
            Record::build(
                i,
                i * 10,
                strings(&["member", "staff", "z"]),
                &strings(&["staff"]),
            )
        })
        .collect();
    let txn = t.db.begin().await.expect("begin");
    let written = write_batch_insert_many(&txn, 7, &batch)
        .await
        .expect("insert_many in chunks");
    assert_eq!(written, 13_200);
    txn.rollback().await.expect("rollback");
    // The UNNEST path sends the same batch as one statement of five parameters.
    let written = write_batch_unnest(&t.db, 7, &batch).await.expect("unnest");
    assert_eq!(written, 13_200);
    let rows = records(&t.db).await;
    assert_eq!(rows.len(), 13_200);
    assert_eq!(
        rows[0],
        (
            7,
            1,
            10,
            Some("staff".into()),
            strings(&["member", "staff", "z"])
        )
    );
}

#[tokio::test]
async fn the_bench_floor_statement_gives_the_jobs_rows() {
    let t = TestDb::new().await;
    let id = generated(&t.db, 2_000).await;
    run_ok(&t, &job(id), Strategy::Optimized).await;
    let by_job = records(&t.db).await;
    for sql in bench::floor_sql(id) {
        exec(&t.db, &sql).await;
    }
    assert_eq!(records(&t.db).await, by_job);
    let mean_groups = scalar(
        &t.db,
        "SELECT (avg(cardinality(groups)) * 10)::bigint FROM denorm_profile_records",
    )
    .await;
    assert!((28..=32).contains(&mean_groups), "{mean_groups}");
}

#[tokio::test]
async fn all_rebuilds_every_community_and_skips_one_locked_elsewhere() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    let held = lock::acquire(&t.db, "denormalize-profiles:2", false)
        .await
        .expect("lock")
        .expect("free");
    let out = t.cli(
        None,
        &["run", "denormalize-profiles", "--all", "--concurrency", "2"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = json_line(&out);
    assert_eq!(line["lock_key"], "denormalize-profiles:all");
    assert_eq!(line["rows"], 12);
    assert_eq!(line["details"]["skipped_locked"], serde_json::json!([2]));
    assert_eq!(line["details"]["communities"], 2);
    assert_eq!(records(&t.db).await, expected_crafted());
    held.release().await;
    let out = t.cli(
        None,
        &[
            "run",
            "denormalize-profiles",
            "--all",
            "--strategy",
            "naive",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_line(&out)["rows"], 14);
    assert_eq!(of_community(&records(&t.db).await, 1), expected_crafted());
}

#[tokio::test]
async fn a_community_run_exits_75_while_its_lock_is_held() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    let held = lock::acquire(&t.db, "denormalize-profiles:1", false)
        .await
        .expect("lock")
        .expect("free");
    let out = t.cli(None, &["run", "denormalize-profiles", "--community", "1"]);
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert_eq!(json_line(&out)["status"], "locked");
    // Another community is not blocked.
    let out = t.cli(None, &["run", "denormalize-profiles", "--community", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    held.release().await;
    assert!(of_community(&records(&t.db).await, 1).is_empty());
}

#[tokio::test]
async fn precedence_comes_from_sitejobs_toml_unless_the_flag_is_given() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    let dir = std::env::temp_dir().join(format!("denorm-toml-{}", t.name));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("sitejobs.toml"),
        "[denormalize-profiles]\nprecedence = [\"member\", \"staff\"]\n",
    )
    .expect("write toml");
    let cli = |extra: &[&str]| {
        std::process::Command::new(tests::sitejobs_bin())
            .args(["run", "denormalize-profiles", "--community", "1"])
            .args(extra)
            .env("DATABASE_URL", &t.url)
            .env("SITEJOBS_LOG", "warn")
            .current_dir(&dir)
            .output()
            .expect("run")
    };
    let primary_of_3 = |rows: Vec<Row>| rows[2].3.clone();
    let out = cli(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_line(&out)["params"]["precedence"][0], "member");
    assert_eq!(
        primary_of_3(records(&t.db).await).as_deref(),
        Some("member")
    );
    let out = cli(&["--precedence", "staff, member"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(primary_of_3(records(&t.db).await).as_deref(), Some("staff"));
    std::fs::write(
        dir.join("sitejobs.toml"),
        "[denormalize-profiles]\nprecedence = \"staff\"\n",
    )
    .expect("write toml");
    let out = cli(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("precedence"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn readers_see_all_old_or_all_new_records_during_a_rebuild() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    run_ok(&t, &job(1), Strategy::Optimized).await;
    // Three more profiles, and every insert statement made slow, so the
    // rebuild (batches of 1) takes a while for the reader to look at it.
    exec(
        &t.db,
        "INSERT INTO profiles (community_id, user_id, display_name) VALUES (1, 300, 'a'), (1, 301, 'b'), (1, 302, 'c');
         CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$;
         CREATE TRIGGER slow_insert AFTER INSERT ON denorm_profile_records FOR EACH STATEMENT EXECUTE FUNCTION slow_insert();",
    )
    .await;
    for strategy in [Strategy::Optimized, Strategy::Naive] {
        let services = t.services(None);
        let mut j = job(1);
        j.batch_size = Some(1);
        let rebuild = tokio::spawn(async move {
            let opts = RunOptions {
                strategy,
                quiet: true,
                ..Default::default()
            };
            run_job(&services, &j, &opts).await.expect("not bad input")
        });
        let mut seen = std::collections::BTreeSet::new();
        while !rebuild.is_finished() {
            seen.insert(
                scalar(
                    &t.db,
                    "SELECT count(*) FROM denorm_profile_records WHERE community_id = 1",
                )
                .await,
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let report = rebuild.await.expect("join");
        assert_eq!(report.status, RunStatus::Ok, "{report:?}");
        assert_eq!(report.rows, 15);
        seen.insert(
            scalar(
                &t.db,
                "SELECT count(*) FROM denorm_profile_records WHERE community_id = 1",
            )
            .await,
        );
        assert!(
            seen.iter().all(|n| *n == 12 || *n == 15),
            "{strategy}: {seen:?}"
        );
        assert!(seen.contains(&12) && seen.contains(&15), "{seen:?}");
        // Back to the old rows for the next strategy.
        exec(
            &t.db,
            "DELETE FROM denorm_profile_records WHERE profile_id > 100",
        )
        .await;
    }
}

#[tokio::test]
async fn a_profile_that_moved_into_the_community_takes_its_record_along() {
    let t = TestDb::new().await;
    crafted(&t.db).await;
    run_ok(&t, &job(2), Strategy::Optimized).await;
    // Profile 13 moves from community 2 to 1; its record still says community 2.
    exec(&t.db, "UPDATE profiles SET community_id = 1 WHERE id = 13").await;
    for strategy in [Strategy::Naive, Strategy::Optimized] {
        let report = run_ok(&t, &job(1), strategy).await;
        assert_eq!(report.rows, 13, "{strategy}");
        let all = records(&t.db).await;
        assert_eq!(all.len(), 14, "{strategy}: one record per profile");
        assert!(all.contains(&(1, 13, 201, Some("staff".into()), strings(&["staff"]))));
        assert_eq!(of_community(&all, 2).len(), 1);
    }
}
