//! The code every job shares. [`run_job`] wraps one run of a [`Job`] and gives it,
//! with no code in the job itself: an advisory lock per job key (held on a
//! dedicated connection for the whole run), exact counts of the SQL statements
//! and Redis commands the job sent, a row in `job_runs`, and one [`RunReport`]
//! that the CLI prints as the run's JSON line and maps to an exit code.
pub mod history;
pub mod lock;

use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde::Serialize;

use crate::error::JobError;
use crate::progress::Progress;
use crate::redis_count::CountingRedis;

/// How a job talks to the database and Redis: the write-ups' original round
/// trips, kept for measurement, or the production path. Both keep every guarantee.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Naive,
    #[default]
    Optimized,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Naive => "naive",
            Self::Optimized => "optimized",
        }
    }
}

impl FromStr for Strategy {
    type Err = JobError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "naive" => Ok(Self::Naive),
            "optimized" => Ok(Self::Optimized),
            other => Err(JobError::bad_input(format!(
                "unknown strategy '{other}': use naive or optimized"
            ))),
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The servers a run may use. Redis is optional: only jobs that need it connect.
#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub redis: Option<crate::redis_conn::RedisConn>,
}

/// What a job sees while it runs: counting connections and a progress reporter.
pub struct JobContext {
    db: DatabaseConnection,
    redis: Option<CountingRedis>,
    db_statements: Arc<AtomicU64>,
    redis_commands: Arc<AtomicU64>,
    pub strategy: Strategy,
    quiet: bool,
}

impl JobContext {
    /// A context whose connections count every statement and command sent through them.
    pub fn new(services: &Services, strategy: Strategy) -> Self {
        let db_statements = Arc::new(AtomicU64::new(0));
        let redis_commands = Arc::new(AtomicU64::new(0));
        // A clone with its own callback shares the pool but counts only its own statements.
        let mut db = services.db.clone();
        let counter = db_statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let redis = services
            .redis
            .clone()
            .map(|conn| CountingRedis::new(conn, redis_commands.clone()));
        Self {
            db,
            redis,
            db_statements,
            redis_commands,
            strategy,
            quiet: false,
        }
    }

    /// Hide progress output (tests, benchmarks' children keep their logs).
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// The counting database connection: every statement sent through it (or a
    /// transaction begun on it) is counted.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// A counting Redis connection (cheap to clone), or an error when none is configured.
    pub fn redis(&self) -> Result<CountingRedis, JobError> {
        self.redis.clone().ok_or_else(|| {
            JobError::Unreachable("this job needs Redis: set REDIS_URL or --redis-url".to_string())
        })
    }

    /// Counts statements sent outside SeaORM (a raw `COPY` on the sqlx pool).
    pub fn count_statements(&self, n: u64) {
        self.db_statements.fetch_add(n, Ordering::Relaxed);
    }

    pub fn db_statements(&self) -> u64 {
        self.db_statements.load(Ordering::Relaxed)
    }

    pub fn redis_commands(&self) -> u64 {
        self.redis_commands.load(Ordering::Relaxed)
    }

    /// A progress reporter for `total` units (bar on a terminal, log lines otherwise).
    pub fn progress(&self, label: &str, total: Option<u64>) -> Progress {
        if self.quiet {
            Progress::hidden(label)
        } else {
            Progress::new(label, total)
        }
    }
}

/// What a job reports back: the rows the contract counts, and anything else worth keeping.
#[derive(Debug, Default)]
pub struct JobOutput {
    pub rows: u64,
    pub details: serde_json::Value,
}

