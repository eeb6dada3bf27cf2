//! The runner every job shares: lock, counts, history, rollback, exit codes.
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use service::{run_job, Job, JobContext, JobError, JobOutput, RunOptions, RunStatus};

use tests::{json_line, scalar, stderr, wait_for_count, TestDb};

/// Writes `rows` communities in one transaction, one statement each, then fails if asked.
struct WriteThenMaybeFail {
    rows: u64,
    fail: bool,
}

impl Job for WriteThenMaybeFail {
    fn name(&self) -> &'static str {
        "test-write"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::json!({ "rows": self.rows })
    }
    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let txn = ctx.db().begin().await?;
        for i in 0..self.rows {
            txn.execute_raw(Statement::from_string(
                txn.get_database_backend(),
                format!("INSERT INTO communities (name) VALUES ('c{i}')"),
            ))
            .await?;
        }
        if self.fail {
            return Err(JobError::Other("injected failure".into()));
        }
        txn.commit().await?;
        Ok(JobOutput::rows(self.rows))
    }
}

#[tokio::test]
async fn statement_count_is_exact_and_includes_transactions() {
    let t = TestDb::new().await;
    let report = run_job(
        &t.services(None),
        &WriteThenMaybeFail {
            rows: 7,
            fail: false,
        },
        &RunOptions::default(),
    )
    .await
    .expect("not bad input");
    assert_eq!(report.status, RunStatus::Ok, "{report:?}");
    assert_eq!(report.rows, 7);
    // BEGIN and COMMIT are not counted: exactly the seven inserts.
    assert_eq!(report.db_statements, 7);
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM communities").await, 7);
}

#[tokio::test]
async fn failed_run_rolls_back_and_is_recorded() {
    let t = TestDb::new().await;
    let report = run_job(
        &t.services(None),
        &WriteThenMaybeFail {
            rows: 3,
            fail: true,
        },
        &RunOptions::default(),
    )
    .await
    .expect("not bad input");
    assert_eq!(report.status, RunStatus::Error);
    assert_eq!(report.exit_code(), 1);
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM communities").await, 0);
    let recorded = scalar(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE job = 'test-write' AND status = 'error' AND error LIKE '%injected%' AND finished_at IS NOT NULL",
    )
    .await;
    assert_eq!(recorded, 1);
}

/// Starts `sitejobs run noop --sleep-ms ms` in the background and returns once
/// it holds the lock (its history row says running).
async fn slow_noop_holding_the_lock(
    t: &TestDb,
    ms: u64,
) -> std::thread::JoinHandle<std::process::Output> {
    let url = t.url.clone();
    let slow = std::thread::spawn(move || {
        std::process::Command::new(tests::sitejobs_bin())
            .args(["run", "noop", "--sleep-ms", &ms.to_string()])
            .env("DATABASE_URL", url)
            .output()
            .expect("run")
    });
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE status = 'running'",
        1,
    )
    .await;
    slow
}

#[tokio::test]
async fn second_concurrent_run_exits_75_with_a_locked_json_line() {
    let t = TestDb::new().await;
    let slow = slow_noop_holding_the_lock(&t, 3000).await;
    let second = t.cli(None, &["run", "noop"]);
    assert_eq!(second.status.code(), Some(75), "{}", stderr(&second));
    let line = json_line(&second);
    assert_eq!(line["status"], "locked");
    assert_eq!(line["job"], "noop");
    assert_eq!(stderr(&second).trim().lines().count(), 1);
    let first = slow.join().expect("slow run");
    assert_eq!(first.status.code(), Some(0));
    assert_eq!(json_line(&first)["status"], "ok");
    // The lock is gone once the run ends: a third run gets it.
    assert_eq!(t.cli(None, &["run", "noop"]).status.code(), Some(0));
}

#[tokio::test]
async fn wait_flag_waits_for_the_lock_instead_of_exiting() {
    let t = TestDb::new().await;
    let slow = slow_noop_holding_the_lock(&t, 1500).await;
    let waited = t.cli(None, &["run", "noop", "--wait"]);
    assert_eq!(waited.status.code(), Some(0), "{}", stderr(&waited));
    assert_eq!(slow.join().expect("slow").status.code(), Some(0));
}

