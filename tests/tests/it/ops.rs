//! Operating sitejobs (contract §5): the scheduler's `/metrics`, `/healthz`
//! and page, the bearer token, passwords kept out of every output, `runs
//! prune`, time zones, plain logs, completions and the man page.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tests::{exec, scalar, stderr, stdout, wait_for_count, TestDb};

/// A schedule file of this test's own, removed at the end.
pub struct Config(std::path::PathBuf);

impl Config {
    pub fn new(t: &TestDb, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}-ops.toml", t.name));
        std::fs::write(&path, text).expect("write the schedule file");
        Self(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A `sitejobs schedule --listen 127.0.0.1:0` process whose output is
/// collected as it comes; SIGTERM and reaped on drop.
pub struct Scheduler {
    child: Child,
    err: Arc<Mutex<String>>,
    out: Arc<Mutex<String>>,
    pub base: String,
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut s = sink.lock().expect("output buffer");
            s.push_str(&line);
            s.push('\n');
        }
    });
    text
}

impl Scheduler {
    pub fn start(url: &str, config: &str, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(tests::sitejobs_bin())
            .args(["schedule", "--config", config, "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", url)
            .env("SITEJOBS_LOG", "info")
            .env_remove("REDIS_URL")
            .env_remove("SITEJOBS_HTTP_TOKEN")
            .env_remove("NO_COLOR")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a scheduler");
        let err = collect(child.stderr.take().expect("stderr"));
        let out = collect(child.stdout.take().expect("stdout"));
        // It logs the address it bound (port 0: the kernel picked one).
        let start = Instant::now();
        let base = loop {
            let text = err.lock().expect("stderr buffer").clone();
            if let Some(i) = text.find("url=http://") {
                let rest = &text[i + 4..];
                let url = rest.split_whitespace().next().unwrap_or(rest);
                break url.trim_end_matches('/').to_owned();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the scheduler never said where it listens; stderr: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            err,
            out,
            base,
        }
    }

    pub fn stderr(&self) -> String {
        self.err.lock().expect("stderr buffer").clone()
    }

    pub fn stdout(&self) -> String {
        self.out.lock().expect("stdout buffer").clone()
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        get(&format!("{}{path}", self.base), token)
    }

    /// SIGTERM, then waits (bounded) for the exit; returns its exit code.
    pub fn stop(self) -> Option<i32> {
        self.terminate();
        self.wait()
    }

    /// Sends SIGTERM (the first: running jobs get their grace period).
    pub fn terminate(&self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
    }

    /// Waits (bounded) for the exit; returns its exit code.
    pub fn wait(mut self) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll") {
                return status.code();
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("the scheduler did not stop; stderr: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A GET with an optional bearer token: status and body, whatever the status.
pub fn get(url: &str, token: Option<&str>) -> (u16, String) {
    try_get(url, token).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// [`get`], with a refused connection as an error.
pub fn try_get(url: &str, token: Option<&str>) -> Result<(u16, String), ureq::Error> {
    let mut req = ureq::get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.config().http_status_as_error(false).build().call()?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string()?;
    Ok((status, body))
}

/// A job that never fires during a test.
const IDLE: &str = "[[job]]\nname = \"noop\"\ncron = \"0 0 1 1 *\"\n";

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_this_schedulers_runs() {
    let t = TestDb::new().await;
    // purge-emails never fires here: its last success comes from a row "another machine" wrote.
    let config = Config::new(
        &t,
        "[[job]]\nname = \"noop\"\ncron = \"* * * * * *\"\n\n\
         [[job]]\nname = \"noop\"\ncron = \"* * * * * *\"\nargs = [\"--fail\", \"--community\", \"7\"]\n\n\
         [[job]]\nname = \"purge-emails\"\ncron = \"0 0 1 1 *\"\n",
    );
    exec(
        &t.db,
        "INSERT INTO job_runs (job, lock_key, strategy, params, started_at, finished_at, status, \
         rows, db_statements, redis_commands, host) VALUES ('purge-emails', 'purge-emails', \
         'optimized', '{}', '2026-11-01T03:30:00Z', '2026-11-01T03:30:02.500Z', 'ok', 9, 3, 0, 'elsewhere')",
    )
    .await;
    let s = Scheduler::start(&t.url, config.path(), &[]);
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE job = 'noop' AND status = 'ok'",
        2,
    )
    .await;
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE job = 'noop' AND status = 'error'",
        2,
    )
    .await;
    let (status, text) = s.get("/metrics", None);
    assert_eq!(status, 200, "{text}");
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
    };
    let ok = value(
        "sitejobs_job_runs_total",
        &[("job", "noop"), ("status", "ok")],
    );
    let failed = value(
        "sitejobs_job_runs_total",
        &[("job", "noop"), ("status", "error")],
    );
    assert!(ok.is_some_and(|v| v >= 1.0), "{text}");
    assert!(failed.is_some_and(|v| v >= 1.0), "{text}");
    // Whichever machine ran it: the row above ended at 03:30:02.5.
    let other = Utc
        .with_ymd_and_hms(2026, 11, 1, 3, 30, 2)
        .single()
        .expect("a date")
        .timestamp() as f64
        + 0.5;
    assert_eq!(
        value(
            "sitejobs_job_last_success_timestamp_seconds",
            &[("job", "purge-emails")]
        ),
        Some(other),
        "{text}"
    );
    // noop's gauge is the end of its newest ok run in job_runs.
    let newest_ok = scalar(
        &t.db,
        "SELECT (extract(epoch FROM finished_at) * 1000)::bigint FROM job_runs \
         WHERE job = 'noop' AND status = 'ok' ORDER BY started_at DESC LIMIT 1",
    )
    .await;
    let gauge = value(
        "sitejobs_job_last_success_timestamp_seconds",
        &[("job", "noop")],
    )
    .expect("noop's last success");
    assert!(
        gauge * 1000.0 >= newest_ok as f64 - 1.0,
        "{gauge} vs {newest_ok}"
    );
    assert!(
        text.contains("sitejobs_job_run_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("sitejobs_job_rows_total"), "{text}");
    let err = s.stderr();
    assert_eq!(s.stop(), Some(0));
    // Logs to a pipe are plain text.
    assert!(
        !err.contains('\x1b'),
        "colour escapes in piped logs: {err:?}"
    );
}

#[tokio::test]
async fn healthz_turns_503_when_its_database_goes_away() {
    let t = TestDb::new().await;
    let config = Config::new(&t, IDLE);
    let s = Scheduler::start(&t.url, config.path(), &[]);
    let (status, body) = s.get("/healthz", None);
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    // The database goes away under the running scheduler.
    let admin = service::connect::connect_db(&tests::database_url(), 1)
        .await
        .expect("admin connection");
    exec(&admin, &format!("DROP DATABASE {} WITH (FORCE)", t.name)).await;
    let start = Instant::now();
    let (status, body) = loop {
        let (status, body) = s.get("/healthz", None);
        if status != 200 || start.elapsed() > Duration::from_secs(20) {
            break (status, body);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("database: "), "{body}");
    assert_eq!(body.trim_end().lines().count(), 1, "one line: {body}");
    assert_eq!(s.stop(), Some(0));
}

#[tokio::test]
async fn the_token_guards_the_page_and_metrics_but_not_healthz() {
    let t = TestDb::new().await;
    let config = Config::new(&t, IDLE);
    let s = Scheduler::start(
        &t.url,
        config.path(),
        &[("SITEJOBS_HTTP_TOKEN", "correct-horse-battery")],
    );
    for path in ["/", "/metrics"] {
        assert_eq!(s.get(path, None).0, 401, "{path} without a token");
        assert_eq!(
            s.get(path, Some("wrong")).0,
            401,
            "{path} with a wrong token"
        );
        let (status, body) = s.get(path, Some("correct-horse-battery"));
        assert_eq!(status, 200, "{path}: {body}");
    }
    assert_eq!(s.get("/healthz", None).0, 200);
    assert_eq!(s.stop(), Some(0));
}

#[tokio::test]
async fn no_password_appears_in_errors_logs_job_runs_metrics_or_the_page() {
    // The dev cluster trusts local connections, so any password gets in: a real
    // connection carrying two secrets, one in the user info, one in the query.
    let t = TestDb::new().await;
    let url = t
        .url
        .replacen("://sitejobs@", "://sitejobs:userinfo-secret-1@", 1)
        + "?password=query-secret-2";
    assert!(url.contains("userinfo-secret-1"), "{url}");
    let secrets = ["userinfo-secret-1", "query-secret-2"];
    let clean = |what: &str, text: &str| {
        for s in secrets {
            assert!(!text.contains(s), "{what} shows a password: {text}");
        }
    };

    // Error lines of a failing connection, with the password in either place.
    for bad in [
        "postgres://u:userinfo-secret-1@127.0.0.1:1/x",
        "postgres://u@127.0.0.1:1/x?password=query-secret-2",
    ] {
        let out = Command::new(tests::sitejobs_bin())
            .args(["--database-url", bad, "runs"])
            .env("SITEJOBS_LOG", "debug")
            .output()
            .expect("run sitejobs");
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("***"), "{}", stderr(&out));
        clean("a connect error", &stderr(&out));
    }

    // A scheduler on that URL: runs that succeed and fail, logs, the endpoints.
    let config = Config::new(
        &t,
        "[[job]]\nname = \"noop\"\ncron = \"* * * * * *\"\n\n\
         [[job]]\nname = \"noop\"\ncron = \"* * * * * *\"\nargs = [\"--fail\", \"--community\", \"3\"]\n",
    );
    let s = Scheduler::start(&url, config.path(), &[("SITEJOBS_LOG", "debug")]);
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE status = 'error'",
        1,
    )
    .await;
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE status = 'ok'",
        1,
    )
    .await;
    clean("/metrics", &s.get("/metrics", None).1);
    clean("the page", &s.get("/", None).1);
    clean("/healthz", &s.get("/healthz", None).1);
    let rows = Command::new(tests::sitejobs_bin())
        .args(["runs", "--json", "--limit", "1000"])
        .env("DATABASE_URL", &url)
        .output()
        .expect("sitejobs runs");
    assert!(
        stdout(&rows).contains("\"status\":\"error\""),
        "{}",
        stdout(&rows)
    );
    clean("job_runs", &stdout(&rows));
    clean("runs' stderr", &stderr(&rows));
    let (err, out) = (s.stderr(), s.stdout());
    assert_eq!(s.stop(), Some(0));
    clean("the scheduler's logs", &err);
    clean("the scheduler's stdout", &out);
}

#[tokio::test]
async fn runs_prune_deletes_old_runs_but_never_a_jobs_latest() {
    let t = TestDb::new().await;
    // a: three old runs; b: one old run (its latest); c: old but still running;
    // d: its latest (by start) has the smaller id, as rows copied from elsewhere may.
    exec(
        &t.db,
        "INSERT INTO job_runs (job, lock_key, strategy, params, started_at, finished_at, status, \
         rows, db_statements, redis_commands) VALUES \
         ('a', 'a', 'optimized', '{}', now() - interval '50 days', now() - interval '50 days', 'ok', 0, 0, 0), \
         ('a', 'a', 'optimized', '{}', now() - interval '40 days', now() - interval '40 days', 'error', 0, 0, 0), \
         ('a', 'a', 'optimized', '{}', now() - interval '31 days', now() - interval '31 days', 'ok', 0, 0, 0), \
         ('a', 'a', 'optimized', '{}', now() - interval '2 days', now() - interval '2 days', 'ok', 0, 0, 0), \
         ('b', 'b', 'optimized', '{}', now() - interval '60 days', now() - interval '60 days', 'ok', 0, 0, 0), \
         ('c', 'c', 'optimized', '{}', now() - interval '60 days', NULL, 'running', 0, 0, 0), \
         ('c', 'c', 'optimized', '{}', now() - interval '1 day', now() - interval '1 day', 'ok', 0, 0, 0), \
         ('d', 'd', 'optimized', '{}', now() - interval '35 days', now() - interval '35 days', 'ok', 0, 0, 0), \
         ('d', 'd', 'optimized', '{}', now() - interval '45 days', now() - interval '45 days', 'ok', 0, 0, 0)",
    )
    .await;
    let out = t.cli(None, &["runs", "prune", "--older-than", "30d"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(line["deleted"], 4, "{line}");
    let left = |job: &str| format!("SELECT count(*) FROM job_runs WHERE job = '{job}'");
    assert_eq!(scalar(&t.db, &left("a")).await, 1, "a keeps its recent run");
    assert_eq!(scalar(&t.db, &left("b")).await, 1, "b keeps its latest run");
    assert_eq!(
        scalar(&t.db, &left("c")).await,
        2,
        "a running run has not ended"
    );

    // 12h: now a's 2-day-old run goes too? No: it is a's latest.
    let out = t.cli(None, &["runs", "prune", "--older-than", "12h"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 5);

    for bad in ["30x", "0d", "soon"] {
        let out = t.cli(None, &["runs", "prune", "--older-than", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("--older-than"), "{}", stderr(&out));
    }
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 5);
}

#[tokio::test]
async fn the_scheduler_prunes_with_the_retention_of_its_file() {
    let t = TestDb::new().await;
    exec(
        &t.db,
        "INSERT INTO job_runs (job, lock_key, strategy, params, started_at, finished_at, status, \
         rows, db_statements, redis_commands) VALUES \
         ('a', 'a', 'optimized', '{}', now() - interval '10 days', now() - interval '10 days', 'ok', 0, 0, 0), \
         ('a', 'a', 'optimized', '{}', now() - interval '3 days', now() - interval '3 days', 'ok', 0, 0, 0), \
         ('a', 'a', 'optimized', '{}', now() - interval '1 hour', now() - interval '1 hour', 'ok', 0, 0, 0)",
    )
    .await;
    let config = Config::new(
        &t,
        &format!("{IDLE}\n[scheduler]\nhistory_retention = \"2d\"\n"),
    );
    let s = Scheduler::start(&t.url, config.path(), &[]);
    wait_for_count(&t.db, "SELECT 3 - count(*) FROM job_runs", 2).await;
    assert_eq!(s.stop(), Some(0));
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 1);

    let bad = Config::new(
        &t,
        &format!("{IDLE}\n[scheduler]\nhistory_retention = \"often\"\n"),
    );
    let out = t.cli(None, &["schedule", "--config", bad.path(), "--check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("history_retention"),
        "{}",
        stderr(&out)
    );
}

fn zoned(cron: &str, zone: &str) -> service::schedule::Entry {
    let text = format!("[[job]]\nname = \"noop\"\ncron = \"{cron}\"\ntimezone = \"{zone}\"\n");
    parse(&text).entries.into_iter().next().expect("one entry")
}

fn parse(text: &str) -> service::schedule::Schedule {
    let file = service::settings::SettingsFile::parse(text, "test.toml".into()).expect("TOML");
    service::schedule::config::load(&file).expect("a valid schedule")
}

/// The first `n` ticks after `from`.
fn ticks(
    entry: &service::schedule::Entry,
    from: chrono::DateTime<Utc>,
    n: usize,
) -> Vec<chrono::DateTime<Utc>> {
    let mut at = from;
    (0..n)
        .map(|_| {
            at = entry.next_after(at).expect("a next tick");
            at
        })
        .collect()
}

fn utc(text: &str) -> chrono::DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

#[test]
fn cron_fields_are_read_in_the_entrys_zone_across_daylight_saving_changes() {
    // 03:30 every day in Zagreb: 02:30 UTC in summer (CEST), 01:30 UTC in winter.
    let daily = zoned("30 3 * * *", "Europe/Zagreb");
    assert_eq!(
        daily.next_after(utc("2026-07-01T00:00:00Z")),
        Some(utc("2026-07-01T01:30:00Z"))
    );
    // Fall back on 2026-10-25 (03:00 CEST -> 02:00 CET): 03:30 is once, in CET.
    let fall: Vec<_> = ticks(&daily, utc("2026-10-24T00:00:00Z"), 3);
    assert_eq!(
        fall,
        [
            utc("2026-10-24T01:30:00Z"),
            utc("2026-10-25T02:30:00Z"),
            utc("2026-10-26T02:30:00Z")
        ]
    );
    // 02:30 does not exist on 2027-03-28 (02:00 CET -> 03:00 CEST): that
    // day's run is at the first instant after the gap, then 02:30 CEST again.
    let gap = zoned("30 2 * * *", "Europe/Zagreb");
    assert_eq!(
        ticks(&gap, utc("2027-03-27T00:00:00Z"), 3),
        [
            utc("2027-03-27T01:30:00Z"),
            utc("2027-03-28T01:00:00Z"),
            utc("2027-03-29T00:30:00Z")
        ]
    );
    // 02:30 happens twice on 2026-10-25: a daily job runs once, at the first.
    assert_eq!(
        ticks(&gap, utc("2026-10-24T12:00:00Z"), 2),
        [utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")]
    );
    // Without a zone, UTC.
    let plain = parse("[[job]]\nname = \"noop\"\ncron = \"30 3 * * *\"\n");
    assert_eq!(
        plain.entries[0].next_after(utc("2026-07-01T00:00:00Z")),
        Some(utc("2026-07-01T03:30:00Z"))
    );
}

#[tokio::test]
async fn an_unknown_time_zone_is_a_check_error_naming_it() {
    let t = TestDb::new().await;
    let config = Config::new(
        &t,
        "[[job]]\nname = \"noop\"\ncron = \"30 3 * * *\"\ntimezone = \"Europe/Atlantis\"\n",
    );
    let out = t.cli(None, &["schedule", "--config", config.path(), "--check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Europe/Atlantis") && err.contains("job 'noop'"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn completions_and_the_man_page_come_from_the_real_flags() {
    let run = |args: &[&str]| {
        let out = Command::new(tests::sitejobs_bin())
            .args(args)
            .output()
            .expect("run sitejobs");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let bash = run(&["completions", "bash"]);
    assert!(
        bash.contains("_sitejobs") && bash.contains("--older-than"),
        "{bash}"
    );
    assert!(run(&["completions", "zsh"]).contains("#compdef sitejobs"));
    let man = run(&["man"]);
    assert!(
        man.contains(".TH sitejobs") && man.contains("schedule"),
        "{man}"
    );
    let out = Command::new(tests::sitejobs_bin())
        .args(["completions", "tcsh"])
        .output()
        .expect("run sitejobs");
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn the_page_escapes_job_errors_and_lists_every_scheduled_job() {
    let t = TestDb::new().await;
    exec(
        &t.db,
        "INSERT INTO job_runs (job, lock_key, strategy, params, started_at, finished_at, status, \
         rows, db_statements, redis_commands, error) VALUES ('noop', 'noop', 'optimized', '{}', \
         now() - interval '1 minute', now(), 'error', 0, 0, 0, '<script>alert(1)</script>')",
    )
    .await;
    let config = Config::new(
        &t,
        &format!("{IDLE}\n[[job]]\nname = \"purge-emails\"\ncron = \"0 30 3 * * *\"\ntimezone = \"Asia/Tokyo\"\n"),
    );
    let s = Scheduler::start(&t.url, config.path(), &[]);
    let (status, page) = s.get("/", None);
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("<script>"), "unescaped: {page}");
    assert!(
        page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"),
        "{page}"
    );
    assert!(page.contains("data-job=\"noop\"") && page.contains("data-job=\"purge-emails\""));
    assert!(
        page.contains("Asia/Tokyo") && page.contains("JST"),
        "{page}"
    );
    assert!(page.contains("1 failing"), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no outside assets"
    );
    assert_eq!(s.stop(), Some(0));
}

#[tokio::test]
async fn logs_are_coloured_only_on_a_terminal_and_never_with_no_color() {
    let t = TestDb::new().await;
    // `script` (util-linux) gives the command a pseudo-terminal as stdout and stderr.
    let on_terminal = |no_color: Option<&str>| {
        let mut cmd = Command::new("script");
        cmd.args(["-qec"])
            .arg(format!("'{}' run noop", tests::sitejobs_bin().display()))
            .arg("/dev/null")
            .env("DATABASE_URL", &t.url)
            .env("SITEJOBS_LOG", "info")
            .env_remove("NO_COLOR")
            .env_remove("SITEJOBS_LOG_FORMAT");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd.output().expect("run script(1)");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    let tty = on_terminal(None);
    assert!(
        tty.contains("job finished") && tty.contains("\x1b["),
        "{tty:?}"
    );
    let tty = on_terminal(Some("1"));
    assert!(
        tty.contains("job finished") && !tty.contains('\x1b'),
        "{tty:?}"
    );

    // A file or a pipe: plain text; JSON logs are JSON.
    let mut cmd = Command::new(tests::sitejobs_bin());
    let piped = cmd
        .args(["run", "noop"])
        .env("DATABASE_URL", &t.url)
        .env("SITEJOBS_LOG", "info")
        .env_remove("NO_COLOR")
        .output()
        .expect("run sitejobs");
    let err = stderr(&piped);
    assert!(
        err.contains("job finished") && !err.contains('\x1b'),
        "{err:?}"
    );
    let json = Command::new(tests::sitejobs_bin())
        .args(["run", "noop", "--log-format", "json"])
        .env("DATABASE_URL", &t.url)
        .env("SITEJOBS_LOG", "info")
        .output()
        .expect("run sitejobs");
    for line in stderr(&json).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
        assert!(v["fields"]["message"].is_string(), "{line}");
    }
}

#[tokio::test]
async fn a_bad_or_taken_listen_address_is_one_line_before_anything_runs() {
    let t = TestDb::new().await;
    let config = Config::new(&t, IDLE);
    let out = t.cli(
        None,
        &[
            "schedule",
            "--config",
            config.path(),
            "--listen",
            "localhost-ish",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--listen 'localhost-ish'"),
        "{}",
        stderr(&out)
    );
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = held.local_addr().expect("its address").to_string();
    let out = t.cli(
        None,
        &["schedule", "--config", config.path(), "--listen", &addr],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 0);
}

#[tokio::test]
async fn healthz_turns_503_as_soon_as_the_scheduler_is_stopping() {
    let t = TestDb::new().await;
    let config = Config::new(
        &t,
        "[[job]]\nname = \"noop\"\ncron = \"* * * * * *\"\nargs = [\"--sleep-ms\", \"3000\"]\n",
    );
    let s = Scheduler::start(&t.url, config.path(), &[]);
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE status = 'running'",
        1,
    )
    .await;
    assert_eq!(s.get("/healthz", None).0, 200);
    s.terminate();
    // The running job gets its grace period; meanwhile probes see the scheduler leaving.
    let start = Instant::now();
    let (status, body) = loop {
        let (status, body) = s.get("/healthz", None);
        if status != 200 || start.elapsed() > Duration::from_secs(10) {
            break (status, body);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        (status, body.as_str()),
        (503, "stopping: the scheduler is shutting down\n")
    );
    assert_eq!(s.wait(), Some(0));
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM job_runs WHERE status = 'ok'").await,
        1,
        "the running job finished within its grace period"
    );
}