impl JobOutput {
    pub fn rows(rows: u64) -> Self {
        Self {
            rows,
            details: serde_json::Value::Null,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// One scheduled job. Implementations hold their validated options; `run`
/// does the work through the context's counting connections.
pub trait Job: Send + Sync {
    /// The job's name as the CLI spells it (`purge-emails`).
    fn name(&self) -> &'static str;

    /// The advisory-lock key: two runs with the same key never overlap.
    fn lock_key(&self) -> String {
        self.name().to_owned()
    }

    /// The run's parameters, as recorded in `job_runs` and the JSON line.
    fn params(&self) -> serde_json::Value;

    fn needs_redis(&self) -> bool {
        false
    }

    /// Checks input against the database before anything is locked or written
    /// (an unknown community, say). Return [`JobError::BadInput`] to reject.
    fn validate(
        &self,
        _db: &DatabaseConnection,
    ) -> impl Future<Output = Result<(), JobError>> + Send {
        async { Ok(()) }
    }

    fn run(&self, ctx: &JobContext) -> impl Future<Output = Result<JobOutput, JobError>> + Send;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    Error,
    Locked,
    /// Rejected before anything was written; the CLI prints no JSON line for it.
    BadInput,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Locked => "locked",
            Self::BadInput => "bad_input",
        }
    }

    /// The contract's exit codes.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Error => 1,
            Self::BadInput => 2,
            Self::Locked => 75,
        }
    }
}

/// The outcome of one run: printed as one JSON line on stdout.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub job: String,
    pub strategy: Strategy,
    pub status: RunStatus,
    pub rows: u64,
    pub duration_ms: u64,
    pub db_statements: u64,
    pub redis_commands: u64,
    pub run_id: Option<i64>,
    pub lock_key: String,
    pub params: serde_json::Value,
    pub started_at: DateTime<Utc>,
    /// The schedule tick this run claimed, when a scheduler started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tick: Option<String>,
    /// This process's peak resident memory so far (VmHWM), in KiB, when the OS tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_kb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

impl RunReport {
    pub fn exit_code(&self) -> u8 {
        self.status.exit_code()
    }

    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"job":"{}","status":"error","error":"{e}"}}"#, self.job)
        })
    }
}

/// How to run: the strategy, whether to wait for a held lock, and the schedule
/// tick this run claims (so two schedulers never run the same tick twice).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub strategy: Strategy,
    pub wait: bool,
    pub tick: Option<String>,
    pub quiet: bool,
}

/// Runs `job` once under its lock, counts what it sent, records it in
/// `job_runs`, and reports. Never panics on a failing database: every failure
/// becomes a report with status `error` (or `bad_input`).
pub async fn run_job<J: Job>(services: &Services, job: &J, opts: &RunOptions) -> RunReport {
    run_job_until(services, job, opts, std::future::pending::<String>()).await
}

/// [`run_job`], stopped early when `cancel` resolves with a reason (`"SIGTERM"`).
/// While waiting for the lock nothing has been written but the tick's claim;
/// during the run the job's future is dropped, which drops its open transaction
/// (rolled back), and the run is recorded as an error "interrupted by ...".
pub async fn run_job_until<J, C>(
    services: &Services,
    job: &J,
    opts: &RunOptions,
    cancel: C,
) -> RunReport
where
    J: Job,
    C: Future<Output = String>,
{
    let clock = Instant::now();
    let mut report = RunReport {
        job: job.name().to_owned(),
        strategy: opts.strategy,
        status: RunStatus::Ok,
        rows: 0,
        duration_ms: 0,
        db_statements: 0,
        redis_commands: 0,
        run_id: None,
        lock_key: job.lock_key(),
        params: job.params(),
        started_at: Utc::now(),
        tick: opts.tick.clone(),
        peak_rss_kb: None,
        error: None,
        details: serde_json::Value::Null,
    };
    let mut cancel = std::pin::pin!(cancel);
    let guard = match prepare(services, job, opts, &mut report, cancel.as_mut()).await {
        Ok(guard) => guard,
        Err((status, e)) => {
            report.status = status;
            report.error = Some(e.to_string());
            report.duration_ms = clock.elapsed().as_millis() as u64;
            return report;
        }
    };
    let mut ctx = JobContext::new(services, opts.strategy);
    if opts.quiet {
        ctx = ctx.quiet();
    }
    tracing::info!(job = %report.job, key = %report.lock_key, strategy = %opts.strategy, "job started");
    // Biased towards the signal: once it has come, the job is not polled again.
    let outcome = tokio::select! {
        biased;
        reason = cancel.as_mut() => Err(interrupted(&mut report, &reason)),
        outcome = job.run(&ctx) => outcome,
    };
    report.db_statements = ctx.db_statements();
    report.redis_commands = ctx.redis_commands();
    report.duration_ms = clock.elapsed().as_millis() as u64;
    match outcome {
        Ok(out) => {
            report.rows = out.rows;
            report.details = out.details;
        }
        Err(e) => {
            report.status = if e.is_bad_input() {
                RunStatus::BadInput
            } else {
                RunStatus::Error
            };
            report.error = Some(e.to_string());
        }
    }
    let recorded = match (report.status, report.run_id) {
        (RunStatus::BadInput, Some(id)) => history::forget(&services.db, id).await,
        (_, Some(id)) => history::finish(&services.db, id, &report).await,
        _ => Ok(()),
    };
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "could not record the run in job_runs");
    }
    guard.release().await;
    report.peak_rss_kb = peak_rss_kb();
    tracing::info!(
        job = %report.job,
        status = report.status.as_str(),
        rows = report.rows,
        duration_ms = report.duration_ms,
        db_statements = report.db_statements,
        "job finished"
    );
    report
}