#[tokio::test]
async fn run_json_line_has_the_contract_fields_and_history_lists_it() {
    let t = TestDb::new().await;
    let out = t.cli(None, &["run", "noop", "--strategy", "naive"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = json_line(&out);
    for field in [
        "job",
        "strategy",
        "status",
        "rows",
        "duration_ms",
        "db_statements",
        "redis_commands",
    ] {
        assert!(line.get(field).is_some(), "missing {field} in {line}");
    }
    assert_eq!(line["strategy"], "naive");
    assert_eq!(line["db_statements"], 1);
    // The same wall time in microseconds, for benchmarks of short runs.
    let (ms, us) = (
        line["duration_ms"].as_u64().expect("ms"),
        line["duration_us"].as_u64().expect("us"),
    );
    assert_eq!(us / 1000, ms, "{line}");
    assert!(us > 0, "{line}");
    let runs = t.cli(None, &["runs", "--json", "--limit", "5"]);
    let text = tests::stdout(&runs);
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("a run")).expect("json");
    assert_eq!(first["job"], "noop");
    assert_eq!(first["status"], "ok");
}

#[tokio::test]
async fn unknown_strategy_is_bad_input() {
    let t = TestDb::new().await;
    let out = t.cli(None, &["run", "noop", "--strategy", "fast"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(tests::stdout(&out).is_empty(), "no JSON line for bad input");
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 0);
}

#[tokio::test]
async fn job_runs_status_holds_only_the_runners_statuses() {
    let t = TestDb::new().await;
    let bad =
        t.db.execute_unprepared(
            "INSERT INTO job_runs (job, lock_key, strategy, params, started_at, status) \
             VALUES ('x', 'x', 'optimized', '{}', now(), 'bogus')",
        )
        .await;
    assert!(bad.is_err(), "a status outside the enum must be refused");
    // One `running` row per lock key; other statuses repeat freely.
    let row = |status: &str| {
        format!(
            "INSERT INTO job_runs (job, lock_key, strategy, params, started_at, status) \
             VALUES ('x', 'k', 'optimized', '{{}}', now(), '{status}')"
        )
    };
    for status in ["running", "ok", "ok", "error"] {
        t.db.execute_unprepared(&row(status)).await.expect(status);
    }
    let second = t.db.execute_unprepared(&row("running")).await;
    assert!(second.is_err(), "a second running row of one key");
}

/// A dead run's `running` row is closed by the next run of its key, with
/// the insert the unique index refused done again, its count logged: also
/// when the dead run was ticked, and the next one too.
#[tokio::test]
async fn the_next_run_closes_a_dead_runs_row_and_writes_its_own() {
    let t = TestDb::new().await;
    t.db.execute_unprepared(
        "INSERT INTO job_runs (job, lock_key, strategy, params, started_at, status, tick) \
         VALUES ('test-write', 'test-write', 'optimized', '{}', now(), 'running', 'dead-tick')",
    )
    .await
    .expect("a dead run's row");
    let report = write_one(&t).await;
    assert!(report.run_id.is_some(), "{report:?}");
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM job_runs WHERE tick = 'dead-tick' AND status = 'error' \
             AND error LIKE 'abandoned%'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM job_runs WHERE job = 'test-write' AND status = 'ok'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_run_left_running_by_a_killed_process_is_closed_by_the_next_run_of_its_key() {
    let t = TestDb::new().await;
    let mut child = std::process::Command::new(tests::sitejobs_bin())
        .args(["run", "noop", "--sleep-ms", "60000"])
        .env("DATABASE_URL", &t.url)
        .env("SITEJOBS_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start a run");
    tests::wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE status = 'running'",
        1,
    )
    .await;
    // What the OOM killer does: no chance to close its row.
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let out = t.cli(None, &["run", "noop", "--wait"]);
    assert_eq!(out.status.code(), Some(0), "{}", tests::stderr(&out));
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM job_runs WHERE status = 'running'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM job_runs WHERE status = 'error' AND error LIKE 'abandoned%' AND finished_at IS NOT NULL"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_second_run_exits_75_at_once_even_while_its_table_is_locked_elsewhere() {
    let t = TestDb::new().await;
    // Another session holds the job's lock, as a first run would ...
    let held = service::runner::lock::acquire(&t.db, "backfill-number-ranges", false)
        .await
        .expect("lock")
        .expect("free");
    // ... and a third one holds my_numbers, which the job's validation reads.
    let txn = t.db.begin().await.expect("begin");
    txn.execute_unprepared("LOCK TABLE my_numbers IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock table");
    let out = t.cli(None, &["run", "backfill-number-ranges"]);
    assert_eq!(out.status.code(), Some(75), "{}", tests::stderr(&out));
    assert_eq!(tests::json_line(&out)["status"], "locked");
    txn.rollback().await.expect("rollback");
    held.release().await;
}

#[test]
fn the_report_reads_back_as_it_was_printed() {
    let line = r#"{"job":"noop","strategy":"naive","status":"locked","rows":3,"duration_ms":4,"duration_us":4321,"db_statements":5,"redis_commands":6,"run_id":7,"lock_key":"noop","params":{"a":1},"started_at":"2026-11-21T03:00:00Z","claimed_elsewhere":true,"error":"x"}"#;
    let report = service::RunReport::from_output(&format!("noise\n{line}\n")).expect("parsed");
    assert_eq!(report.status, RunStatus::Locked);
    assert_eq!(report.strategy, service::Strategy::Naive);
    assert!(report.claimed_elsewhere);
    assert_eq!(report.rows, 3);
    assert_eq!(report.duration_us, 4321);
    assert_eq!(report.to_json_line(), line);
    // A line printed before `duration_us` existed still reads.
    let older = line.replace(r#""duration_us":4321,"#, "");
    let report = service::RunReport::from_output(&older).expect("parsed");
    assert_eq!((report.duration_ms, report.duration_us), (4, 0));
}

/// A job whose lock key, params and error hold every character SQL quoting
/// cares about.
struct Hostile;

const HOSTILE: &str = "it's a \\ key; -- \"quoted\"\n\tand é 🚀 $x$";

impl Job for Hostile {
    fn name(&self) -> &'static str {
        "test-hostile"
    }
    fn lock_key(&self) -> String {
        HOSTILE.to_owned()
    }
    fn params(&self) -> serde_json::Value {
        serde_json::json!({ "text": HOSTILE })
    }
    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        // The lock is held under exactly this key while the job runs.
        let held = ctx
            .db()
            .query_one_raw(Statement::from_sql_and_values(
                ctx.db().get_database_backend(),
                "SELECT NOT pg_try_advisory_lock(hashtextextended($1, 0))",
                [HOSTILE.into()],
            ))
            .await?
            .map(|r| r.try_get_by_index::<bool>(0))
            .transpose()?;
        if held != Some(true) {
            return Err(JobError::Other("the lock is not held under its key".into()));
        }
        Err(JobError::Other(format!("failed: {HOSTILE}")))
    }
}

/// The runner's lock, history row and unlock are sent with their values
/// written into the SQL (one round trip each): quotes, backslashes, control
/// characters and non-ASCII text arrive intact.
#[tokio::test]
async fn lock_keys_params_and_errors_arrive_intact_whatever_they_hold() {
    let t = TestDb::new().await;
    let report = run_job(&t.services(None), &Hostile, &RunOptions::default())
        .await
        .expect("not bad input");
    assert_eq!(report.status, RunStatus::Error, "{report:?}");
    assert_eq!(
        report.error.as_deref(),
        Some(format!("failed: {HOSTILE}").as_str())
    );
    let row =
        t.db.query_one_raw(Statement::from_string(
            t.db.get_database_backend(),
            "SELECT lock_key, params->>'text', error FROM job_runs WHERE job = 'test-hostile'",
        ))
        .await
        .expect("query")
        .expect("the run's row");
    let got: (String, String, String) = (
        row.try_get_by_index(0).expect("lock_key"),
        row.try_get_by_index(1).expect("params"),
        row.try_get_by_index(2).expect("error"),
    );
    assert_eq!(
        got,
        (
            HOSTILE.to_owned(),
            HOSTILE.to_owned(),
            format!("failed: {HOSTILE}")
        )
    );
    // Released: another session takes it at once.
    assert!(
        lock_is_free(&t, HOSTILE).await,
        "the lock is still held after the run"
    );
}

/// Whether another session takes the advisory lock `key` at once (and then holds it).
async fn lock_is_free(t: &TestDb, key: &str) -> bool {
    t.db.query_one_raw(Statement::from_sql_and_values(
        t.db.get_database_backend(),
        "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
        [key.into()],
    ))
    .await
    .expect("query")
    .expect("a row")
    .try_get_by_index::<bool>(0)
    .expect("bool")
}

/// One successful run of [`WriteThenMaybeFail`] writing one community.
async fn write_one(t: &TestDb) -> service::RunReport {
    let job = WriteThenMaybeFail {
        rows: 1,
        fail: false,
    };
    let report = run_job(&t.services(None), &job, &RunOptions::default())
        .await
        .expect("not bad input");
    assert_eq!(report.status, RunStatus::Ok, "{report:?}");
    report
}

/// Sends its statements on the run's own connection and reports what it saw.
struct OnSession;

const SESSION_TEXT: &str = "it's \\ é 🚀 $1";

impl Job for OnSession {
    fn name(&self) -> &'static str {
        "test-session"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let mut session = ctx.session().await;
        // The server process that holds this run's lock, and this one's.
        let rows = session
            .query_all(
                "SELECT (SELECT pid FROM pg_locks, hashtextextended($1, 0) AS h
                         WHERE locktype = 'advisory' AND granted
                           AND classid::bigint = (h >> 32) & 4294967295
                           AND objid::bigint = h & 4294967295
                         LIMIT 1) = pg_backend_pid(), $2::text, $3::int, pg_backend_pid()",
                vec!["test-session".into(), SESSION_TEXT.into(), 7i32.into()],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| JobError::Other("no row".into()))?;
        let same: Option<bool> = row.try_get_by_index(0)?;
        let text: String = row.try_get_by_index(1)?;
        let seven: i32 = row.try_get_by_index(2)?;
        let pid: i32 = row.try_get_by_index(3)?;
        let written = session
            .execute(
                "INSERT INTO communities (name) VALUES ($1), ($1)",
                vec![SESSION_TEXT.into()],
            )
            .await?;
        Ok(JobOutput::rows(written).with_details(serde_json::json!({
            "same_process": same,
            "text": text,
            "seven": seven,
            "pid": pid,
        })))
    }
}

