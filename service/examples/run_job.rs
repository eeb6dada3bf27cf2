//! Runs `purge-emails` from your own Rust code and reads its report.
//!
//! ```text
//! DATABASE_URL=postgres://... cargo run -p service --example run_job -- [RETENTION_DAYS]
//! ```
//!
//! Prints the run's JSON line on stdout (as `sitejobs run` does) and a
//! summary on stderr; exits 0 (ok), 1 (error), 2 (bad input) or 75 (locked),
//! the contract's codes. See `docs/library.md`.
use std::error::Error as _;
use std::process::ExitCode;

use service::jobs::purge_emails::{PurgeEmails, Settings};
use service::registry::Register;
use service::{run_job, JobError, RunOptions, RunReport, RunStatus, Services};

#[tokio::main]
async fn main() -> ExitCode {
    // Input the example itself cannot read is its own bad input; a negative
    // number goes through to the job, which rejects it as `BadInput`.
    let retention_days = match std::env::args().nth(1).map(|a| a.parse::<i64>()) {
        None => None,
        Some(Ok(days)) => Some(days),
        Some(Err(e)) => {
            eprintln!("usage: run_job [RETENTION_DAYS]: {e}");
            return ExitCode::from(2);
        }
    };
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("set DATABASE_URL to the sitejobs database");
        return ExitCode::from(2);
    };

    match purge(&url, retention_days).await {
        // Rejected before anything was written: no report, no history row.
        Err(JobError::BadInput(msg)) => {
            eprintln!("bad input: {msg}");
            ExitCode::from(2)
        }
        // Not bad input: here, the database could not be reached (`JobError::Unreachable`).
        // `run_job` itself returns `Err` only for bad input; every other failure is a report.
        Err(e) => {
            eprintln!("cannot run: {e}");
            ExitCode::from(1)
        }
        Ok(report) => {
            // The same JSON line `sitejobs run` prints, for logs or a parent process.
            println!("{}", report.to_json_line());
            describe(&report);
            ExitCode::from(report.exit_code())
        }
    }
}

/// Connects, builds the job from its settings and runs it once.
async fn purge(url: &str, retention_days: Option<i64>) -> Result<RunReport, JobError> {
    // Short timeouts and a one-line `JobError::Unreachable` when the server is down.
    // The runner holds its advisory lock on a connection of its own, outside the pool.
    let db = service::connect::connect_db(url, 4).await?;
    // purge-emails needs no Redis; jobs that do want `Some(connect_redis(..))`.
    let services = Services { db, redis: None };

    // The job's settings are the same struct as its CLI flags and its
    // `[purge-emails]` table; `None` means the default. `from_settings`
    // validates them once (a negative retention is `JobError::BadInput`).
    // `PurgeEmails::new(14, Utc::now(), 10_000)` builds the same job directly.
    let job = PurgeEmails::from_settings(Settings {
        retention_days,
        ..Settings::default()
    })?;

    // Lock, statement counts, a `job_runs` row and a report, as for the CLI.
    // `RunOptions::default()` is the optimized strategy, without waiting for a held lock.
    let opts = RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    run_job(&services, &job, &opts).await
}

/// Explains a report on stderr: what the run did, or why it did not.
fn describe(report: &RunReport) {
    match report.status {
        RunStatus::Ok => eprintln!(
            "{} deleted {} emails in {} ms with {} SQL statements",
            report.job, report.rows, report.duration_ms, report.db_statements
        ),
        RunStatus::Locked => eprintln!(
            "{} is running elsewhere (lock '{}'); nothing was done",
            report.job, report.lock_key
        ),
        RunStatus::Error | RunStatus::Running => {
            // `failure` keeps the typed error and its source; `error` is its one-line message.
            let Some(failure) = &report.failure else {
                return;
            };
            let kind = match failure {
                JobError::Db(_) => "database",
                JobError::Interrupted(_) => "interrupted",
                _ => "other",
            };
            eprintln!("{} failed ({kind}): {failure}", report.job);
            let mut source = failure.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            if let Some(id) = report.run_id {
                eprintln!("its changes were rolled back; see job_runs row {id}");
            }
        }
    }
}
