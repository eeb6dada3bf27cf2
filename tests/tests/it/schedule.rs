//! `sitejobs schedule`: the file check, one run per tick across schedulers,
//! the per-community fan-out, failures, and shutdown on SIGTERM; and
//! `sitejobs run` stopping on a signal with its changes rolled back.
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sea_orm::{ConnectionTrait, TransactionTrait};
use service::{run_job_until, Job, JobContext, JobError, JobOutput, RunOptions, RunStatus};
use tests::{json_line, stderr, stdout, TestDb};
use tests::{scalar, wait_for_count};

/// A schedule file of this test's own, removed at the end.
struct Config(std::path::PathBuf);

impl Config {
    fn new(t: &TestDb, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.toml", t.name));
        std::fs::write(&path, text).expect("write the schedule file");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The seconds field of a cron that fires once, six seconds from now (time for two schedulers to start on a busy machine).
fn soon() -> String {
    use chrono::Timelike;
    (chrono::Utc::now() + chrono::Duration::seconds(6))
        .second()
        .to_string()
}

/// The pids of `pid`'s child processes (its threads' children, from /proc).
fn children_of(pid: u32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

fn scheduler(t: &TestDb, path: &str, extra: &[&str]) -> Child {
    Command::new(tests::sitejobs_bin())
        .args(["schedule", "--config", path])
        .args(extra)
        .env("DATABASE_URL", &t.url)
        .env("SITEJOBS_LOG", "info")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a scheduler")
}

fn terminate(child: &Child) {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("send SIGTERM");
}

/// Waits for the process to exit; kills it and fails after `limit`.
fn finish(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("poll").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("still running after {limit:?}; stderr: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// Starts two schedulers on `path`, waits until `ok_runs` runs succeeded,
/// stops both with SIGTERM, and checks both exited 0.
async fn two_schedulers_until_ok_runs(t: &TestDb, path: &str, ok_runs: i64) -> (Output, Output) {
    let a = scheduler(t, path, &[]);
    let b = scheduler(t, path, &[]);
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE status = 'ok'",
        ok_runs,
    )
    .await;
    terminate(&a);
    terminate(&b);
    let (a, b) = (
        finish(a, Duration::from_secs(20)),
        finish(b, Duration::from_secs(20)),
    );
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(b.status.code(), Some(0), "{}", stderr(&b));
    (a, b)
}

/// The JSON lines a scheduler printed: one per run its children did.
fn runs_printed(out: &Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[tokio::test]
async fn check_prints_the_next_run_of_every_job_and_runs_nothing() {
    let t = TestDb::new().await;
    let path = Config::new(
        &t,
        r#"
[[job]]
name = "noop"
cron = "0 30 3 * * *"
args = ["--sleep-ms", "14"]

[[job]]
name = "noop"
cron = "*/5 * * * *"   # crontab's five fields work too
args = ["--all"]
"#,
    );
    let out = t.cli(None, &["schedule", "--check", "--config", path.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let next = lines[0].split_whitespace().next().expect("a time");
    let next = chrono::DateTime::parse_from_rfc3339(next).expect("an RFC 3339 time");
    assert_eq!(next.format("%H:%M:%S").to_string(), "03:30:00");
    assert!(lines[0].contains("noop --sleep-ms 14"), "{text}");
    assert!(lines[1].contains("one run per community"), "{text}");
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 0);
}

#[tokio::test]
async fn malformed_cron_is_one_line_naming_the_job_and_exit_2() {
    let t = TestDb::new().await;
    let path = Config::new(
        &t,
        "[[job]]\nname = \"noop\"\ncron = \"30 3 * * *\"\n\n[[job]]\nname = \"noop\"\ncron = \"0 61 * * * *\"\n",
    );
    let out = t.cli(None, &["schedule", "--check", "--config", path.path()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("job 'noop'") && err.contains("0 61 * * * *"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

#[tokio::test]
async fn unknown_jobs_bad_args_and_bad_toml_are_exit_2_before_anything_runs() {
    let t = TestDb::new().await;
    let cases = [
        (
            "[[job]]\nname = \"no-such-job\"\ncron = \"* * * * *\"\n",
            "unknown job 'no-such-job'",
        ),
        (
            "[[job]]\nname = \"noop\"\ncron = \"* * * * *\"\nargs = [\"--sleep\"]\n",
            "--sleep",
        ),
        ("[[job]]\nname = \"noop\"\ncrom = \"* * * * *\"\n", "crom"),
        ("[[job]]\nname = \"noop\ncron = \"* * * * *\"\n", "line 2"),
        ("[noop]\nsleep = 1\n", "no [[job]] entries"),
    ];
    for (text, needle) in cases {
        let path = Config::new(&t, text);
        // Without --check too: a bad file never starts a scheduler.
        let out = t.cli(None, &["schedule", "--config", path.path()]);
        assert_eq!(out.status.code(), Some(2), "{text}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{needle} not in {err}");
    }
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 0);
}

#[tokio::test]
async fn two_schedulers_run_each_tick_once_and_never_overlap() {
    let t = TestDb::new().await;
    // Runs outlast the one-second period: the lock must keep them apart.
    let path = Config::new(
        &t,
        "[[job]]\nname = \"noop\"\ncron = \"* * * * * *\"\nargs = [\"--sleep-ms\", \"1200\"]\n",
    );
    let (a, b) = two_schedulers_until_ok_runs(&t, path.path(), 3).await;

    // Every row is a claimed tick, each claimed once: no run without a tick, no tick twice.
    let dupes = "SELECT count(*) FROM job_runs WHERE tick IS NULL OR tick IN \
                 (SELECT tick FROM job_runs GROUP BY tick HAVING count(*) > 1)";
    assert_eq!(scalar(&t.db, dupes).await, 0);
    // Nobody printed a run of a tick the other printed.
    let mut ticks: Vec<String> = runs_printed(&a)
        .into_iter()
        .chain(runs_printed(&b))
        .map(|r| r["tick"].as_str().expect("tick").to_owned())
        .collect();
    let printed = ticks.len();
    ticks.sort();
    ticks.dedup();
    assert_eq!(ticks.len(), printed);
    // Runs that did the work never overlap in time.
    let overlaps = "SELECT count(*) FROM job_runs x JOIN job_runs y ON x.id < y.id \
                    WHERE x.status = 'ok' AND y.status = 'ok' \
                    AND tstzrange(x.started_at, x.finished_at) && tstzrange(y.started_at, y.finished_at)";
    assert_eq!(scalar(&t.db, overlaps).await, 0);
    // A tick that came while the job still ran is recorded once, as locked.
    let statuses = "SELECT count(*) FROM job_runs WHERE status NOT IN ('ok', 'locked')";
    assert_eq!(scalar(&t.db, statuses).await, 0);
}

#[tokio::test]
async fn two_schedulers_split_the_communities_of_an_all_run() {
    let t = TestDb::new().await;
    t.db.execute_unprepared(
        "INSERT INTO communities (name) SELECT 'c' || g FROM generate_series(1, 8) g",
    )
    .await
    .expect("communities");
    let path = Config::new(
        &t,
        &format!(
            "[[job]]\nname = \"noop\"\ncron = \"{} * * * * *\"\nargs = [\"--all\", \"--sleep-ms\", \"400\"]\n",
            soon()
        ),
    );
    let (a, b) = two_schedulers_until_ok_runs(&t, path.path(), 8).await;

    let per_community =
        "SELECT count(DISTINCT params->>'community') FROM job_runs WHERE status = 'ok'";
    assert_eq!(scalar(&t.db, per_community).await, 8);
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM job_runs").await,
        8,
        "each community once"
    );
    let locks = "SELECT count(DISTINCT lock_key) FROM job_runs WHERE lock_key LIKE 'noop:%'";
    assert_eq!(scalar(&t.db, locks).await, 8);
    let (ran_a, ran_b) = (runs_printed(&a).len(), runs_printed(&b).len());
    assert_eq!(ran_a + ran_b, 8);
    assert!(
        ran_a > 0 && ran_b > 0,
        "both schedulers took communities: {ran_a} + {ran_b}"
    );
}

#[tokio::test]
async fn a_failing_job_is_recorded_and_the_next_tick_runs_it_again() {
    let t = TestDb::new().await;
    let path = Config::new(
        &t,
        "[[job]]\nname = \"noop\"\ncron = \"* * * * * *\"\nargs = [\"--fail\"]\n",
    );
    let s = scheduler(&t, path.path(), &[]);
    let failed = "SELECT count(*) FROM job_runs WHERE status = 'error' AND error LIKE '%as asked%'";
    wait_for_count(&t.db, failed, 2).await;
    terminate(&s);
    let out = finish(s, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = runs_printed(&out);
    assert!(printed.len() >= 2 && printed.iter().all(|r| r["status"] == "error"));
    assert!(
        stderr(&out).contains("run finished"),
        "one log line per run end"
    );
}

#[tokio::test]
async fn sigterm_lets_the_running_job_finish_within_the_grace_period() {
    let t = TestDb::new().await;
    let path = Config::new(
        &t,
        "[[job]]\nname = \"noop\"\ncron = \"* * * * * *\"\nargs = [\"--sleep-ms\", \"1500\"]\n",
    );
    let s = scheduler(&t, path.path(), &["--grace-seconds", "30"]);
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE status = 'running'",
        1,
    )
    .await;
    terminate(&s);
    let out = finish(s, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The run finished normally, and nothing new started after the signal.
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM job_runs WHERE status = 'ok'").await,
        1
    );
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 1);
}

#[tokio::test]
async fn sigterm_rolls_back_a_job_that_outlasts_the_grace_period_and_exits_0() {
    let t = TestDb::new().await;
    let path = Config::new(
        &t,
        "[[job]]\nname = \"noop\"\ncron = \"* * * * * *\"\nargs = [\"--sleep-ms\", \"600000\"]\n",
    );
    let s = scheduler(&t, path.path(), &["--grace-seconds", "1"]);
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE status = 'running'",
        1,
    )
    .await;
    terminate(&s);
    // Grace (1 s) plus the child's own rollback: far below the ten minutes it would sleep.
    let out = finish(s, Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let interrupted = "SELECT count(*) FROM job_runs WHERE status = 'error' \
                       AND error LIKE 'interrupted by SIGTERM%' AND finished_at IS NOT NULL";
    assert_eq!(scalar(&t.db, interrupted).await, 1);
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 1);
}

#[tokio::test]
async fn unreachable_database_is_retried_not_a_crash() {
    let t = TestDb::new().await;
    let path = Config::new(&t, "[[job]]\nname = \"noop\"\ncron = \"* * * * * *\"\n");
    let s = Command::new(tests::sitejobs_bin())
        .args(["schedule", "--config", path.path()])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("SITEJOBS_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a scheduler");
    std::thread::sleep(Duration::from_millis(2500));
    terminate(&s);
    let out = finish(s, Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.matches("database unreachable; retrying").count() >= 2,
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Writes one community in a transaction, then waits far longer than any test.
struct WriteThenHang;

impl Job for WriteThenHang {
    fn name(&self) -> &'static str {
        "test-hang"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let txn = ctx.db().begin().await?;
        txn.execute_unprepared("INSERT INTO communities (name) VALUES ('half-done')")
            .await?;
        tokio::time::sleep(Duration::from_secs(600)).await;
        txn.commit().await?;
        Ok(JobOutput::rows(1))
    }
}

#[tokio::test]
async fn a_cancelled_run_rolls_back_and_is_recorded_as_interrupted() {
    let t = TestDb::new().await;
    let db = t.db.clone();
    // Cancel once the job's uncommitted row is there: the job is mid-transaction.
    let cancel = async move {
        while scalar(
            &db,
            "SELECT count(*) FROM job_runs WHERE status = 'running'",
        )
        .await
            == 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        "SIGTERM".to_owned()
    };
    let report = run_job_until(
        &t.services(None),
        &WriteThenHang,
        &RunOptions::default(),
        cancel,
    )
    .await
    .expect("not bad input");
    assert_eq!(report.status, RunStatus::Error);
    assert_eq!(report.exit_code(), 1);
    assert!(report
        .error
        .as_deref()
        .unwrap_or("")
        .starts_with("interrupted by SIGTERM"));
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM communities").await, 0);
    let recorded =
        "SELECT count(*) FROM job_runs WHERE status = 'error' AND error LIKE 'interrupted%'";
    assert_eq!(scalar(&t.db, recorded).await, 1);
}

#[tokio::test]
async fn run_on_sigterm_prints_its_line_records_it_and_exits_1() {
    let t = TestDb::new().await;
    let child = Command::new(tests::sitejobs_bin())
        .args(["run", "noop", "--sleep-ms", "600000"])
        .env("DATABASE_URL", &t.url)
        .env("SITEJOBS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a run");
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE status = 'running'",
        1,
    )
    .await;
    terminate(&child);
    let out = finish(child, Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let line = json_line(&out);
    assert_eq!(line["status"], "error");
    assert_eq!(line["details"]["interrupted"], "SIGTERM");
    let recorded =
        "SELECT count(*) FROM job_runs WHERE status = 'error' AND finished_at IS NOT NULL";
    assert_eq!(scalar(&t.db, recorded).await, 1);
}

#[tokio::test]
async fn a_run_whose_process_dies_is_closed_as_an_error_not_left_running() {
    let t = TestDb::new().await;
    let path = Config::new(
        &t,
        &format!(
            "[[job]]\nname = \"noop\"\ncron = \"{} * * * * *\"\nargs = [\"--sleep-ms\", \"600000\"]\n",
            soon()
        ),
    );
    let s = scheduler(&t, path.path(), &[]);
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE status = 'running'",
        1,
    )
    .await;
    let kids = children_of(s.id());
    assert_eq!(kids.len(), 1, "one run in flight");
    kill(Pid::from_raw(kids[0]), Signal::SIGKILL).expect("kill the run");
    let closed = "SELECT count(*) FROM job_runs WHERE status = 'error' \
                  AND error LIKE '%killed by signal 9%' AND finished_at IS NOT NULL";
    wait_for_count(&t.db, closed, 1).await;
    terminate(&s);
    let out = finish(s, Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The tick counts as run: it is not started again.
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 1);
}

#[tokio::test]
async fn two_schedulers_rebuild_every_community_of_denormalize_all_exactly_once() {
    let t = TestDb::new().await;
    for sql in [
        "INSERT INTO communities (name) SELECT 'c' || g FROM generate_series(1, 6) g",
        "INSERT INTO groups (name) VALUES ('staff'), ('member'), ('zebra')",
        "INSERT INTO profiles (community_id, user_id, display_name)
         SELECT 1 + g % 6, 1000 + g, 'p' || g FROM generate_series(1, 60) g",
        "INSERT INTO profile_groups (profile_id, group_id)
         SELECT p.id, g.id FROM profiles p JOIN groups g ON (p.id + g.id) % 2 = 0",
    ] {
        tests::exec(&t.db, sql).await;
    }
    let path = Config::new(
        &t,
        &format!(
            "[[job]]\nname = \"denormalize-profiles\"\ncron = \"{} * * * * *\"\nargs = [\"--all\"]\n",
            soon()
        ),
    );
    let (a, b) = two_schedulers_until_ok_runs(&t, path.path(), 6).await;
    // One run per community, each under its own lock, between the two schedulers.
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 6);
    let locks = "SELECT count(DISTINCT lock_key) FROM job_runs WHERE lock_key LIKE 'denormalize-profiles:%'";
    assert_eq!(scalar(&t.db, locks).await, 6);
    assert_eq!(runs_printed(&a).len() + runs_printed(&b).len(), 6);
    // And the job did its work: one record per profile.
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM denorm_profile_records").await,
        60
    );
}

#[tokio::test]
async fn runs_started_by_schedule_config_read_their_settings_from_that_file() {
    let t = TestDb::new().await;
    // The working directory's sitejobs.toml says otherwise: the children must not read it.
    let cwd = std::env::temp_dir().join(format!("{}_cwd", t.name));
    std::fs::create_dir_all(&cwd).expect("create cwd");
    std::fs::write(cwd.join("sitejobs.toml"), "[noop]\nsleep_ms = 3\n").expect("write");
    let config = Config::new(
        &t,
        "[noop]\nsleep_ms = 7\n\n[[job]]\nname = \"noop\"\ncron = \"* * * * * *\"\n",
    );
    let child = Command::new(tests::sitejobs_bin())
        .args(["schedule", "--config", config.path()])
        .current_dir(&cwd)
        .env("DATABASE_URL", &t.url)
        .env("SITEJOBS_LOG", "warn")
        .env_remove("REDIS_URL")
        .env_remove("SITEJOBS_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a scheduler");
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE status = 'ok'",
        2,
    )
    .await;
    terminate(&child);
    let out = finish(child, Duration::from_secs(20));
    let _ = std::fs::remove_dir_all(&cwd);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM job_runs WHERE params->>'sleep_ms' <> '7'"
        )
        .await,
        0,
        "every run read sleep_ms from the --config file"
    );
}

#[tokio::test]
async fn check_validates_settings_from_the_file_not_only_the_flags() {
    let t = TestDb::new().await;
    let config = Config::new(
        &t,
        "[purge-emails]\nretention_days = -1\n\n[[job]]\nname = \"purge-emails\"\ncron = \"@daily\"\n",
    );
    let out = Command::new(tests::sitejobs_bin())
        .args(["schedule", "--check", "--config", config.path()])
        .env("DATABASE_URL", &t.url)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("retention"), "{}", stderr(&out));
}