fn interrupted(report: &mut RunReport, reason: &str) -> JobError {
    report.details = serde_json::json!({ "interrupted": reason });
    JobError::Other(format!(
        "interrupted by {reason}; the run's changes were rolled back"
    ))
}

fn status_of(e: &JobError) -> RunStatus {
    if e.is_bad_input() {
        RunStatus::BadInput
    } else {
        RunStatus::Error
    }
}

/// Everything before the job runs: validation, the tick's claim, the lock and
/// the `running` row. On success `report.run_id` is set and the lock is held.
///
/// With a tick the claim comes first: the unique key on `tick` alone decides
/// which of several schedulers handles it, so a tick is recorded once, as a
/// run or as `locked` (the previous run still going), and never twice.
async fn prepare<J: Job>(
    services: &Services,
    job: &J,
    opts: &RunOptions,
    report: &mut RunReport,
    cancel: std::pin::Pin<&mut impl Future<Output = String>>,
) -> Result<lock::LockGuard, (RunStatus, JobError)> {
    let db = &services.db;
    if job.needs_redis() && services.redis.is_none() {
        let e = JobError::Unreachable("this job needs Redis: set REDIS_URL or --redis-url".into());
        return Err((RunStatus::Error, e));
    }
    job.validate(db).await.map_err(|e| (status_of(&e), e))?;
    if let Some(tick) = &opts.tick {
        match history::start(db, report, Some(tick)).await {
            Ok(Some(id)) => report.run_id = Some(id),
            Ok(None) => {
                report.details = serde_json::json!({ "tick_claimed_elsewhere": true });
                let e = JobError::Other(format!("tick {tick} was already claimed by another run"));
                return Err((RunStatus::Locked, e));
            }
            Err(e) => return Err((RunStatus::Error, e)),
        }
    }
    let acquired = tokio::select! {
        biased;
        reason = cancel => Err(JobError::Other(format!("interrupted by {reason} while waiting for the lock"))),
        acquired = lock::acquire(db, &report.lock_key, opts.wait) => acquired,
    };
    let (status, e) = match acquired {
        Ok(Some(guard)) => {
            // The run starts when it holds the lock: runs of one key never overlap in job_runs.
            report.started_at = Utc::now();
            if report.run_id.is_some() {
                return Ok(guard);
            }
            match history::start(db, report, None).await {
                Ok(id) => {
                    report.run_id = id;
                    return Ok(guard);
                }
                Err(e) => {
                    guard.release().await;
                    return Err((RunStatus::Error, e));
                }
            }
        }
        Ok(None) => (
            RunStatus::Locked,
            JobError::Other(format!(
                "{} is already running elsewhere (lock '{}'); consider --wait",
                report.job, report.lock_key
            )),
        ),
        Err(e) => (RunStatus::Error, e),
    };
    // History of a run that did nothing is still worth keeping; failing to write it is not fatal.
    report.status = status;
    report.error = Some(e.to_string());
    let recorded = match report.run_id {
        Some(id) => history::finish(db, id, report).await,
        None if status == RunStatus::Locked => history::record_locked(db, report).await,
        None => Ok(()),
    };
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "could not record the run in job_runs");
    }
    Err((status, e))
}

/// Peak resident set size of this process in KiB, from `/proc/self/status`.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
