//! `daily-impressions`: UTC day bounds whatever the session time zone, tags
//! through the explicit through entity, idempotent re-runs, chunking past the
//! bind-parameter limit, statement counts, bad dates and all-or-nothing days.
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use service::jobs::daily_impressions::{DailyImpressions, DEFAULT_CHUNK_SIZE};
use service::{run_job, RunOptions, RunReport, RunStatus, Strategy};
use tests::{exec, json_line, scalar, stderr, stdout, TestDb};

const BOTH: [Strategy; 2] = [Strategy::Naive, Strategy::Optimized];

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
}

async fn run(
    db: &DatabaseConnection,
    date: &str,
    strategy: Strategy,
    chunk_size: usize,
) -> RunReport {
    let job = DailyImpressions::new(day(date), chunk_size).expect("valid options");
    let services = service::Services {
        db: db.clone(),
        redis: None,
    };
    let opts = RunOptions {
        strategy,
        quiet: true,
        ..Default::default()
    };
    run_job(&services, &job, &opts)
        .await
        .expect("not bad input")
}

async fn run_ok(db: &DatabaseConnection, date: &str, strategy: Strategy) -> RunReport {
    let report = run(db, date, strategy, DEFAULT_CHUNK_SIZE).await;
    assert_eq!(report.status, RunStatus::Ok, "{report:?}");
    report
}

/// One line per stats row of `date`: `ct/oid=total [tags]`, with or without its id.
async fn snapshot(db: &DatabaseConnection, date: &str, with_ids: bool) -> Vec<String> {
    let id = if with_ids { "s.id::text || ':' ||" } else { "" };
    let sql = format!(
        "SELECT {id} s.content_type_id || '/' || s.object_id || '=' || s.total_impressions
                || ' ' || COALESCE((SELECT string_agg(t.name, ',' ORDER BY t.name)
                    FROM daily_impression_stats_tags l JOIN tags t ON t.id = l.tag_id
                    WHERE l.daily_impression_stats_id = s.id), '')
         FROM daily_impression_stats s WHERE s.date = '{date}'
         ORDER BY s.content_type_id, s.object_id"
    );
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("snapshot")
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("text"))
        .collect()
}

/// Tags a..d; content (1,1) tagged a,b; (1,2) untagged; (2,7) tagged c; (1,9) tagged d
/// but never seen; impressions on 2026-03-14 and both neighbours.
async fn small_site(db: &DatabaseConnection) {
    exec(
        db,
        "INSERT INTO tags (name) VALUES ('a'), ('b'), ('c'), ('d');
         INSERT INTO content_tags (content_type_id, object_id, tag_id)
           SELECT ct, oid, (SELECT id FROM tags WHERE name = n)
           FROM (VALUES (1, 1, 'a'), (1, 1, 'b'), (2, 7, 'c'), (1, 9, 'd')) v(ct, oid, n);
         INSERT INTO impressions (content_type_id, object_id, created) VALUES
           (1, 1, '2026-03-13 23:59:59.999+00'),
           (1, 1, '2026-03-14 00:00:00+00'),
           (1, 1, '2026-03-14 12:00:00+00'),
           (1, 1, '2026-03-14 23:59:59.999+00'),
           (1, 1, '2026-03-15 00:00:00+00'),
           (1, 2, '2026-03-14 09:30:00+00'),
           (2, 7, '2026-03-14 23:59:59.999+00'),
           (2, 7, '2026-03-14 13:00:00+00'),
           (2, 7, '2026-03-13 12:00:00+00'),
           (1, 9, '2026-03-15 00:00:00+00');",
    )
    .await;
}

const MARCH_14: [&str; 3] = ["1/1=3 a,b", "1/2=1 ", "2/7=2 c"];

#[tokio::test]
async fn counts_the_utc_day_with_its_tags_and_skips_unseen_content() {
    for strategy in BOTH {
        let t = TestDb::new().await;
        small_site(&t.db).await;
        let report = run_ok(&t.db, "2026-03-14", strategy).await;
        assert_eq!(report.rows, 3, "{strategy}");
        assert_eq!(report.details["links"], 3, "{strategy}");
        assert_eq!(report.lock_key, "daily-impressions:2026-03-14");
        // (1,2) has no tags: a row without links. (1,9) is tagged but unseen: no row.
        assert_eq!(
            snapshot(&t.db, "2026-03-14", false).await,
            MARCH_14,
            "{strategy}"
        );
        run_ok(&t.db, "2026-03-15", strategy).await;
        assert_eq!(
            snapshot(&t.db, "2026-03-15", false).await,
            ["1/1=1 a,b", "1/9=1 d"],
            "{strategy}"
        );
    }
}