/// `ctx.session()` is the connection that holds the run's lock; values
/// arrive intact; its statements are counted and commit on their own; the
/// connection is closed with the run.
#[tokio::test]
async fn a_jobs_session_is_the_runs_own_connection_and_is_counted() {
    let t = TestDb::new().await;
    let report = run_job(&t.services(None), &OnSession, &RunOptions::default())
        .await
        .expect("not bad input");
    assert_eq!(report.status, RunStatus::Ok, "{report:?}");
    assert_eq!(report.details["same_process"], true, "{report:?}");
    assert_eq!(report.details["text"], SESSION_TEXT);
    assert_eq!(report.details["seven"], 7);
    assert_eq!(report.rows, 2);
    assert_eq!(report.db_statements, 2);
    assert_eq!(
        scalar(
            &t.db,
            &format!(
                "SELECT count(*) FROM communities WHERE name = '{}'",
                SESSION_TEXT.replace('\'', "''")
            )
        )
        .await,
        2
    );
    // Closed with the run: its server process goes (it exits on its own
    // time once told to).
    let gone = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = {}",
        report.details["pid"]
    );
    let start = std::time::Instant::now();
    while scalar(&t.db, &gone).await > 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "the run's connection outlived it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Fails with an error PostgreSQL's text cannot hold as it is.
