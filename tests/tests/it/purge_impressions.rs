//! purge-impressions (CONTRACT §3): the impressions of aggregated days that
//! ended more than keep-days days ago go, in short batches; a day never
//! aggregated keeps all its impressions however old; nothing else is touched.
use chrono::{DateTime, Utc};
use service::jobs::purge_impressions::PurgeImpressions;
use service::{run_job, RunOptions, RunReport, RunStatus, Strategy};
use tests::{exec, scalar, stderr, TestDb};

const NOW: &str = "2026-11-21T03:00:00Z";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .expect("a valid instant")
        .to_utc()
}

/// `n` impressions spread over the UTC day `date`, of content `(1, object)`.
async fn impressions(t: &TestDb, date: &str, n: i64, object: i64) {
    exec(
        &t.db,
        &format!(
            "INSERT INTO impressions (content_type_id, object_id, created)
             SELECT 1, {object}, timestamptz '{date}T00:00:00Z' + g * interval '1 second' * 86399 / {n}
             FROM generate_series(0, {n} - 1) g"
        ),
    )
    .await;
}

/// Marks `date` aggregated, as daily-impressions would.
async fn aggregated(t: &TestDb, date: &str) {
    exec(
        &t.db,
        &format!(
            "INSERT INTO daily_impression_stats (date, content_type_id, object_id, total_impressions)
             VALUES ('{date}', 1, 1, 1)"
        ),
    )
    .await;
}

async fn left_on(t: &TestDb, date: &str) -> i64 {
    scalar(
        &t.db,
        &format!(
            "SELECT count(*) FROM impressions
             WHERE created >= timestamptz '{date}T00:00:00Z'
               AND created < timestamptz '{date}T00:00:00Z' + interval '1 day'"
        ),
    )
    .await
}