/// A pool whose every session runs in `zone` (sqlx itself starts sessions in UTC).
async fn connect_in_zone(url: &str, zone: &'static str) -> DatabaseConnection {
    let mut opts = sea_orm::ConnectOptions::new(url.to_owned());
    opts.max_connections(4)
        .sqlx_logging(false)
        .map_sqlx_postgres_pool_opts(move |pool| {
            pool.after_connect(move |conn, _| {
                let sql = format!("SET TIME ZONE '{zone}'");
                Box::pin(async move {
                    sea_orm::sqlx::Executor::execute(conn, sea_orm::sqlx::AssertSqlSafe(sql))
                        .await
                        .map(|_| ())
                })
            })
        });
    sea_orm::Database::connect(opts).await.expect("connect")
}

#[tokio::test]
async fn day_bounds_are_utc_whatever_the_session_time_zone() {
    let t = TestDb::new().await;
    small_site(&t.db).await;
    // UTC+14 and UTC-11: local midnights fall in the middle of the UTC day.
    for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago"] {
        let db = connect_in_zone(&t.url, zone).await;
        let shown = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT current_setting('TimeZone')",
            ))
            .await
            .expect("show")
            .expect("row")
            .try_get_by_index::<String>(0)
            .expect("text");
        assert_eq!(shown, zone);
        for strategy in BOTH {
            let report = run_ok(&db, "2026-03-14", strategy).await;
            assert_eq!(report.rows, 3);
            assert_eq!(
                snapshot(&db, "2026-03-14", false).await,
                MARCH_14,
                "{zone} {strategy}"
            );
            run_ok(&db, "2026-03-13", strategy).await;
            assert_eq!(
                snapshot(&db, "2026-03-13", false).await,
                ["1/1=1 a,b", "2/7=1 c"],
                "{zone} {strategy}"
            );
        }
        db.close().await.expect("close");
    }
}

#[tokio::test]
async fn rerunning_a_day_replaces_it_without_duplicates() {
    let t = TestDb::new().await;
    small_site(&t.db).await;
    run_ok(&t.db, "2026-03-14", Strategy::Optimized).await;
    let first = snapshot(&t.db, "2026-03-14", false).await;
    for strategy in [Strategy::Optimized, Strategy::Naive, Strategy::Optimized] {
        let report = run_ok(&t.db, "2026-03-14", strategy).await;
        assert_eq!(report.rows, 3);
        assert_eq!(
            snapshot(&t.db, "2026-03-14", false).await,
            first,
            "{strategy}"
        );
    }
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM daily_impression_stats").await,
        3
    );
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM daily_impression_stats_tags").await,
        3
    );
    // New impressions and a new tag since the last run are picked up.
    exec(
        &t.db,
        "INSERT INTO impressions (content_type_id, object_id, created) VALUES (1, 2, '2026-03-14 20:00:00+00');
         INSERT INTO content_tags SELECT 1, 2, id FROM tags WHERE name = 'd';",
    )
    .await;
    run_ok(&t.db, "2026-03-14", Strategy::Optimized).await;
    assert_eq!(
        snapshot(&t.db, "2026-03-14", false).await,
        ["1/1=3 a,b", "1/2=2 d", "2/7=2 c"]
    );
}

#[tokio::test]
async fn other_days_are_untouched() {
    for strategy in BOTH {
        let t = TestDb::new().await;
        small_site(&t.db).await;
        run_ok(&t.db, "2026-03-13", strategy).await;
        run_ok(&t.db, "2026-03-15", strategy).await;
        let before = [
            snapshot(&t.db, "2026-03-13", true).await,
            snapshot(&t.db, "2026-03-15", true).await,
        ];
        assert_eq!(before[0].len(), 2);
        run_ok(&t.db, "2026-03-14", strategy).await;
        run_ok(&t.db, "2026-03-14", strategy).await;
        let after = [
            snapshot(&t.db, "2026-03-13", true).await,
            snapshot(&t.db, "2026-03-15", true).await,
        ];
        assert_eq!(before, after, "{strategy}");
    }
}

/// `contents` contents of type 3 with one impression each on 2026-05-01 (and
/// every third one a second), each tagged with `tags` of 4 tags.
async fn many_contents(db: &DatabaseConnection, contents: i64, tags: i64) {
    exec(
        db,
        &format!(
            "INSERT INTO tags (name) VALUES ('w'), ('x'), ('y'), ('z') ON CONFLICT DO NOTHING;
             INSERT INTO content_tags (content_type_id, object_id, tag_id)
               SELECT 3, o, t.id FROM generate_series(1, {contents}) o
               CROSS JOIN LATERAL (SELECT id FROM tags WHERE name IN ('w','x','y','z')
                                   ORDER BY id LIMIT {tags}) t;
             INSERT INTO impressions (content_type_id, object_id, created)
               SELECT 3, o, '2026-05-01 00:00:00+00'::timestamptz + o * interval '1 second'
               FROM generate_series(1, {contents}) o
               UNION ALL
               SELECT 3, o, '2026-05-01 23:00:00+00' FROM generate_series(3, {contents}, 3) o;"
        ),
    )
    .await;
}

