//! What a job is to the runner: a [`Job`] holds its validated options and does
//! its work through the [`JobContext`] it is given; [`JobOutput`] is what it
//! hands back.
use std::future::Future;

use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

use super::JobContext;
use crate::error::JobError;

/// How a job talks to the database and Redis: the write-ups' original round
/// trips, kept for measurement, or the production path. Both keep every guarantee.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// The write-ups' original round trips (a statement per row, per prefix, a giant `IN` list).
    Naive,
    /// The production path.
    #[default]
    Optimized,
}

impl Strategy {
    /// The strategy as the CLI spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Naive => "naive",
            Self::Optimized => "optimized",
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a job reports back: the rows the contract counts, and anything else worth keeping.
#[derive(Debug, Default)]
pub struct JobOutput {
    /// The rows the contract counts for this job (records written, emails deleted, ...).
    pub rows: u64,
    /// Job-specific facts for the report's `details` (`null` for none).
    pub details: serde_json::Value,
}

impl JobOutput {
    /// An output of `rows` rows and no details.
    pub fn rows(rows: u64) -> Self {
        Self {
            rows,
            details: serde_json::Value::Null,
        }
    }

    /// The same output with `details`.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// One job. Implementations hold their validated options; `run` does the work
/// through the context's counting connections. Register a job in
/// [`crate::registry`] to give it a CLI command, settings, scheduling and bench cases.
pub trait Job: Send + Sync {
    /// The job's name as the CLI spells it (`purge-emails`).
    fn name(&self) -> &'static str;

    /// The advisory-lock key: two runs with the same key never overlap.
    fn lock_key(&self) -> String {
        self.name().to_owned()
    }

    /// The run's parameters, as recorded in `job_runs` and the JSON line.
    fn params(&self) -> serde_json::Value;

    /// Whether the job needs Redis (the runner refuses to start it without).
    fn needs_redis(&self) -> bool {
        false
    }

    /// How many database connections the process opens before the run's
    /// clock starts ([`connect_db`](crate::connect::connect_db)): the run's
    /// own (lock, history, [`JobContext::session`]) and two for statements
    /// through the pool. A job that sends its statements only on the session
    /// needs one; whatever else it sends opens a connection when needed.
    fn warm_connections(&self) -> u32 {
        crate::connect::WARM
    }

    /// Checks input against the database once the job's lock is held and
    /// before anything is written (an unknown community, say). Return
    /// [`JobError::BadInput`] to reject the run: it then leaves no trace.
    fn validate(
        &self,
        _db: &DatabaseConnection,
    ) -> impl Future<Output = Result<(), JobError>> + Send {
        async { Ok(()) }
    }

    /// Does the work. A returned error rolls back whatever the job's open
    /// transaction holds and makes the run an `error`.
    fn run(&self, ctx: &JobContext) -> impl Future<Output = Result<JobOutput, JobError>> + Send;
}