async fn purge(t: &TestDb, keep_days: i64, batch: u64, strategy: Strategy) -> RunReport {
    let job = PurgeImpressions::new(keep_days, now(), batch).expect("valid options");
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

#[tokio::test]
async fn a_day_never_aggregated_keeps_all_its_impressions_however_old() {
    for strategy in [Strategy::Naive, Strategy::Optimized] {
        let t = TestDb::new().await;
        impressions(&t, "2020-01-01", 50, 1).await;
        impressions(&t, "2020-01-02", 40, 1).await;
        aggregated(&t, "2020-01-02").await;
        let report = purge(&t, 90, 7, strategy).await;
        assert_eq!(
            left_on(&t, "2020-01-01").await,
            50,
            "{strategy}: never aggregated"
        );
        assert_eq!(
            left_on(&t, "2020-01-02").await,
            0,
            "{strategy}: aggregated and due"
        );
        assert_eq!(report.rows, 40);
    }
}

#[tokio::test]
async fn only_aggregated_days_that_ended_more_than_keep_days_ago_go() {
    for strategy in [Strategy::Naive, Strategy::Optimized] {
        let t = TestDb::new().await;
        // now = 2026-11-21T03:00Z, keep 10 days: cutoff 2026-11-11T03:00Z.
        // 11-09 ended 11-10T00:00 (due); 11-10 ended 11-11T00:00 (due: before 03:00);
        // 11-11 ends 11-12T00:00 (kept); 11-20 is recent (kept).
        for (date, n) in [
            ("2026-11-09", 30),
            ("2026-11-10", 20),
            ("2026-11-11", 10),
            ("2026-11-20", 5),
        ] {
            impressions(&t, date, n, 1).await;
            aggregated(&t, date).await;
        }
        impressions(&t, "2026-11-08", 15, 2).await; // never aggregated
        let stats_before = scalar(&t.db, "SELECT count(*) FROM daily_impression_stats").await;
        let report = purge(&t, 10, 1000, strategy).await;
        assert_eq!(report.rows, 50, "{strategy}");
        assert_eq!(left_on(&t, "2026-11-09").await, 0);
        assert_eq!(left_on(&t, "2026-11-10").await, 0);
        assert_eq!(
            left_on(&t, "2026-11-11").await,
            10,
            "{strategy}: ends after the cutoff"
        );
        assert_eq!(left_on(&t, "2026-11-20").await, 5);
        assert_eq!(left_on(&t, "2026-11-08").await, 15);
        assert_eq!(
            scalar(&t.db, "SELECT count(*) FROM daily_impression_stats").await,
            stats_before,
            "the stats stay"
        );
    }
}

#[tokio::test]
async fn after_weeks_of_downtime_one_run_purges_every_due_day_in_short_batches() {
    let t = TestDb::new().await;
    let days = 21;
    for d in 0..days {
        let date = format!("2026-01-{:02}", d + 1);
        impressions(&t, &date, 25, d).await;
        aggregated(&t, &date).await;
    }
    let report = purge(&t, 90, 10, Strategy::Optimized).await;
    assert_eq!(report.rows, 25 * days as u64);
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM impressions").await, 0);
    // The oldest impression, the walk over dates, then 3 batches per day (10 + 10 + 5):
    // each batch ends where the next begins, so no empty batch closes a day.
    assert_eq!(report.db_statements, 2 + 3 * days as u64, "{report:?}");
    let again = purge(&t, 90, 10, Strategy::Optimized).await;
    assert_eq!(again.rows, 0);
    assert_eq!(again.db_statements, 1, "nothing left: one probe and done");
}

#[tokio::test]
async fn statements_grow_with_what_is_deleted_not_with_the_table() {
    let t = TestDb::new().await;
    // A big recent day that is kept, and one small due day.
    impressions(&t, "2026-11-20", 5000, 1).await;
    aggregated(&t, "2026-11-20").await;
    impressions(&t, "2026-01-05", 30, 1).await;
    aggregated(&t, "2026-01-05").await;
    let report = purge(&t, 90, 100, Strategy::Optimized).await;
    assert_eq!(report.rows, 30);
    assert_eq!(report.db_statements, 3, "{report:?}");
}

#[tokio::test]
async fn a_negative_keep_days_is_bad_input_and_writes_nothing() {
    let t = TestDb::new().await;
    impressions(&t, "2020-01-01", 5, 1).await;
    aggregated(&t, "2020-01-01").await;
    let out = t.cli(None, &["run", "purge-impressions", "--keep-days", "-1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1);
    assert!(out.stdout.is_empty());
    assert_eq!(left_on(&t, "2020-01-01").await, 5);
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 0);
}

#[tokio::test]
async fn the_command_prints_its_line_with_the_days_it_purged() {
    let t = TestDb::new().await;
    impressions(&t, "2020-01-01", 5, 1).await;
    aggregated(&t, "2020-01-01").await;
    let out = t.cli(None, &["run", "purge-impressions", "--now", NOW]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = tests::json_line(&out);
    assert_eq!(line["job"], "purge-impressions");
    assert_eq!(line["rows"], 5);
    assert_eq!(line["params"]["keep_days"], 90);
    assert_eq!(line["details"]["days"][0], "2020-01-01");
}

#[tokio::test]
async fn bench_case_floor_deletes_what_the_job_deletes() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let t = TestDb::new().await;
    let cases = service::jobs::purge_impressions::bench::cases(&t.db, service::scale::Scale::Tiny)
        .await
        .expect("cases");
    let case = &cases[0];
    for sql in &case.reset_sql {
        exec(&t.db, sql).await;
    }
    let txn = t.db.begin().await.expect("begin");
    let floor = txn
        .execute_unprepared(&service::jobs::purge_impressions::bench::floor_sql())
        .await
        .expect("floor")
        .rows_affected();
    txn.rollback().await.expect("rollback");
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let out = t.cli(None, &[&["run"][..], &args].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(tests::json_line(&out)["rows"], floor);
    assert_eq!(floor, 15 * 1_000);
}

#[tokio::test]
async fn more_impressions_at_one_instant_than_a_batch_all_go() {
    let t = TestDb::new().await;
    exec(
        &t.db,
        "INSERT INTO impressions (content_type_id, object_id, created)
         SELECT 1, g, timestamptz '2020-03-03T10:00:00Z' FROM generate_series(1, 30) g",
    )
    .await;
    impressions(&t, "2020-03-03", 7, 1).await;
    aggregated(&t, "2020-03-03").await;
    let report = purge(&t, 90, 10, Strategy::Optimized).await;
    assert_eq!(report.rows, 37);
    assert_eq!(left_on(&t, "2020-03-03").await, 0);
}
