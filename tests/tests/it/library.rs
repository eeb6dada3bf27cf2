//! The library as a developer calls it: `service/examples/run_job.rs`, built by
//! `cargo test`, runs `purge-emails` from its own Rust code against a test
//! database; its output and exit code show each way a run can end.
use std::path::PathBuf;
use std::process::{Command, Output};

use service::runner::lock;
use tests::{exec, json_line, scalar, stderr, stdout, TestDb};

/// The example binary. `cargo test` builds a workspace's examples into
/// `target/<profile>/examples/`, beside the `deps/` directory that holds this
/// test binary (`cargo test -p tests` alone does not: build it first).
fn run_job_example() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary in target/<profile>/deps");
    let bin = profile_dir.join("examples/run_job");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p service --example run_job` first \
         (`cargo test --workspace`, as scripts/test.sh runs it, builds it)",
        bin.display()
    );
    bin
}

fn run_example(t: &TestDb, args: &[&str]) -> Output {
    Command::new(run_job_example())
        .args(args)
        .env("DATABASE_URL", &t.url)
        .env_remove("REDIS_URL")
        .output()
        .expect("run the example")
}

/// Two mailers around the 14-day cutoff, three emails each side, and one
/// email whose mailer does not exist (it stays, whatever its age).
async fn mail(t: &TestDb) {
    exec(
        &t.db,
        "INSERT INTO mailers (id, subject, sent) VALUES \
           (1, 'old', now() - interval '30 days'), \
           (2, 'new', now() - interval '1 day'); \
         INSERT INTO emails (mailer_id, recipient, body) VALUES \
           (1, 'a@example.com', 'x'), (1, 'b@example.com', 'x'), (1, 'c@example.com', 'x'), \
           (2, 'a@example.com', 'y'), (2, 'b@example.com', 'y'), (2, 'c@example.com', 'y'), \
           (99, 'orphan@example.com', 'z')",
    )
    .await;
}

#[tokio::test]
async fn example_runs_a_job_and_prints_its_report() {
    let t = TestDb::new().await;
    mail(&t).await;

    let out = run_example(&t, &["14"]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let report = json_line(&out);
    assert_eq!(report["job"], "purge-emails");
    assert_eq!(report["status"], "ok");
    assert_eq!(report["rows"], 3);
    assert_eq!(report["params"]["retention_days"], 14);
    assert!(
        stderr(&out).contains("purge-emails deleted 3 emails"),
        "stderr: {}",
        stderr(&out)
    );
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM emails WHERE mailer_id = 1").await,
        0
    );
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM emails").await, 4);
    let run_id = report["run_id"].as_i64().expect("run_id");
    assert_eq!(
        scalar(
            &t.db,
            &format!(
                "SELECT count(*) FROM job_runs WHERE id = {run_id} AND status = 'ok' AND rows = 3"
            )
        )
        .await,
        1
    );
}

#[tokio::test]
async fn example_matches_bad_input_and_writes_nothing() {
    let t = TestDb::new().await;
    mail(&t).await;

    let out = run_example(&t, &["-1"]);

    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "", "a rejected run prints no JSON line");
    assert_eq!(
        stderr(&out).trim(),
        "bad input: retention must be 0 days or more, got -1"
    );
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM emails").await, 7);
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 0);
}

#[tokio::test]
async fn example_reads_a_locked_run_from_its_status() {
    let t = TestDb::new().await;
    mail(&t).await;
    let held = lock::acquire(&t.db, "purge-emails", false)
        .await
        .expect("lock query")
        .expect("lock free");

    let out = run_example(&t, &["14"]);
    held.release().await;

    assert_eq!(out.status.code(), Some(75), "stderr: {}", stderr(&out));
    assert_eq!(json_line(&out)["status"], "locked");
    assert!(
        stderr(&out).contains("running elsewhere (lock 'purge-emails')"),
        "stderr: {}",
        stderr(&out)
    );
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM emails").await, 7);
}

#[tokio::test]
async fn example_gets_the_typed_database_error_with_its_source() {
    let t = TestDb::new().await;
    mail(&t).await;
    // Sabotage: the job's table is gone, so its first query fails in the database.
    exec(&t.db, "ALTER TABLE emails RENAME TO emails_gone").await;

    let out = run_example(&t, &["14"]);

    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let report = json_line(&out);
    assert_eq!(report["status"], "error");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("relation \"emails\" does not exist")),
        "error: {}",
        report["error"]
    );
    let err = stderr(&out);
    assert!(
        err.contains("purge-emails failed (database)"),
        "stderr: {err}"
    );
    assert!(
        err.contains("caused by: ") && err.contains("does not exist"),
        "the typed error keeps its source: {err}"
    );
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM emails_gone").await, 7);
}

#[tokio::test]
async fn example_names_an_unreachable_database_in_one_line() {
    // Nothing listens on port 1: the connect error is an `Err`, not a report.
    let out = Command::new(run_job_example())
        .env(
            "DATABASE_URL",
            "postgres://sitejobs:hunter2@127.0.0.1:1/sitejobs",
        )
        .output()
        .expect("run the example");

    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "", "no run, no JSON line");
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("cannot run: cannot connect to PostgreSQL at "),
        "stderr: {err}"
    );
    assert!(!err.contains("hunter2"), "password shown: {err}");
}
