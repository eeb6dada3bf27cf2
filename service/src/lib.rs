//! sitejobs' service layer: the scheduled jobs of a community video site and
//! the machinery they share. Each job lives in [`jobs`], with its naive
//! strategy (the write-ups' original round trips, kept to be measured) beside
//! the optimized one; [`runner::run_job`] gives every job its lock, statement
//! counts, history row and JSON report; [`connect`] opens the servers with
//! short timeouts and one-line errors; [`schedule`] starts runs at the times
//! a cron file gives, on as many machines as share the database.
pub mod bench;
pub mod cli_error;
pub mod connect;
pub mod error;
pub mod jobs;
pub mod numbers;
pub mod progress;
pub mod redis_conn;
pub mod redis_count;
pub mod registry;
pub mod runner;
pub mod scale;
pub mod schedule;
pub mod seed;
pub mod settings;
pub mod signals;

pub use error::JobError;
pub use redis;
pub use runner::{
    run_job, run_job_until, Job, JobContext, JobOutput, RunOptions, RunReport, RunStatus, Services,
    Strategy,
};
pub use sea_orm;
