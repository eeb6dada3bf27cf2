//! purge-emails: the cutoff boundary, orphans, gaps between runs, batches,
//! interruption, bad input and the optimized delete's plan.
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use service::jobs::purge_emails::optimized::DELETE_BATCH_SQL;
use service::jobs::purge_emails::PurgeEmails;
use service::{run_job, RunOptions, RunReport, RunStatus, Strategy};
use tests::scalar;
use tests::{json_line, stderr, stdout, TestDb};

const NOW: &str = "2026-11-01T00:00:00Z";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The ids of the remaining emails, in order: the whole observable result.
async fn remaining(db: &DatabaseConnection) -> Vec<i64> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT id FROM emails ORDER BY id",
    ))
    .await
    .expect("emails")
    .iter()
    .map(|r| r.try_get_by_index::<i64>(0).expect("id"))
    .collect()
}

/// Emails the contract says must be gone: their mailer was sent at or before the cutoff.
async fn old_left(db: &DatabaseConnection, cutoff: &str) -> i64 {
    scalar(
        db,
        &format!(
            "SELECT count(*) FROM emails e JOIN mailers m ON m.id = e.mailer_id \
             WHERE m.sent <= timestamptz '{cutoff}'"
        ),
    )
    .await
}

async fn purge(
    t: &TestDb,
    strategy: Strategy,
    retention_days: i64,
    now: DateTime<Utc>,
    batch: u64,
) -> RunReport {
    let job = PurgeEmails::new(retention_days, now, batch).expect("valid options");
    let opts = RunOptions {
        strategy,
        quiet: true,
        ..Default::default()
    };
    let report = run_job(&t.services(None), &job, &opts)
        .await
        .expect("not bad input");
    assert_eq!(report.status, RunStatus::Ok, "{report:?}");
    report
}

/// Mailers 1001..1005 long before, just before, exactly at, just after the
/// cutoff (2026-10-18T00:00Z with 14 days from NOW) and recent, 3 emails each,
/// plus 4 orphan emails (mailer 999999).
async fn boundary_data(db: &DatabaseConnection) {
    exec(
        db,
        "INSERT INTO mailers (id, subject, sent) OVERRIDING SYSTEM VALUE VALUES \
         (1001, 'long ago', '2026-09-01T00:00:00Z'), \
         (1002, 'just before', '2026-10-17T23:59:59.999999Z'), \
         (1003, 'exactly at', '2026-10-18T00:00:00Z'), \
         (1004, 'just after', '2026-10-18T00:00:00.000001Z'), \
         (1005, 'recent', '2026-10-31T12:00:00Z'); \
         INSERT INTO emails (mailer_id, recipient, body) \
         SELECT m, 'r' || n || '@example.com', 'body' FROM unnest(ARRAY[1001,1002,1003,1004,1005,999999]) m, generate_series(1, 3) n; \
         INSERT INTO emails (mailer_id, recipient, body) VALUES (999999, 'orphan@example.com', 'body')",
    )
    .await;
}

#[tokio::test]
async fn purge_deletes_emails_sent_at_or_before_the_cutoff_and_keeps_later_and_orphan_emails() {
    for strategy in [Strategy::Naive, Strategy::Optimized] {
        let t = TestDb::new().await;
        boundary_data(&t.db).await;
        let report = purge(&t, strategy, 14, now(), 10_000).await;
        assert_eq!(
            report.rows, 9,
            "{strategy}: mailers 1, 2, 3 with 3 emails each"
        );
        let left = |sql: &str| format!("SELECT count(*) FROM emails WHERE {sql}");
        assert_eq!(
            scalar(&t.db, &left("mailer_id IN (1001, 1002, 1003)")).await,
            0
        );
        assert_eq!(scalar(&t.db, &left("mailer_id IN (1004, 1005)")).await, 6);
        assert_eq!(scalar(&t.db, &left("mailer_id = 999999")).await, 4);
    }
}

#[tokio::test]
async fn zero_retention_purges_up_to_now_itself() {
    let t = TestDb::new().await;
    boundary_data(&t.db).await;
    let at = Utc.with_ymd_and_hms(2026, 10, 18, 0, 0, 0).unwrap();
    let report = purge(&t, Strategy::Optimized, 0, at, 10_000).await;
    assert_eq!(report.rows, 9);
    assert_eq!(old_left(&t.db, "2026-10-18T00:00:00Z").await, 0);
}

