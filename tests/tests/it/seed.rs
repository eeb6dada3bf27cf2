//! `seed`: deterministic, shaped like the site, all or nothing.
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use service::scale::Scale;
use service::seed::{seed_atomically, Counts, SeedOptions, TABLES};
use tests::{json_line, stderr, TestDb};

const ANCHOR: &str = "2026-03-01";

fn tiny(seed: u64) -> SeedOptions {
    let mut opts = SeedOptions::new(Scale::Tiny);
    opts.seed = seed;
    opts.anchor = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
    opts
}

async fn scalar<T: sea_orm::TryGetable>(db: &DatabaseConnection, sql: &str) -> T {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row")
        .try_get_by_index::<T>(0)
        .expect("a value")
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    scalar::<i64>(db, sql).await
}

/// One md5 per contract table over every row, in a fixed order.
async fn checksums(db: &DatabaseConnection) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for table in TABLES {
        let sql = format!(
            "SELECT COALESCE(md5(string_agg(t::text, '|' ORDER BY t::text COLLATE \"C\")), '') \
             FROM {table} t"
        );
        out.push((table.to_string(), scalar::<String>(db, &sql).await));
    }
    out
}

#[tokio::test]
async fn the_same_seed_gives_the_same_checksum_of_every_table() {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    seed_atomically(&a.db, &tiny(7)).await.expect("seed a");
    let first = checksums(&a.db).await;
    // Another seed in between must not leak into the next run (ids restart too).
    seed_atomically(&a.db, &tiny(8)).await.expect("reseed a");
    let other = checksums(&a.db).await;
    seed_atomically(&a.db, &tiny(7))
        .await
        .expect("seed a again");
    assert_eq!(checksums(&a.db).await, first);
    seed_atomically(&b.db, &tiny(7)).await.expect("seed b");
    assert_eq!(checksums(&b.db).await, first, "another database, same seed");
    // Names of groups and tags are fixed lists; every generated table differs,
    // the jobs' outputs included (they follow the data).
    for ((table, x), (_, y)) in first.iter().zip(&other) {
        let fixed = matches!(table.as_str(), "groups" | "tags");
        assert_eq!(x == y, fixed, "{table}: seed 7 vs seed 8");
    }
}

#[tokio::test]
async fn counts_match_the_flags() {
    let t = TestDb::new().await;
    let mut opts = tiny(1);
    opts.counts = Counts {
        communities: 3,
        profiles: 500,
        groups: 10,
        videos: 77,
        mailers: 20,
        emails: 333,
        impressions: 1234,
        contents: 50,
        tags: 30,
        numbers: 999,
        days: 3,
    };
    let report = seed_atomically(&t.db, &opts).await.expect("seed");
    for (table, n) in [
        ("communities", 3),
        ("profiles", 500),
        ("groups", 10),
        ("videos", 77),
        ("mailers", 20),
        ("emails", 333),
        ("impressions", 1234),
        ("tags", 30),
        ("my_numbers", 999),
    ] {
        assert_eq!(
            count(&t.db, &format!("SELECT count(*) FROM {table}")).await,
            n,
            "{table}"
        );
        let reported = report
            .tables
            .iter()
            .find(|r| r.table == table)
            .expect("reported");
        assert_eq!(reported.rows, n as u64, "{table} in the report");
    }
    let total: i64 = count(&t.db, "SELECT count(*) FROM profile_groups").await
        + count(&t.db, "SELECT count(*) FROM content_tags").await
        + [3, 500, 10, 77, 20, 333, 1234, 30, 999].iter().sum::<i64>()
        // The jobs' tables, filled with what the jobs would write.
        + count(&t.db, "SELECT count(*) FROM denorm_profile_records").await
        + count(&t.db, "SELECT count(*) FROM daily_impression_stats").await
        + count(&t.db, "SELECT count(*) FROM daily_impression_stats_tags").await;
    assert_eq!(report.rows, total as u64);
    // 0..6 groups per profile, about 3 on average; the same for tags per content.
    let (max_groups, avg_groups) = (
        count(
            &t.db,
            "SELECT max(n) FROM (SELECT count(*) n FROM profile_groups GROUP BY profile_id) s",
        )
        .await,
        count(
            &t.db,
            "SELECT round(count(*) * 10.0 / 500)::bigint FROM profile_groups",
        )
        .await,
    );
    assert!(
        max_groups <= 6 && (20..=35).contains(&avg_groups),
        "{max_groups} {avg_groups}"
    );
    assert!(count(&t.db, "SELECT max(n) FROM (SELECT count(*) n FROM content_tags GROUP BY content_type_id, object_id) s").await <= 6);
    assert!(count(&t.db, "SELECT count(DISTINCT object_id) FROM impressions WHERE object_id NOT BETWEEN 1 AND 50").await == 0);
    // Impressions fall on exactly the 3 UTC days before the anchor.
    let days = count(
        &t.db,
        "SELECT count(DISTINCT (created AT TIME ZONE 'UTC')::date) FROM impressions \
         WHERE created >= '2026-02-26Z' AND created < '2026-03-01Z'",
    )
    .await;
    assert_eq!(days, 3);
    assert_eq!(count(&t.db, "SELECT count(*) FROM impressions WHERE created < '2026-02-26Z' OR created >= '2026-03-01Z'").await, 0);
    // Mailers in the 60 days before the anchor.
    assert_eq!(
        count(
            &t.db,
            "SELECT count(*) FROM mailers WHERE sent < '2026-01-01Z' OR sent > '2026-03-01Z'"
        )
        .await,
        0
    );
    // Ids continue after the seeded ones.
    let next = count(
        &t.db,
        "INSERT INTO videos (title) VALUES ('x') RETURNING id",
    )
    .await;
    assert_eq!(next, 78);
}