struct NulError;

impl Job for NulError {
    fn name(&self) -> &'static str {
        "test-nul"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    async fn run(&self, _ctx: &JobContext) -> Result<JobOutput, JobError> {
        Err(JobError::Other("before\0after".into()))
    }
}

/// The run's last write goes with the unlock in one message. When that write
/// fails the lock is still released at once, and an error with a NUL is
/// recorded rather than failing the write.
#[tokio::test]
async fn the_lock_is_released_even_when_the_runs_last_write_fails() {
    let t = TestDb::new().await;
    let report = run_job(&t.services(None), &NulError, &RunOptions::default())
        .await
        .expect("not bad input");
    assert_eq!(report.status, RunStatus::Error, "{report:?}");
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM job_runs WHERE job = 'test-nul' AND status = 'error' \
             AND error = E'before\\uFFFDafter'"
        )
        .await,
        1
    );
    // Now make the last write fail.
    t.db.execute_unprepared(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'refused'; END $$; \
         CREATE TRIGGER refuse BEFORE UPDATE ON job_runs FOR EACH ROW EXECUTE FUNCTION refuse()",
    )
    .await
    .expect("trigger");
    write_one(&t).await;
    assert!(
        lock_is_free(&t, "test-write").await,
        "the lock outlived the run"
    );
    // Its row could not be completed: the next run of the key closes it.
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM job_runs WHERE job = 'test-write' AND status = 'running'"
        )
        .await,
        1
    );
}