#[tokio::test]
async fn a_day_past_the_bind_parameter_limit_goes_in_several_chunks() {
    let t = TestDb::new().await;
    // 17,000 stats rows x 4 columns and 34,000 links x 2 columns: each table
    // alone needs more than 65,535 bind parameters.
    many_contents(&t.db, 17_000, 2).await;
    let report = run(&t.db, "2026-05-01", Strategy::Optimized, DEFAULT_CHUNK_SIZE).await;
    assert_eq!(report.status, RunStatus::Ok, "{report:?}");
    assert_eq!(report.rows, 17_000);
    assert_eq!(report.details["links"], 34_000);
    // delete, aggregate, 2 stats chunks, tags, 4 link chunks.
    assert_eq!(report.db_statements, 1 + 1 + 2 + 1 + 4);
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM daily_impression_stats_tags l
             JOIN daily_impression_stats s ON s.id = l.daily_impression_stats_id
             WHERE s.date = '2026-05-01'"
        )
        .await,
        34_000
    );
    assert_eq!(
        scalar(
            &t.db,
            "SELECT sum(total_impressions)::bigint FROM daily_impression_stats"
        )
        .await,
        17_000 + 17_000 / 3
    );
    // A chunk size above the limit is capped to what fits, not an error.
    let capped = run(&t.db, "2026-05-01", Strategy::Optimized, 1_000_000).await;
    assert_eq!(capped.status, RunStatus::Ok, "{capped:?}");
    // 17,000 / 16,383 stats rows -> 2; 34,000 / 32,767 links -> 2.
    assert_eq!(capped.db_statements, 1 + 1 + 2 + 1 + 2);
}

#[tokio::test]
async fn optimized_statements_grow_with_rows_over_chunk_size_not_rows() {
    let small = TestDb::new().await;
    many_contents(&small.db, 300, 3).await;
    let big = TestDb::new().await;
    many_contents(&big.db, 3_000, 3).await;
    let opt_small = run(
        &small.db,
        "2026-05-01",
        Strategy::Optimized,
        DEFAULT_CHUNK_SIZE,
    )
    .await;
    let opt_big = run(
        &big.db,
        "2026-05-01",
        Strategy::Optimized,
        DEFAULT_CHUNK_SIZE,
    )
    .await;
    assert_eq!((opt_small.rows, opt_big.rows), (300, 3_000));
    // Both fit in one chunk per table: the same few statements for ten times the rows.
    assert_eq!(opt_small.db_statements, 5);
    assert_eq!(opt_big.db_statements, 5);
    // With chunks of 100: 4 + ceil(stats / 100) + ceil(links / 100).
    let chunked = run(&big.db, "2026-05-01", Strategy::Optimized, 100).await;
    assert_eq!(chunked.db_statements, 3 + 30 + 90);
    // The naive strategy pays a round trip per row, per lookup and per link.
    let naive_small = run(&small.db, "2026-05-01", Strategy::Naive, DEFAULT_CHUNK_SIZE).await;
    assert_eq!(naive_small.status, RunStatus::Ok);
    assert_eq!(naive_small.db_statements, 2 + 2 * 300 + 900);
    assert_eq!(
        snapshot(&small.db, "2026-05-01", false).await.len(),
        300,
        "naive rewrote the same day"
    );
}

#[tokio::test]
async fn both_strategies_write_the_same_rows() {
    let t = TestDb::new().await;
    many_contents(&t.db, 500, 2).await;
    small_site(&t.db).await;
    exec(
        &t.db,
        "INSERT INTO impressions (content_type_id, object_id, created)
         SELECT 1, o, '2026-05-01 06:00:00+00' FROM generate_series(1, 50) o",
    )
    .await;
    run_ok(&t.db, "2026-05-01", Strategy::Naive).await;
    let naive = snapshot(&t.db, "2026-05-01", false).await;
    run_ok(&t.db, "2026-05-01", Strategy::Optimized).await;
    let optimized = snapshot(&t.db, "2026-05-01", false).await;
    assert_eq!(naive.len(), 550);
    assert_eq!(naive, optimized);
}