/// 60 days of mailers, 4 a day, 5 emails each, ending at NOW.
async fn daily_data(db: &DatabaseConnection, days: i64, per_mailer: i64) {
    exec(
        db,
        &format!(
            "INSERT INTO mailers (subject, sent) \
             SELECT 'm' || g, timestamptz '{NOW}' - g * interval '6 hours' FROM generate_series(1, {n}) g; \
             INSERT INTO emails (mailer_id, recipient, body) \
             SELECT m.id, 'r' || n, 'body' FROM mailers m, generate_series(1, {per_mailer}) n; \
             INSERT INTO emails (mailer_id, recipient, body) SELECT 0, 'orphan', 'body' FROM generate_series(1, 7)",
            n = days * 4
        ),
    )
    .await;
}

#[tokio::test]
async fn a_gap_of_several_weeks_between_runs_loses_nothing() {
    let t = TestDb::new().await;
    daily_data(&t.db, 60, 5).await;
    let day = chrono::Duration::days(1);
    let first = now() - day * 40;
    purge(&t, Strategy::Optimized, 14, first, 10_000).await;
    assert_eq!(old_left(&t.db, "2026-09-08T00:00:00Z").await, 0);
    // The job does not run for five weeks (the write-up's 3-day window would
    // have left 32 days of emails behind forever).
    let later = first + day * 35;
    let report = purge(&t, Strategy::Optimized, 14, later, 10_000).await;
    assert_eq!(report.rows, 35 * 4 * 5);
    assert_eq!(old_left(&t.db, "2026-10-13T00:00:00Z").await, 0);
    let kept = scalar(
        &t.db,
        "SELECT count(*) FROM emails e JOIN mailers m ON m.id = e.mailer_id WHERE m.sent > '2026-10-13T00:00:00Z'",
    )
    .await;
    assert_eq!(
        kept,
        75 * 5,
        "the mailers of the last 19 days are untouched"
    );
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM emails WHERE mailer_id = 0").await,
        7
    );
}

#[tokio::test]
async fn a_second_run_right_after_the_first_deletes_nothing_in_a_handful_of_statements() {
    let t = TestDb::new().await;
    daily_data(&t.db, 60, 5).await;
    let first = purge(&t, Strategy::Optimized, 14, now(), 10_000).await;
    // 46 days of 4 mailers, and the one exactly at the cutoff.
    assert_eq!(first.rows, (46 * 4 + 1) * 5);
    let second = purge(&t, Strategy::Optimized, 14, now(), 10_000).await;
    assert_eq!(second.rows, 0);
    assert!(second.db_statements <= 5, "{second:?}");
}

#[tokio::test]
async fn batch_size_one_gives_the_same_result_as_large_batches_and_the_naive_strategy() {
    let mut results = Vec::new();
    for (strategy, batch) in [
        (Strategy::Naive, 10_000),
        (Strategy::Optimized, 10_000),
        (Strategy::Optimized, 7),
        (Strategy::Optimized, 1),
    ] {
        let t = TestDb::new().await;
        daily_data(&t.db, 20, 3).await;
        boundary_data(&t.db).await;
        let report = purge(&t, strategy, 14, now(), batch).await;
        results.push((report.rows, remaining(&t.db).await));
    }
    assert!(results[0].0 > 0);
    for r in &results[1..] {
        assert_eq!(r, &results[0]);
    }
}

#[tokio::test]
async fn the_daily_run_costs_the_same_statements_when_the_table_grows_tenfold() {
    let mut statements = Vec::new();
    for days in [30, 300] {
        let t = TestDb::new().await;
        daily_data(&t.db, days, 5).await;
        // Yesterday's run purged up to the day before; today's purges one day.
        purge(&t, Strategy::Optimized, 15, now(), 10).await;
        let daily = purge(&t, Strategy::Optimized, 14, now(), 10).await;
        assert_eq!(daily.rows, 4 * 5);
        statements.push(daily.db_statements);
    }
    assert_eq!(statements[0], statements[1], "{statements:?}");
}