#[tokio::test]
async fn seeded_data_has_the_shape_the_jobs_need() {
    let t = TestDb::new().await;
    let mut opts = tiny(3);
    opts.counts.profiles = 5_000;
    opts.counts.impressions = 20_000;
    opts.counts.contents = 1_000;
    seed_atomically(&t.db, &opts).await.expect("seed");
    let db = &t.db;
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM groups WHERE name IN ('staff','moderator','creator','member')"
        )
        .await,
        4
    );
    // Precedence and id order differ, so "first by precedence" is a real choice.
    assert!(
        count(db, "SELECT id FROM groups WHERE name = 'staff'").await
            > count(db, "SELECT id FROM groups WHERE name = 'member'").await
    );
    assert!(count(db, "SELECT count(*) FROM profiles p WHERE NOT EXISTS (SELECT 1 FROM profile_groups g WHERE g.profile_id = p.id)").await > 0, "some profiles have no group");
    // Community 1 holds a large share; the others are a long tail.
    let biggest = count(db, "SELECT count(*) FROM profiles WHERE community_id = 1").await;
    assert!((1500..=2500).contains(&biggest), "{biggest}");
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM profiles WHERE community_id NOT IN (SELECT id FROM communities)"
        )
        .await,
        0
    );
    // Titles: non-ASCII, surrounding spaces, empty and all-space ones, mixed case.
    assert!(
        count(
            db,
            r"SELECT count(*) FROM videos WHERE title ~ '[^\x01-\x7f]'"
        )
        .await
            > 50
    );
    assert!(
        count(db, "SELECT count(*) FROM videos WHERE title ~ '[一-龯]'").await > 0,
        "CJK"
    );
    assert!(
        count(db, "SELECT count(*) FROM videos WHERE title ~ '[é]'").await > 0,
        "accents"
    );
    assert!(
        count(
            db,
            "SELECT count(*) FROM videos WHERE title <> btrim(title) AND btrim(title) <> ''"
        )
        .await
            > 0
    );
    assert!(count(db, "SELECT count(*) FROM videos WHERE btrim(title) = ''").await > 0);
    assert!(
        count(
            db,
            "SELECT count(*) FROM videos WHERE title <> lower(title)"
        )
        .await
            > 0
    );
    // Emails reference existing mailers, about emails / mailers each.
    assert_eq!(count(db, "SELECT count(*) FROM emails e WHERE NOT EXISTS (SELECT 1 FROM mailers m WHERE m.id = e.mailer_id)").await, 0);
    assert_eq!(
        count(db, "SELECT count(DISTINCT mailer_id) FROM emails").await,
        200
    );
    // Impressions: the top 1% of contents get a large share of the views.
    let top1pct = count(db, "SELECT sum(n)::bigint FROM (SELECT count(*) n FROM impressions GROUP BY content_type_id, object_id ORDER BY n DESC LIMIT 10) s").await;
    assert!(top1pct > 20_000 / 5, "{top1pct}");
    assert!(
        count(
            db,
            "SELECT count(DISTINCT content_type_id) FROM impressions"
        )
        .await
            >= 3
    );
    // Every impression's content has the same type in content_tags (one type per content).
    assert_eq!(count(db, "SELECT count(*) FROM content_tags c JOIN impressions i ON i.object_id = c.object_id AND i.content_type_id <> c.content_type_id").await, 0);
    // Numbers: start <= end < 2147483647, widths mostly narrow, some wide, some negative.
    assert_eq!(count(db, "SELECT count(*) FROM my_numbers WHERE number_start > number_end OR number_end >= 2147483647").await, 0);
    assert!(
        count(
            db,
            "SELECT count(*) FROM my_numbers WHERE number_end - number_start < 100"
        )
        .await
            > 1_400
    );
    assert!(
        count(
            db,
            "SELECT count(*) FROM my_numbers WHERE number_end - number_start >= 10000"
        )
        .await
            > 0
    );
}

