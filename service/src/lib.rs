//! sitejobs' service layer: the scheduled jobs of a community video site and
//! the machinery they share. Each job lives in [`jobs`], with its naive
//! strategy (the write-ups' original round trips, kept to be measured) beside
//! the optimized one; [`runner::run_job`] gives every job its lock, statement
//! counts, history row and JSON report; [`connect`] opens the servers with
//! short timeouts and one-line errors; [`schedule`] starts runs at the times
//! a cron file gives, on as many machines as share the database.
//!
//! # Running a job from Rust
//!
//! Build a job from its settings (the same struct as its CLI flags and its
//! settings-file table), hand it to [`run_job`], and match on the result:
//! `Err(JobError::BadInput(..))` means the input was rejected and nothing was
//! written; otherwise the [`RunReport`] says how the run ended in its
//! `status`, with the typed error in [`RunReport::failure`].
//! `service/examples/run_job.rs` is the whole program and `docs/library.md`
//! the guide.
//!
//! ```no_run
//! use service::jobs::purge_emails::{PurgeEmails, Settings};
//! use service::registry::Register;
//! use service::{run_job, JobError, RunOptions, RunStatus, Services};
//!
//! # async fn demo() -> Result<(), JobError> {
//! let url = std::env::var("DATABASE_URL")
//!     .map_err(|_| JobError::bad_input("set DATABASE_URL"))?;
//! let db = service::connect::connect_db(&url, 4).await?;
//! let services = Services { db, redis: None };
//! let job = PurgeEmails::from_settings(Settings {
//!     retention_days: Some(30),
//!     ..Settings::default()
//! })?;
//! match run_job(&services, &job, &RunOptions::default()).await {
//!     Err(JobError::BadInput(msg)) => eprintln!("rejected, nothing written: {msg}"),
//!     Err(e) => eprintln!("could not run: {e}"),
//!     Ok(report) => match report.status {
//!         RunStatus::Ok => println!("deleted {} emails", report.rows),
//!         RunStatus::Locked => println!("already running elsewhere"),
//!         _ => eprintln!("failed and rolled back: {:?}", report.failure),
//!     },
//! }
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]
pub mod bench;
pub mod cli_error;
pub mod connect;
pub mod deploy;
pub mod error;
pub mod jobs;
pub mod numbers;
pub mod ops;
pub mod progress;
pub mod redis_conn;
pub mod redis_count;
pub mod registry;
pub mod runner;
pub mod scale;
pub mod schedule;
pub mod secrets;
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