#[tokio::test]
async fn backdated_mailers_and_late_emails_behind_the_watermark_are_purged() {
    let t = TestDb::new().await;
    daily_data(&t.db, 60, 5).await;
    purge(&t, Strategy::Optimized, 14, now(), 10_000).await;
    // After the run: a mailer inserted with a sent long behind the watermark,
    // and a late email of a mailer whose emails were already purged.
    exec(
        &t.db,
        "INSERT INTO mailers (id, subject, sent) OVERRIDING SYSTEM VALUE \
         VALUES (5000, 'backdated', '2026-09-15T00:00:00Z'); \
         INSERT INTO emails (mailer_id, recipient, body) VALUES (5000, 'a', 'b'), (5000, 'c', 'd'); \
         INSERT INTO emails (mailer_id, recipient, body) \
         SELECT id, 'late', 'b' FROM mailers WHERE sent < '2026-10-01' ORDER BY id LIMIT 1; \
         INSERT INTO emails (mailer_id, recipient, body) VALUES (4999, 'orphan', 'b')",
    )
    .await;
    let report = purge(&t, Strategy::Optimized, 14, now(), 10_000).await;
    assert_eq!(report.rows, 3);
    assert_eq!(old_left(&t.db, "2026-10-18T00:00:00Z").await, 0);
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM emails WHERE mailer_id = 4999").await,
        1
    );
    // Recorded: the next run has nothing to catch up.
    let again = purge(&t, Strategy::Optimized, 14, now(), 10_000).await;
    assert_eq!(again.rows, 0);
    assert_eq!(again.details["late_mailers"], 0);
}

#[tokio::test]
async fn naive_cuts_an_id_list_longer_than_the_bind_limit_and_still_purges_everything() {
    let t = TestDb::new().await;
    exec(
        &t.db,
        "INSERT INTO mailers (subject, sent) \
         SELECT 'm', timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, 70000) g; \
         INSERT INTO emails (mailer_id, recipient, body) SELECT id, 'r', 'b' FROM mailers WHERE id % 1000 = 7 OR id > 69990",
    )
    .await;
    let report = purge(&t, Strategy::Naive, 14, now(), 10_000).await;
    assert_eq!(report.rows, 70 + 10);
    assert_eq!(report.db_statements, 3, "one select, two deletes");
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM emails").await, 0);
}

#[tokio::test]
async fn a_malformed_now_or_a_negative_retention_exits_2_and_writes_nothing() {
    let t = TestDb::new().await;
    boundary_data(&t.db).await;
    for args in [
        vec!["--now", "2026-13-01T00:00:00Z"],
        vec!["--now", "yesterday"],
        vec!["--now", "2026-11-01"],
        vec!["--retention-days", "-1"],
        vec!["--retention-days", "two"],
        vec!["--retention-days", "99999999999999"],
        vec!["--batch-size", "0"],
    ] {
        let mut full = vec!["run", "purge-emails"];
        full.extend(&args);
        let out = t.cli(None, &full);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}: no JSON line");
        assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    }
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM emails").await, 19);
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 0);
    let ok = t.cli(None, &["run", "purge-emails", "--now", NOW]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert_eq!(json_line(&ok)["rows"], 9);
}