/// Every index and constraint definition of the schema, in one string.
async fn schema_shape(db: &DatabaseConnection) -> String {
    scalar::<String>(
        db,
        "SELECT (SELECT string_agg(indexname || ' ' || indexdef, ';' ORDER BY indexname) \
                 FROM pg_indexes WHERE schemaname = 'public') || '|' || \
                (SELECT string_agg(conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid), ';' \
                                   ORDER BY conrelid::regclass::text, conname) \
                 FROM pg_constraint WHERE connamespace = 'public'::regnamespace)",
    )
    .await
}

#[tokio::test]
async fn indexes_and_foreign_keys_set_aside_during_the_load_come_back() {
    let t = TestDb::new().await;
    let before = schema_shape(&t.db).await;
    assert!(
        before.contains("fk_profile_groups_profile_id")
            && before.contains("idx_my_numbers_number_end")
    );
    seed_atomically(&t.db, &tiny(1)).await.expect("seed");
    assert_eq!(schema_shape(&t.db).await, before);
    // The foreign keys are enforced again.
    let orphan =
        t.db.execute_unprepared("INSERT INTO profile_groups VALUES (1, 999999)")
            .await;
    assert!(orphan.is_err());
}

#[tokio::test]
async fn seed_replaces_the_data_but_keeps_the_job_history() {
    let t = TestDb::new().await;
    assert_eq!(t.cli(None, &["run", "noop"]).status.code(), Some(0));
    t.db.execute_unprepared("INSERT INTO communities (name) VALUES ('old')")
        .await
        .expect("insert");
    seed_atomically(&t.db, &tiny(1)).await.expect("seed");
    assert_eq!(
        count(&t.db, "SELECT count(*) FROM communities WHERE name = 'old'").await,
        0
    );
    assert_eq!(count(&t.db, "SELECT count(*) FROM job_runs").await, 1);
}

