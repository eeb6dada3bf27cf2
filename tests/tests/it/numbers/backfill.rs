//! The backfill job: only null ranges, resumable, counted statements.
use service::jobs::backfill_number_ranges::BackfillNumberRanges;
use service::{run_job, RunOptions, RunReport, RunStatus, Strategy};
use tests::{json_line, stderr, TestDb};

use super::{exec, insert_unranged, scalar, wrong_ranges};

async fn backfill(
    t: &TestDb,
    strategy: Strategy,
    batch_size: u64,
    max_batches: Option<u64>,
) -> RunReport {
    let job = BackfillNumberRanges {
        batch_size,
        max_batches,
    };
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

async fn nulls(t: &TestDb) -> i64 {
    scalar(
        &t.db,
        "SELECT count(*) FROM my_numbers WHERE number_range IS NULL",
    )
    .await
}

#[tokio::test]
async fn backfill_resumes_after_an_interruption_with_both_strategies() {
    for strategy in [Strategy::Naive, Strategy::Optimized] {
        let t = TestDb::new().await;
        insert_unranged(&t.db, 1050).await;
        // Interrupted: two batches of 100, then the run stops.
        let first = backfill(&t, strategy, 100, Some(2)).await;
        assert_eq!(first.rows, 200, "{strategy}");
        assert_eq!(first.details["complete"], false);
        assert_eq!(nulls(&t).await, 850);
        // Only the first 200 ids were touched.
        assert_eq!(
            scalar(
                &t.db,
                "SELECT max(id) FROM my_numbers WHERE number_range IS NOT NULL"
            )
            .await,
            200
        );
        // The next run continues and finishes.
        let second = backfill(&t, strategy, 100, None).await;
        assert_eq!(second.rows, 850, "{strategy}");
        assert_eq!(second.details["complete"], true);
        assert_eq!(second.details["batches"], 9);
        assert_eq!(wrong_ranges(&t.db).await, 0);
        // Nothing left: a third run writes nothing.
        assert_eq!(backfill(&t, strategy, 100, None).await.rows, 0);
    }
}

#[tokio::test]
async fn optimized_backfill_sends_one_statement_per_batch_naive_one_per_row() {
    let t = TestDb::new().await;
    insert_unranged(&t.db, 1000).await;
    // A count for the progress bar, one UPDATE per batch, one empty batch that ends it.
    let optimized = backfill(&t, Strategy::Optimized, 250, None).await;
    assert_eq!((optimized.rows, optimized.db_statements), (1000, 1 + 4 + 1));
    exec(
        &t.db,
        "ALTER TABLE my_numbers DISABLE TRIGGER my_numbers_sync_number_range",
    )
    .await;
    exec(&t.db, "UPDATE my_numbers SET number_range = NULL").await;
    exec(
        &t.db,
        "ALTER TABLE my_numbers ENABLE TRIGGER my_numbers_sync_number_range",
    )
    .await;
    // A count, a SELECT per page, an UPDATE per row, the empty page that ends it.
    let naive = backfill(&t, Strategy::Naive, 250, None).await;
    assert_eq!((naive.rows, naive.db_statements), (1000, 1 + 4 + 1000 + 1));
    assert_eq!(wrong_ranges(&t.db).await, 0);
}

#[tokio::test]
async fn backfill_touches_only_rows_whose_range_is_null() {
    let t = TestDb::new().await;
    insert_unranged(&t.db, 300).await;
    // Some rows were filled already (by the trigger on a later write): the backfill leaves them be.
    exec(
        &t.db,
        "UPDATE my_numbers SET number_end = number_end WHERE id % 3 = 0",
    )
    .await;
    // The writing transaction of each row: unchanged unless the row is rewritten.
    let xmins = "SELECT sum(xmin::text::bigint)::bigint FROM my_numbers WHERE id % 3 = 0";
    let before = scalar(&t.db, xmins).await;
    let report = backfill(&t, Strategy::Optimized, 64, None).await;
    assert_eq!(report.rows, 200);
    assert_eq!(
        scalar(&t.db, xmins).await,
        before,
        "filled rows were rewritten"
    );
    assert_eq!(wrong_ranges(&t.db).await, 0);
}

#[tokio::test]
async fn backfill_command_prints_its_json_line_and_rejects_unrepresentable_rows() {
    let t = TestDb::new().await;
    insert_unranged(&t.db, 120).await;
    let out = t.cli(
        None,
        &["run", "backfill-number-ranges", "--batch-size", "50"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = json_line(&out);
    assert_eq!(line["job"], "backfill-number-ranges");
    assert_eq!(line["strategy"], "optimized");
    assert_eq!(line["rows"], 120);
    assert_eq!(line["db_statements"], 1 + 3 + 1);
    // A row written before the trigger with number_end = 2147483647 has no inclusive int4range.
    exec(
        &t.db,
        "ALTER TABLE my_numbers DISABLE TRIGGER my_numbers_sync_number_range",
    )
    .await;
    exec(
        &t.db,
        "INSERT INTO my_numbers (id, number_start, number_end) VALUES (9000, 1, 2147483647)",
    )
    .await;
    exec(
        &t.db,
        "INSERT INTO my_numbers (number_start, number_end) VALUES (1, 2)",
    )
    .await;
    exec(
        &t.db,
        "ALTER TABLE my_numbers ENABLE TRIGGER my_numbers_sync_number_range",
    )
    .await;
    let out = t.cli(
        None,
        &["run", "backfill-number-ranges", "--strategy", "naive"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("9000"), "{}", stderr(&out));
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM my_numbers WHERE number_range IS NULL"
        )
        .await,
        2
    );
    let out = t.cli(
        None,
        &["run", "backfill-number-ranges", "--batch-size", "0"],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn batch_size_comes_from_sitejobs_toml_unless_the_flag_says_otherwise() {
    let t = TestDb::new().await;
    insert_unranged(&t.db, 100).await;
    let dir = std::env::temp_dir().join(&t.name);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("sitejobs.toml"),
        "[backfill-number-ranges]\nbatch_size = 30\n",
    )
    .expect("write sitejobs.toml");
    let run = |args: &[&str]| {
        std::process::Command::new(tests::sitejobs_bin())
            .args(args)
            .env("DATABASE_URL", &t.url)
            .env("SITEJOBS_LOG", "warn")
            .current_dir(&dir)
            .output()
            .expect("run")
    };
    let out = run(&["run", "backfill-number-ranges", "--max-batches", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_line(&out)["rows"], 30);
    let out = run(&[
        "run",
        "backfill-number-ranges",
        "--batch-size",
        "50",
        "--max-batches",
        "1",
    ]);
    assert_eq!(json_line(&out)["rows"], 50);
    std::fs::write(
        dir.join("sitejobs.toml"),
        "[backfill-number-ranges]\nbatch_size = 0\n",
    )
    .expect("write sitejobs.toml");
    assert_eq!(
        run(&["run", "backfill-number-ranges"]).status.code(),
        Some(2)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
