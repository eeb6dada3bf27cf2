//! `sitejobs bench` runs cases in child processes and writes the table it prints.
use tests::{stderr, stdout, TestDb};

#[tokio::test]
async fn bench_runs_each_strategy_in_a_child_and_writes_markdown_and_json() {
    let t = TestDb::new().await;
    let (table, md, json) = bench_tiny(&t, &["--jobs", "noop"], "bench-tiny");
    assert!(
        table.contains("| noop | one statement | naive | 0 |"),
        "{table}"
    );
    assert!(
        table.contains("| noop | one statement | optimized | 0 |"),
        "{table}"
    );
    let rows = json["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r["db_statements"] == 1 && r["peak_rss_mb"].as_f64().unwrap_or(0.0) > 1.0));
    assert!(md.contains("| noop |"));
    // The test's server runs on this machine: the header says how it maps
    // its shared memory, which a run of a few milliseconds depends on.
    let machine = json["machine"].as_str().unwrap_or_default();
    assert!(
        [
            "shared memory in huge pages;",
            "shared memory in 4 kB pages;"
        ]
        .iter()
        .any(|kind| machine.contains(kind)),
        "{machine}"
    );
}

#[tokio::test]
async fn bench_rejects_an_unknown_job() {
    let t = TestDb::new().await;
    let out = t.cli(None, &["bench", "--jobs", "nope", "--database", &t.name]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_trip_through_the_delay_proxy_takes_at_least_the_rtt_and_bytes_arrive_intact() {
    use service::bench::proxy::DelayProxy;
    use service::bench::proxy_check::{bulk_mib_s, echo_server, round_trip_ms};
    let (echo, _server) = echo_server().await.expect("echo server");
    for rtt_ms in [1.0, 4.0] {
        let one_way = std::time::Duration::from_secs_f64(rtt_ms / 2000.0);
        let proxy = DelayProxy::start(echo, one_way).await.expect("proxy");
        // The median of 21 round trips; every one is held twice, so none can be faster.
        let median = round_trip_ms(proxy.local_addr(), 21)
            .await
            .expect("round trips");
        assert!(median >= rtt_ms, "{rtt_ms} ms RTT measured {median:.3} ms");
        let (_, intact) = bulk_mib_s(proxy.local_addr(), 8).await.expect("bulk");
        assert!(intact, "8 MiB through the proxy came back altered");
    }
}

#[tokio::test]
async fn bench_rtt_runs_the_jobs_through_the_proxy_and_reports_its_check() {
    let t = TestDb::new().await;
    let (_, _, json) = bench_tiny(
        &t,
        &["--jobs", "noop", "--rtt-ms", "2"],
        "bench-tiny-rtt2ms",
    );
    assert_eq!(json["rtt_ms"], 2.0);
    assert!(
        json["proxy_check"]["rtt_proxied_ms"]
            .as_f64()
            .unwrap_or(0.0)
            >= 2.0,
        "{json}"
    );
    // noop sends a statement or two: through a 2 ms RTT it cannot finish in under 2 ms.
    let naive = &json["rows"][0];
    assert!(naive["wall_ms"].as_f64().unwrap_or(0.0) >= 2.0, "{naive}");
    for bad in ["-1", "abc", "5000"] {
        let out = t.cli(None, &["bench", "--jobs", "noop", "--rtt-ms", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
}

/// An `--incremental` case's note gives its share of the full case before
/// it, the number its goal is about.
#[tokio::test]
async fn an_incremental_case_says_its_share_of_the_full_run_above() {
    let t = TestDb::new().await;
    let (_, _, json) = bench_tiny(
        &t,
        &[
            "--jobs",
            "denormalize-profiles",
            "--strategies",
            "optimized",
        ],
        "bench-tiny",
    );
    let rows: Vec<_> = json["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["strategy"] == "optimized")
        .collect();
    let mut shares = 0;
    for pair in rows.windows(2) {
        let (full, inc) = (pair[0], pair[1]);
        if !inc["case"].as_str().unwrap_or("").contains("--incremental") {
            assert_eq!(inc["note"], "", "{inc}");
            continue;
        }
        let share =
            100.0 * inc["wall_ms"].as_f64().expect("ms") / full["wall_ms"].as_f64().expect("ms");
        assert_eq!(
            inc["note"],
            format!("{share:.2}% of the full run above"),
            "{full} {inc}"
        );
        shares += 1;
    }
    assert!(shares >= 1, "{json}");
}

/// Runs `sitejobs bench --scale tiny --repeat 1` on the test's database with
/// `args` after those, checks that it exits 0, and returns what it printed,
/// then the Markdown and the JSON it wrote as `<file>.md` and `<file>.json`.
fn bench_tiny(t: &TestDb, args: &[&str], file: &str) -> (String, String, serde_json::Value) {
    let out_dir = std::env::temp_dir().join(format!("sitejobs-bench-{file}-{}", t.name));
    let dir = out_dir.to_str().expect("utf-8 path");
    let mut all = vec![
        "bench",
        "--scale",
        "tiny",
        "--repeat",
        "1",
        "--database",
        &t.name,
        "--out",
        dir,
    ];
    all.extend_from_slice(args);
    let out = t.cli(None, &all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let read = |ext: &str| {
        std::fs::read_to_string(out_dir.join(format!("{file}.{ext}")))
            .expect("bench output written")
    };
    let (md, json) = (read("md"), read("json"));
    let _ = std::fs::remove_dir_all(&out_dir);
    (
        stdout(&out),
        md,
        serde_json::from_str(&json).expect("valid json"),
    )
}