#[tokio::test]
async fn tiny_scale_through_the_cli_exits_0_with_a_json_summary() {
    let t = TestDb::new().await;
    let out = t.cli(
        None,
        &["seed", "--scale", "tiny", "--seed", "5", "--anchor", ANCHOR],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json = json_line(&out);
    assert_eq!(json["scale"], "tiny");
    assert_eq!(json["seed"], 5);
    assert_eq!(json["tables"].as_array().map(Vec::len), Some(14));
    assert_eq!(json["connections"], 2);
    assert!(json["rows"].as_u64().unwrap_or(0) > 10_000);
    assert_eq!(count(&t.db, "SELECT count(*) FROM profiles").await, 1_000);
    // The CLI and the library give the same data.
    let via_cli = checksums(&t.db).await;
    seed_atomically(&t.db, &tiny(5)).await.expect("seed");
    assert_eq!(checksums(&t.db).await, via_cli);
}

#[tokio::test]
async fn bad_flags_exit_2_and_write_nothing() {
    let t = TestDb::new().await;
    t.db.execute_unprepared("INSERT INTO communities (name) VALUES ('keep')")
        .await
        .expect("insert");
    for (args, needle) in [
        (
            &["seed", "--scale", "tiny", "--profiles", "-5"][..],
            "--profiles",
        ),
        (
            &["seed", "--scale", "tiny", "--communities", "0"][..],
            "--communities",
        ),
        (
            &["seed", "--scale", "tiny", "--anchor", "2026-13-01"][..],
            "--anchor",
        ),
        (&["seed", "--scale", "huge"][..], "scale"),
        (&["seed", "--numbers", "5000000000"][..], "--numbers"),
    ] {
        let out = t.cli(None, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(count(&t.db, "SELECT count(*) FROM communities").await, 1);
}

#[tokio::test]
async fn a_failing_seed_leaves_the_old_data() {
    let t = TestDb::new().await;
    t.db.execute_unprepared("INSERT INTO communities (name) VALUES ('keep')")
        .await
        .expect("insert");
    // Sabotage: titles may not be empty, and the seed writes empty titles.
    t.db.execute_unprepared(
        "ALTER TABLE videos ADD CONSTRAINT no_empty_titles CHECK (title <> '')",
    )
    .await
    .expect("sabotage");
    tests::exec(
        &t.db,
        "INSERT INTO my_numbers (number_start, number_end) VALUES (1, 2)",
    )
    .await;
    let out = t.cli(None, &["seed", "--scale", "tiny", "--anchor", ANCHOR]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no_empty_titles"), "{}", stderr(&out));
    assert_eq!(count(&t.db, "SELECT count(*) FROM communities").await, 1);
    assert_eq!(count(&t.db, "SELECT count(*) FROM profiles").await, 0);
    // my_numbers, written on the other connection, was rolled back too.
    assert_eq!(count(&t.db, "SELECT count(*) FROM my_numbers").await, 1);
}

#[tokio::test]
async fn a_failure_on_the_numbers_connection_leaves_every_table_old() {
    let t = TestDb::new().await;
    tests::exec(&t.db, "INSERT INTO communities (name) VALUES ('keep')").await;
    // Sabotage the other connection's table: seed writes ranges wider than one.
    tests::exec(
        &t.db,
        "ALTER TABLE my_numbers ADD CONSTRAINT points_only CHECK (number_start = number_end)",
    )
    .await;
    let out = t.cli(None, &["seed", "--scale", "tiny", "--anchor", ANCHOR]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("points_only"), "{}", stderr(&out));
    for (table, rows) in [
        ("communities", 1),
        ("profiles", 0),
        ("videos", 0),
        ("my_numbers", 0),
    ] {
        let n = count(&t.db, &format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(n, rows, "{table}");
    }
}

/// A derived table's rows without their surrogate ids, as text in byte order.
async fn rows_of(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    let sql = format!("SELECT t::text FROM ({sql}) t ORDER BY t::text COLLATE \"C\"");
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("rows")
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("text"))
        .collect()
}

const RECORDS: &str =
    "SELECT community_id, profile_id, user_id, primary_group, groups FROM denorm_profile_records";
const STATS: &str = "SELECT s.date, s.content_type_id, s.object_id, s.total_impressions, \
     (SELECT array_agg(l.tag_id ORDER BY l.tag_id) FROM daily_impression_stats_tags l \
      WHERE l.daily_impression_stats_id = s.id) AS tags FROM daily_impression_stats s";

#[tokio::test]
async fn seed_fills_the_jobs_tables_with_what_the_jobs_write() {
    let t = TestDb::new().await;
    seed_atomically(&t.db, &tiny(3)).await.expect("seed");
    let (records, stats) = (rows_of(&t.db, RECORDS).await, rows_of(&t.db, STATS).await);
    assert_eq!(
        records.len() as i64,
        count(&t.db, "SELECT count(*) FROM profiles").await,
        "one record per profile of every community"
    );
    let days: Vec<String> =
        rows_of(&t.db, "SELECT DISTINCT date FROM daily_impression_stats").await;
    assert_eq!(days.len(), 7, "every past day of impressions: {days:?}");
    assert!(count(&t.db, "SELECT count(*) FROM daily_impression_stats_tags").await > 0);

    // The optimized jobs, run over the same data, write exactly the same rows.
    tests::exec(
        &t.db,
        "TRUNCATE denorm_profile_records, daily_impression_stats CASCADE",
    )
    .await;
    let out = t.cli(None, &["run", "denormalize-profiles", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for day in &days {
        let day = day.trim_matches(|c| c == '(' || c == ')');
        let out = t.cli(None, &["run", "daily-impressions", "--date", day]);
        assert_eq!(out.status.code(), Some(0), "{day}: {}", stderr(&out));
    }
    assert_eq!(rows_of(&t.db, RECORDS).await, records);
    assert_eq!(rows_of(&t.db, STATS).await, stats);
}

#[tokio::test]
async fn seed_writes_number_range_and_leaves_the_trigger_on_for_other_writers() {
    let t = TestDb::new().await;
    seed_atomically(&t.db, &tiny(4)).await.expect("seed");
    let wrong = "SELECT count(*) FROM my_numbers \
                 WHERE number_range IS DISTINCT FROM int4range(number_start, number_end, '[]')";
    assert_eq!(count(&t.db, wrong).await, 0);
    assert!(count(&t.db, "SELECT count(*) FROM my_numbers").await > 0);
    // Plain SQL after the seed still gets its range from the trigger.
    tests::exec(
        &t.db,
        "INSERT INTO my_numbers (number_start, number_end) VALUES (5, 9)",
    )
    .await;
    tests::exec(
        &t.db,
        "UPDATE my_numbers SET number_end = number_end + 1 WHERE id = 1",
    )
    .await;
    assert_eq!(count(&t.db, wrong).await, 0);
}

#[tokio::test]
async fn seed_leaves_empty_change_logs_and_their_triggers_on_for_other_writers() {
    let t = TestDb::new().await;
    // A profile and a title logged before the seed: the seed's TRUNCATE makes
    // their entries meaningless, and it empties both logs.
    tests::exec(&t.db, "INSERT INTO communities (id, name) VALUES (1, 'c')").await;
    tests::exec(
        &t.db,
        "INSERT INTO profiles (community_id, user_id, display_name) VALUES (1, 1, 'p')",
    )
    .await;
    tests::exec(&t.db, "INSERT INTO videos (title) VALUES ('before')").await;
    seed_atomically(&t.db, &tiny(4)).await.expect("seed");
    let logs = "SELECT (SELECT count(*) FROM denorm_profile_changes)                 + (SELECT count(*) FROM autocomplete_changes)";
    assert_eq!(count(&t.db, logs).await, 0);
    let disabled = "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'D'";
    assert_eq!(count(&t.db, disabled).await, 0);
    // Writers after the seed are logged again: a profile, a membership, a title.
    tests::exec(
        &t.db,
        "INSERT INTO profiles (community_id, user_id, display_name) VALUES (2, 1, 'after')",
    )
    .await;
    tests::exec(
        &t.db,
        "INSERT INTO profile_groups (profile_id, group_id) \
         SELECT max(id), 1 FROM profiles",
    )
    .await;
    tests::exec(&t.db, "INSERT INTO videos (title) VALUES ('after')").await;
    assert_eq!(
        count(
            &t.db,
            "SELECT count(*) FROM denorm_profile_changes WHERE community_id = 2"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &t.db,
            "SELECT count(*) FROM autocomplete_changes WHERE title = 'after'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn seed_with_redis_fills_the_autocomplete_set() {
    let (t, redis) = (TestDb::new().await, tests::TestRedis::new().await);
    let key = redis.key("ac");
    // The set's key comes from the settings file, as for `run refresh-autocomplete`.
    let dir = std::env::temp_dir().join(format!("sitejobs-seed-{}", t.name));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("sitejobs.toml"),
        format!("[refresh-autocomplete]\nkey = \"{key}\"\n"),
    )
    .expect("settings file");
    let out = std::process::Command::new(tests::sitejobs_bin())
        .args(["seed", "--scale", "tiny", "--anchor", ANCHOR])
        .current_dir(&dir)
        .env("DATABASE_URL", &t.url)
        .env("REDIS_URL", &redis.url)
        .env("SITEJOBS_LOG", "warn")
        .output()
        .expect("run sitejobs");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = json_line(&out);
    let mut conn = redis.conn.clone();
    let members: i64 = redis::cmd("ZCARD")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("zcard");
    assert!(members > 0);
    assert_eq!(line["autocomplete"]["members"], members);
    assert_eq!(line["autocomplete"]["key"], key.as_str());
}
