//! The code every job shares. [`run_job`] wraps one run of a [`Job`] and gives it,
//! with no code in the job itself: an advisory lock per job key (held on a
//! dedicated connection for the whole run), exact counts of the SQL statements
//! and Redis commands the job sent, a row in `job_runs`, and one [`RunReport`]
//! that the CLI prints as the run's JSON line and maps to an exit code.
//!
//! One file per concern: [`job`] (what a job is), [`context`] (what it sees
//! while running), [`report`] (what comes out), [`phases`] (lock, prepare,
//! execute, finish), [`history`] (every write to `job_runs`), [`lock`], and
//! [`session`] (a job's statements on the run's own connection).
pub mod context;
pub mod history;
pub mod job;
pub mod lock;
pub mod phases;
pub mod report;
pub mod session;

pub use context::{JobContext, Services};
pub use job::{Job, JobOutput, Strategy};
pub use phases::{peak_rss_kb, run_job, run_job_until};
pub use report::{RunOptions, RunReport, RunStatus};
pub use session::Session;