/// Kills a real `sitejobs` process while it waits inside a batch: a row of the
/// third old mailer is locked by this test, so the job is stopped exactly
/// between "two mailers finished" and "the third finished". Nothing in the
/// production code knows about the test.
#[tokio::test]
async fn a_job_killed_between_batches_keeps_its_progress_and_the_watermark_never_passes_undeleted_rows(
) {
    let t = TestDb::new().await;
    exec(
        &t.db,
        "INSERT INTO mailers (id, subject, sent) OVERRIDING SYSTEM VALUE \
         SELECT g, 'm' || g, timestamptz '2026-10-01' + g * interval '1 hour' FROM generate_series(1, 5) g; \
         INSERT INTO mailers (id, subject, sent) OVERRIDING SYSTEM VALUE \
         VALUES (6, 'young', '2026-10-30'), (7, 'young', '2026-10-31'); \
         INSERT INTO emails (mailer_id, recipient, body) \
         SELECT m, 'r' || n, 'b' FROM generate_series(1, 7) m, generate_series(1, 3) n ORDER BY random(); \
         INSERT INTO emails (mailer_id, recipient, body) VALUES (99, 'orphan', 'b')",
    )
    .await;
    let locker = t.db.begin().await.expect("begin");
    locker
        .execute_unprepared(
            "SELECT id FROM emails WHERE mailer_id = 3 ORDER BY id DESC LIMIT 1 FOR UPDATE",
        )
        .await
        .expect("lock a row of mailer 3");
    let mut child = std::process::Command::new(tests::sitejobs_bin())
        .args(["run", "purge-emails", "--now", NOW, "--batch-size", "1"])
        .env("DATABASE_URL", &t.url)
        .env("SITEJOBS_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn sitejobs");
    let waiting = format!(
        "SELECT COALESCE(max(pid), 0)::bigint FROM pg_stat_activity \
         WHERE datname = '{}' AND wait_event_type = 'Lock'",
        t.name
    );
    let mut blocked = 0;
    for _ in 0..400 {
        blocked = scalar(&t.db, &waiting).await;
        if blocked != 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_ne!(blocked, 0, "the job never reached the locked row");
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    locker.rollback().await.expect("release the row");
    // The killed job's backend finds its client gone and rolls back.
    let gone = format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {blocked}");
    for _ in 0..400 {
        if scalar(&t.db, &gone).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let count = |m: i64| format!("SELECT count(*) FROM emails WHERE mailer_id = {m}");
    // Mailers 1 and 2 are done and the watermark says so, not one mailer further.
    assert_eq!(
        scalar(&t.db, "SELECT mailer_id FROM purge_watermarks").await,
        2
    );
    assert_eq!(scalar(&t.db, &count(1)).await, 0);
    assert_eq!(scalar(&t.db, &count(2)).await, 0);
    assert!(scalar(&t.db, &count(3)).await >= 1, "the locked row stays");
    for m in [4, 5, 6, 7] {
        assert_eq!(scalar(&t.db, &count(m)).await, 3, "mailer {m} untouched");
    }
    assert_eq!(scalar(&t.db, &count(99)).await, 1);
    // Nothing behind the watermark has emails left.
    let behind =
        "SELECT count(*) FROM emails e JOIN mailers m ON m.id = e.mailer_id, purge_watermarks w \
                  WHERE (m.sent, m.id) <= (w.sent, w.mailer_id)";
    assert_eq!(scalar(&t.db, behind).await, 0);
    // The next run goes on from there and finishes.
    let next = [
        "run",
        "purge-emails",
        "--now",
        NOW,
        "--batch-size",
        "1",
        "--wait",
    ];
    let out = t.cli(None, &next);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(old_left(&t.db, "2026-10-18T00:00:00Z").await, 0);
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM emails").await, 7);
    assert_eq!(
        scalar(&t.db, "SELECT mailer_id FROM purge_watermarks").await,
        5
    );
}

#[tokio::test]
async fn the_optimized_delete_uses_the_index_on_mailer_id_not_a_sequential_scan() {
    let t = TestDb::new().await;
    exec(
        &t.db,
        "INSERT INTO mailers (subject, sent) \
         SELECT 'm' || g, timestamptz '2026-11-01' - g * interval '1 hour' FROM generate_series(1, 2000) g; \
         INSERT INTO emails (mailer_id, recipient, body) \
         SELECT m, 'r' || n, 'a body of some length' FROM generate_series(1, 2000) m, generate_series(1, 100) n; \
         ANALYZE mailers; ANALYZE emails",
    )
    .await;
    // A slice of 1000 mailers holds half the table: the case where a plain
    // `LIMIT` makes a sequential scan look cheap.
    for (first, len, limit) in [
        (1000_i64, 1000_i64, 10_000_i64),
        (1500, 1, 1),
        (1, 50, 100_000),
    ] {
        let ids: Vec<i64> = (first..first + len).collect();
        let rows =
            t.db.query_all_raw(Statement::from_sql_and_values(
                t.db.get_database_backend(),
                format!("EXPLAIN {DELETE_BATCH_SQL}"),
                [ids.into(), limit.into()],
            ))
            .await
            .expect("explain");
        let plan: String = rows
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).expect("plan line") + "\n")
            .collect();
        assert!(
            plan.contains("Index Scan using idx_emails_mailer_id")
                || plan.contains("Bitmap Index Scan on idx_emails_mailer_id"),
            "{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
}

/// Runs every bench case of `scale` through the CLI with both strategies:
/// returns (label, strategy, rows, db_statements, duration_ms) per run.
async fn run_bench_cases(
    db: &DatabaseConnection,
    url: &str,
    scale: service::scale::Scale,
    repeats: usize,
    bin: &std::path::Path,
) -> Vec<(String, String, i64, i64, i64)> {
    let cases = service::jobs::purge_emails::bench::cases(db, scale)
        .await
        .expect("bench cases");
    let mut out = Vec::new();
    for case in &cases {
        for strategy in ["naive", "optimized"] {
            for _ in 0..repeats {
                for sql in &case.reset_sql {
                    exec(db, sql).await;
                }
                let (_, cutoff) = case
                    .args
                    .iter()
                    .zip(case.args.iter().skip(1))
                    .find(|(flag, _)| *flag == "--retention-days")
                    .expect("retention");
                let days: i64 = cutoff.parse().expect("days");
                let cutoff_sql =
                    format!("(timestamptz '2001-03-02T00:00:00Z' - interval '{days} days')");
                let due = scalar(
                    db,
                    &format!(
                        "SELECT count(*) FROM emails e JOIN mailers m ON m.id = e.mailer_id WHERE m.sent <= {cutoff_sql}"
                    ),
                )
                .await;
                let mut args: Vec<&str> = vec!["run"];
                args.extend(case.args.iter().map(String::as_str));
                args.extend(["--strategy", strategy]);
                let run = std::process::Command::new(bin)
                    .args(&args)
                    .env("DATABASE_URL", url)
                    .env("SITEJOBS_LOG", "warn")
                    .output()
                    .expect("run");
                assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
                let line = json_line(&run);
                assert_eq!(line["rows"], due, "{}: {strategy}", case.label);
                let left = scalar(
                    db,
                    &format!(
                        "SELECT count(*) FROM emails e JOIN mailers m ON m.id = e.mailer_id WHERE m.sent <= {cutoff_sql}"
                    ),
                )
                .await;
                assert_eq!(left, 0, "{}: {strategy}", case.label);
                let num = |k: &str| line[k].as_i64().expect("number");
                out.push((
                    case.label.clone(),
                    strategy.to_string(),
                    num("rows"),
                    num("db_statements"),
                    num("duration_ms"),
                ));
            }
        }
        for floor in &case.floors {
            if let service::bench::FloorKind::Sql(stmts) = &floor.kind {
                let txn = db.begin().await.expect("begin");
                for sql in stmts {
                    txn.execute_unprepared(sql).await.expect("floor");
                }
                txn.rollback().await.expect("rollback");
            }
        }
    }
    out
}

#[tokio::test]
async fn bench_cases_reset_their_data_and_both_strategies_delete_exactly_what_is_due() {
    let t = TestDb::new().await;
    let runs = run_bench_cases(
        &t.db,
        &t.url,
        service::scale::Scale::Tiny,
        2,
        &tests::sitejobs_bin(),
    )
    .await;
    assert_eq!(runs.len(), 2 * 2 * 2);
    // The daily case deletes one day's worth: 5 mailers of 100 emails.
    assert!(runs.iter().any(|r| r.0.starts_with("daily") && r.2 == 500));
    // Data is reused, not generated twice.
    let again = service::jobs::purge_emails::bench::cases(&t.db, service::scale::Scale::Tiny)
        .await
        .expect("cases");
    assert_eq!(again.len(), 2);
}

/// By hand, to measure: `PURGE_BENCH_URL=... PURGE_BENCH_SCALE=medium
/// SITEJOBS_BIN=target/release/sitejobs cargo test -p tests --test it
/// measure_purge_bench -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn measure_purge_bench() {
    let url = std::env::var("PURGE_BENCH_URL").expect("PURGE_BENCH_URL");
    let scale: service::scale::Scale = std::env::var("PURGE_BENCH_SCALE")
        .unwrap_or_else(|_| "medium".into())
        .parse()
        .expect("scale");
    let repeats = std::env::var("PURGE_BENCH_REPEATS")
        .map(|r| r.parse().expect("repeats"))
        .unwrap_or(3);
    let db = service::connect::connect_db(&url, 2)
        .await
        .expect("connect");
    for (label, strategy, rows, statements, ms) in
        run_bench_cases(&db, &url, scale, repeats, &tests::sitejobs_bin()).await
    {
        println!("{label} | {strategy} | rows {rows} | statements {statements} | {ms} ms");
    }
}
