//! The outcome of one run: [`RunReport`] is printed as the run's one JSON line
//! and read back, typed, by the scheduler and the bench.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use entity::job_run::RunStatus;

use super::{Job, Strategy};
use crate::error::JobError;

/// How to run: the strategy, whether to wait for a held lock, and the schedule
/// tick this run claims (so two schedulers never run the same tick twice).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Naive or optimized.
    pub strategy: Strategy,
    /// Wait for a run holding the lock instead of ending `locked`.
    pub wait: bool,
    /// The schedule tick this run claims in `job_runs.tick`.
    pub tick: Option<String>,
    /// Hide the progress bar and periodic progress lines.
    pub quiet: bool,
}

/// The outcome of one run: printed as one JSON line on stdout, parsed back by
/// the scheduler and the bench.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// The job's name.
    pub job: String,
    /// The strategy it ran with.
    pub strategy: Strategy,
    /// `ok`, `error` or `locked` once the run has ended.
    pub status: RunStatus,
    /// The rows the contract counts for the job.
    pub rows: u64,
    /// Wall time from the start of the call to the end of the run, in whole
    /// milliseconds (truncated).
    pub duration_ms: u64,
    /// The same wall time in microseconds: what benchmarks of runs of a few
    /// milliseconds divide (truncating to milliseconds would favour them by
    /// up to one). Absent from lines printed before it existed.
    #[serde(default)]
    pub duration_us: u64,
    /// SQL statements the job sent (BEGIN and COMMIT not counted).
    pub db_statements: u64,
    /// Redis commands the job sent (a pipeline of N counts N).
    pub redis_commands: u64,
    /// The run's `job_runs` row, when one was written.
    pub run_id: Option<i64>,
    /// The advisory-lock key the run held (or found held).
    pub lock_key: String,
    /// The job's parameters.
    pub params: serde_json::Value,
    /// When the run took its lock (or gave up on it).
    pub started_at: DateTime<Utc>,
    /// The schedule tick this run claimed, when a scheduler started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<String>,
    /// The tick had already been claimed by another scheduler's run: this run
    /// did nothing (status `locked`) and wrote nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claimed_elsewhere: bool,
    /// This process's peak resident memory so far (VmHWM), in KiB, when the OS tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kb: Option<u64>,
    /// The failure as one line, when the run did not succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Job-specific facts (what was skipped, which path was taken, ...).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
    /// The failure itself, typed and with its source, for library callers
    /// (not serialised: `error` carries its message).
    #[serde(skip)]
    pub failure: Option<JobError>,
}

impl RunReport {
    /// A report of a run of `job` that has not started yet.
    pub fn new<J: Job>(job: &J, opts: &RunOptions) -> Self {
        Self {
            job: job.name().to_owned(),
            strategy: opts.strategy,
            status: RunStatus::Running,
            rows: 0,
            duration_ms: 0,
            duration_us: 0,
            db_statements: 0,
            redis_commands: 0,
            run_id: None,
            lock_key: job.lock_key(),
            params: job.params(),
            started_at: Utc::now(),
            tick: opts.tick.clone(),
            claimed_elsewhere: false,
            peak_rss_kb: None,
            error: None,
            details: serde_json::Value::Null,
            failure: None,
        }
    }

    /// Ends the report with `status` and the failure that caused it.
    pub fn fail(&mut self, status: RunStatus, e: JobError) {
        self.status = status;
        self.error = Some(e.to_string());
        self.failure = Some(e);
    }

    /// The contract's exit code: 0 ok, 1 error, 75 locked.
    pub fn exit_code(&self) -> u8 {
        self.status.exit_code()
    }

    /// The report as its one JSON line.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"job":"{}","status":"error","error":"{e}"}}"#, self.job)
        })
    }

    /// Parses the last JSON line of a child's stdout (`None` if there is none).
    pub fn from_output(stdout: &str) -> Option<Self> {
        stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .and_then(|l| serde_json::from_str(l).ok())
    }
}