#[tokio::test]
async fn a_failure_between_stats_and_links_leaves_the_day_as_it_was() {
    for strategy in BOTH {
        let t = TestDb::new().await;
        small_site(&t.db).await;
        run_ok(&t.db, "2026-03-14", strategy).await;
        let before = snapshot(&t.db, "2026-03-14", true).await;
        // More impressions since, then links start failing.
        exec(
            &t.db,
            "INSERT INTO impressions (content_type_id, object_id, created)
               VALUES (5, 5, '2026-03-14 10:00:00+00');
             CREATE FUNCTION fail_links() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'links are broken'; END $$;
             CREATE TRIGGER fail_links BEFORE INSERT ON daily_impression_stats_tags
               FOR EACH ROW EXECUTE FUNCTION fail_links();",
        )
        .await;
        let report = run(&t.db, "2026-03-14", strategy, DEFAULT_CHUNK_SIZE).await;
        assert_eq!(report.status, RunStatus::Error, "{strategy}");
        assert_eq!(report.exit_code(), 1);
        assert!(
            report
                .error
                .as_deref()
                .unwrap_or("")
                .contains("links are broken"),
            "{report:?}"
        );
        assert_eq!(
            snapshot(&t.db, "2026-03-14", true).await,
            before,
            "{strategy}"
        );
        // Through the binary: exit 1, a JSON line saying error, the day still intact.
        let out = t.cli(
            None,
            &[
                "run",
                "daily-impressions",
                "--date",
                "2026-03-14",
                "--strategy",
                strategy.as_str(),
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(json_line(&out)["status"], "error");
        assert_eq!(
            snapshot(&t.db, "2026-03-14", true).await,
            before,
            "{strategy}"
        );
    }
}

#[tokio::test]
async fn malformed_dates_and_chunk_sizes_exit_2_and_write_nothing() {
    let t = TestDb::new().await;
    small_site(&t.db).await;
    for bad in [
        ["--date", "2026-02-30"],
        ["--date", "2026-3-14"],
        ["--date", "14/03/2026"],
        ["--date", "yesterday"],
        ["--date", ""],
        ["--date", "0000-01-01"],
        ["--chunk-size", "0"],
        ["--chunk-size", "-5"],
    ] {
        let mut args = vec!["run", "daily-impressions"];
        args.extend(bad);
        let out = t.cli(None, &args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{bad:?}: no JSON line");
        assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(bad[0]) || err.contains(&format!("'{}'", bad[1])),
            "{err}"
        );
    }
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM daily_impression_stats").await,
        0
    );
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 0);
}

#[tokio::test]
async fn the_default_date_is_yesterday_in_utc() {
    let t = TestDb::new().await;
    let yesterday = chrono::Utc::now().date_naive().pred_opt().expect("a day");
    exec(
        &t.db,
        &format!(
            "INSERT INTO impressions (content_type_id, object_id, created)
             VALUES (1, 1, '{yesterday} 12:00:00+00')"
        ),
    )
    .await;
    let out = t.cli(None, &["run", "daily-impressions"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = json_line(&out);
    assert_eq!(line["params"]["date"], yesterday.to_string());
    assert_eq!(line["lock_key"], format!("daily-impressions:{yesterday}"));
    assert_eq!(line["rows"], 1);
    assert_eq!(line["strategy"], "optimized");
}

#[tokio::test]
async fn bench_cases_prepare_their_data_once_and_the_floor_matches_the_job() {
    use service::bench::{FloorKind, NaivePlan};
    use service::jobs::daily_impressions::bench;
    use service::scale::Scale;
    let t = TestDb::new().await;
    let cases = bench::cases(&t.db, Scale::Tiny).await.expect("cases");
    let again = bench::cases(&t.db, Scale::Tiny).await.expect("cases again");
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].args, again[0].args);
    assert!(matches!(cases[0].naive, NaivePlan::Full));
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM impressions").await,
        10_000 + 10_000
    );
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM content_tags").await,
        3_000
    );
    let case = &cases[0];
    for sql in &case.reset_sql {
        exec(&t.db, sql).await;
    }
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let out = t.cli(None, &[&["run"], &args[..]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_line(&out)["rows"], 1_000);
    assert_eq!(json_line(&out)["details"]["links"], 3_000);
    let date = &case.args[2];
    let job = snapshot(&t.db, date, false).await;
    // The floor, committed this once, writes exactly what the job wrote.
    let FloorKind::Sql(floor) = &case.floors[0].kind else {
        panic!("an SQL floor")
    };
    for sql in floor {
        exec(&t.db, sql).await;
    }
    assert_eq!(snapshot(&t.db, date, false).await, job);
}
