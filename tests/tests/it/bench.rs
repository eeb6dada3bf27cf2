//! `sitejobs bench` runs cases in child processes and writes the table it prints.
use tests::{stderr, stdout, TestDb};

#[tokio::test]
async fn bench_runs_each_strategy_in_a_child_and_writes_markdown_and_json() {
    let t = TestDb::new().await;
    let out_dir = std::env::temp_dir().join(format!("sitejobs-bench-{}", t.name));
    let out = t.cli(
        None,
        &[
            "bench",
            "--scale",
            "tiny",
            "--jobs",
            "noop",
            "--repeat",
            "1",
            "--database",
            &t.name,
            "--out",
            out_dir.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("| noop | one statement | naive | 0 |"),
        "{table}"
    );
    assert!(
        table.contains("| noop | one statement | optimized | 0 |"),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("bench-tiny.json")).expect("json written"),
    )
    .expect("valid json");
    let rows = json["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r["db_statements"] == 1 && r["peak_rss_mb"].as_f64().unwrap_or(0.0) > 1.0));
    assert!(std::fs::read_to_string(out_dir.join("bench-tiny.md"))
        .expect("md")
        .contains("| noop |"));
    let _ = std::fs::remove_dir_all(out_dir);
}

#[tokio::test]
async fn bench_rejects_an_unknown_job() {
    let t = TestDb::new().await;
    let out = t.cli(None, &["bench", "--jobs", "nope", "--database", &t.name]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
}