/// Leaves two statements for the run's last message, then ends as `end` says.
struct LeavesForTheRun {
    end: End,
}

#[derive(Clone, Copy, PartialEq)]
enum End {
    /// Returns `Ok`: both statements commit with the run's record.
    Ok,
    /// The second statement fails: neither commits, the run is an error.
    BadStatement,
    /// The job fails: neither statement is sent.
    JobFails,
}

const LEFT: &str = "left for the run's last message";

impl Job for LeavesForTheRun {
    fn name(&self) -> &'static str {
        "test-with-run"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let mut session = ctx.session().await;
        session.commit_with_run(
            "INSERT INTO communities (name) VALUES ($1)",
            vec![LEFT.into()],
        )?;
        let second = if self.end == End::BadStatement {
            "SELECT 1 / (count(*) - count(*)) FROM communities WHERE name = $1"
        } else {
            "INSERT INTO communities (name) VALUES ($1)"
        };
        session.commit_with_run(second, vec![LEFT.into()])?;
        // Nothing is sent yet: the job does not see its own statements.
        let seen = session
            .query_all(
                "SELECT count(*) FROM communities WHERE name = $1",
                vec![LEFT.into()],
            )
            .await?
            .first()
            .map(|r| r.try_get_by_index::<i64>(0))
            .transpose()?;
        if self.end == End::JobFails {
            return Err(JobError::Other(
                "the job failed after leaving statements".into(),
            ));
        }
        Ok(JobOutput::rows(2).with_details(serde_json::json!({ "seen": seen })))
    }
}

/// Statements a job leaves with `commit_with_run` go in the run's last
/// message: they commit with its record when the job succeeds, roll back
/// together (the run then recorded as an error) when one fails, and are
/// never sent when the job fails. The lock is free after each.
#[tokio::test]
async fn statements_left_for_the_runs_last_message_commit_with_it_or_not_at_all() {
    let t = TestDb::new().await;
    let left = format!(
        "SELECT count(*) FROM communities WHERE name = '{}'",
        LEFT.replace('\'', "''")
    );
    let rows_of = |status: &'static str| {
        format!("SELECT count(*) FROM job_runs WHERE job = 'test-with-run' AND status = '{status}'")
    };
    let run = |end| {
        let services = t.services(None);
        async move {
            run_job(&services, &LeavesForTheRun { end }, &RunOptions::default())
                .await
                .expect("not bad input")
        }
    };

    let report = run(End::Ok).await;
    assert_eq!(report.status, RunStatus::Ok, "{report:?}");
    assert_eq!(report.details["seen"], 0, "sent before the job returned");
    // Both left statements and the count query are the job's statements.
    assert_eq!(report.db_statements, 3);
    assert_eq!(scalar(&t.db, &left).await, 2);
    assert_eq!(scalar(&t.db, &rows_of("ok")).await, 1);

    let report = run(End::BadStatement).await;
    assert_eq!(report.status, RunStatus::Error, "{report:?}");
    let error = report.error.clone().unwrap_or_default();
    assert!(error.contains("division by zero"), "{error}");
    assert!(error.contains("rolled back"), "{error}");
    assert_eq!(
        scalar(&t.db, &left).await,
        2,
        "the first left statement committed"
    );
    assert_eq!(scalar(&t.db, &rows_of("error")).await, 1);
    assert_eq!(scalar(&t.db, &rows_of("running")).await, 0);

    // Each run found the lock free (none is `locked`).
    let report = run(End::JobFails).await;
    assert_eq!(report.status, RunStatus::Error, "{report:?}");
    assert_eq!(
        scalar(&t.db, &left).await,
        2,
        "a failed job's statements were sent"
    );
    assert_eq!(scalar(&t.db, &rows_of("error")).await, 2);
    assert!(lock_is_free(&t, "test-with-run").await);
}
