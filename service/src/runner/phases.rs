//! One run, in its phases: `acquire` the lock, `prepare` (validate, record
//! the `running` row closing abandoned ones, and claim the tick), `execute`
//! the job, `finish` (record, release). Every phase that ends the run early
//! returns the report as it stands.
//!
//! Why the lock comes before the row: a run writes its `running` row only
//! while it holds its lock, so any other `running` row of that lock key
//! belongs to a process that died, and the run can close it. A scheduled run
//! (with a tick) does both under a short transaction-level advisory lock on
//! its tick, so that of several schedulers' runs of one tick exactly one
//! decides how the tick is recorded (run, or `locked` behind an earlier
//! tick), and no run takes the job lock and then finds its tick recorded
//! `locked` by a rival that slipped in between.
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement, TransactionTrait};

use super::{history, lock, Job, JobContext, RunOptions, RunReport, RunStatus, Services};
use crate::error::JobError;

/// Runs `job` once under its lock, counts what it sent, records it in
/// `job_runs`, and reports. Every failure of the run is a report (status
/// `error` or `locked`, with the typed [`RunReport::failure`]); only input the
/// job rejects is an `Err` ([`JobError::BadInput`]), and then nothing was written.
pub async fn run_job<J: Job>(
    services: &Services,
    job: &J,
    opts: &RunOptions,
) -> Result<RunReport, JobError> {
    run_job_until(services, job, opts, std::future::pending::<String>()).await
}

/// [`run_job`], stopped early when `cancel` resolves with a reason (`"SIGTERM"`).
/// While waiting for the lock nothing has been written; during the run the
/// job's future is dropped, which drops its open transaction (rolled back),
/// and the run is recorded as an error "interrupted by ...".
pub async fn run_job_until<J, C>(
    services: &Services,
    job: &J,
    opts: &RunOptions,
    cancel: C,
) -> Result<RunReport, JobError>
where
    J: Job,
    C: Future<Output = String>,
{
    let clock = Instant::now();
    let mut report = RunReport::new(job, opts);
    let mut cancel = std::pin::pin!(cancel);
    if job.needs_redis() && services.redis.is_none() {
        report.fail(RunStatus::Error, JobError::NoRedis);
        return Ok(done(report, clock));
    }
    let claim = match claim_tick(services, &report).await {
        Ok(claim) => claim,
        Err(e) => {
            report.fail(RunStatus::Error, e);
            return Ok(done(report, clock));
        }
    };
    let (guard, claim) = match acquire(services, &mut report, opts, claim, cancel.as_mut()).await {
        Some(held) => held,
        None => return Ok(done(report, clock)),
    };
    if let Err(e) = prepare(services, job, &mut report, claim, &guard).await {
        guard.release().await;
        return match e {
            Some(e) => Err(e),
            None => Ok(done(report, clock)),
        };
    }
    let ctx = JobContext::new(services, opts.strategy, guard.connection());
    let ctx = if opts.quiet { ctx.quiet() } else { ctx };
    let outcome = execute(job, &ctx, &mut report, cancel).await;
    // What the job left for the run's last message goes only if it succeeded.
    let with_run = match outcome {
        Ok(_) => ctx.take_commit_with_run(),
        Err(_) => Vec::new(),
    };
    // Its share of the lock's connection goes, so that `close` closes it.
    drop(ctx);
    let (last, result) = match finish(services, &mut report, outcome).await {
        Ok(last) => (last, Ok(())),
        Err(e) => (None, Err(e)),
    };
    conclude(&guard, &mut report, with_run, last).await;
    // The run ends with its last message (the lock is free); closing the
    // connection is teardown, like opening it.
    let report = result.map(|()| done(report, clock));
    guard.close().await;
    report
}

/// Sends the run's last message: the job's statements left for it, the
/// statement that records the run, the unlock. If it fails with statements
/// of the job in it, they rolled back, and the run becomes an error and is
/// recorded as one. Whatever fails, the lock is released.
async fn conclude(
    guard: &lock::LockGuard,
    report: &mut RunReport,
    with_run: Vec<String>,
    last: Option<String>,
) {
    if let Some(last) = last {
        let message = with_run
            .iter()
            .chain([&last])
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("; ");
        let failed = match guard.write_and_unlock(&message).await {
            Ok(()) => return,
            Err(e) => e,
        };
        if with_run.is_empty() {
            tracing::warn!(error = %failed, "could not record the run in job_runs");
        } else {
            report.fail(
                RunStatus::Error,
                JobError::Other(format!(
                    "{} (in the run's last message: the job's last statements rolled back)",
                    JobError::from(failed)
                )),
            );
            if let Some(id) = report.run_id {
                match guard.write_and_unlock(&history::finish(id, report)).await {
                    Ok(()) => return,
                    Err(e) => tracing::warn!(error = %e, "could not record the run in job_runs"),
                }
            }
        }
    }
    guard.unlock().await;
}

fn done(mut report: RunReport, clock: Instant) -> RunReport {
    let elapsed = clock.elapsed();
    report.duration_ms = elapsed.as_millis() as u64;
    report.duration_us = elapsed.as_micros() as u64;
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

/// With a tick: a transaction holding the tick's advisory lock until the
/// run's row (or its `locked` row) is written, so rival claims of one tick
/// take turns. Without a tick: `None`.
async fn claim_tick(
    services: &Services,
    report: &RunReport,
) -> Result<Option<DatabaseTransaction>, JobError> {
    let Some(tick) = &report.tick else {
        return Ok(None);
    };
    let txn = services.db.begin().await?;
    // Advisory locks have no ORM builder: a plain function call.
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "SELECT pg_advisory_xact_lock(hashtextextended('sitejobs-tick:' || $1, 0))",
        [tick.clone().into()],
    ))
    .await?;
    Ok(Some(txn))
}

/// Takes the job's lock (or waits for it with `opts.wait`). A lock held
/// elsewhere ends the run as `locked`, recorded once (and claiming its tick,
/// so a tick is recorded once however many schedulers try it).
async fn acquire(
    services: &Services,
    report: &mut RunReport,
    opts: &RunOptions,
    claim: Option<DatabaseTransaction>,
    cancel: Pin<&mut impl Future<Output = String>>,
) -> Option<(lock::LockGuard, Option<DatabaseTransaction>)> {
    let db = &services.db;
    let acquired = tokio::select! {
        biased;
        reason = cancel => Err(JobError::Interrupted(format!("{reason} while waiting for the lock"))),
        acquired = lock::acquire(db, &report.lock_key, opts.wait) => acquired,
    };
    report.started_at = Utc::now();
    match acquired {
        Ok(Some(guard)) => return Some((guard, claim)),
        Ok(None) => {
            let e = JobError::Locked {
                job: report.job.clone(),
                key: report.lock_key.clone(),
            };
            report.fail(RunStatus::Locked, e);
            // History of a run that did nothing is still worth keeping; failing to write it is not fatal.
            if let Err(e) = record(db, report, claim, None).await {
                tracing::warn!(error = %e, "could not record the run in job_runs");
            }
        }
        Err(e) => report.fail(RunStatus::Error, e),
    }
    None
}

/// With the lock held: validates the job against the data, then records the
/// `running` row, first closing the run of this key whose process died, if
/// any. `Err(Some(e))` is bad input (nothing written); `Err(None)`
/// ends the run with the report as it stands (its tick was claimed
/// elsewhere, or the history could not be written).
async fn prepare<J: Job>(
    services: &Services,
    job: &J,
    report: &mut RunReport,
    claim: Option<DatabaseTransaction>,
    guard: &lock::LockGuard,
) -> Result<(), Option<JobError>> {
    let db = &services.db;
    match job.validate(db).await {
        Err(e) if e.is_bad_input() => return Err(Some(e)),
        Err(e) => {
            report.fail(RunStatus::Error, e);
            return Err(None);
        }
        Ok(()) => {}
    }
    report.started_at = Utc::now();
    match record(db, report, claim, Some(guard)).await {
        Ok(()) if report.claimed_elsewhere => Err(None),
        Ok(()) => Ok(()),
        Err(e) => {
            report.fail(RunStatus::Error, e);
            Err(None)
        }
    }
}

/// Inserts the report's row, inside the tick's claim when there is one
/// (committed here). A run holding its lock (`guard`) writes the row on the
/// lock's connection (closing its key's abandoned row first, if the unique
/// index on `running` rows refuses the insert), before the claim commits, so the claim's advisory lock still orders rival
/// claims of the tick. A tick someone else claimed first makes the run
/// `locked` with `claimed_elsewhere` and writes nothing.
async fn record(
    db: &sea_orm::DatabaseConnection,
    report: &mut RunReport,
    claim: Option<DatabaseTransaction>,
    guard: Option<&lock::LockGuard>,
) -> Result<(), JobError> {
    let started = match (guard, &claim) {
        (Some(guard), _) => history::start_holding_lock(guard, report).await?,
        (None, Some(txn)) => history::Started {
            id: history::start(txn, report).await?,
            closed: 0,
        },
        (None, None) => history::Started {
            id: history::start(db, report).await?,
            closed: 0,
        },
    };
    if let Some(txn) = claim {
        txn.commit().await?;
    }
    if started.closed > 0 {
        tracing::warn!(key = %report.lock_key, closed = started.closed, "closed runs abandoned by a process that died");
    }
    match started.id {
        Some(id) => report.run_id = Some(id),
        None => {
            let tick = report.tick.clone().unwrap_or_default();
            report.claimed_elsewhere = true;
            report.fail(RunStatus::Locked, JobError::TickClaimed(tick));
        }
    }
    Ok(())
}

/// Runs the job, unless `cancel` resolves first (then the job's future is dropped).
async fn execute<J: Job>(
    job: &J,
    ctx: &JobContext,
    report: &mut RunReport,
    cancel: Pin<&mut impl Future<Output = String>>,
) -> Result<super::JobOutput, JobError> {
    tracing::info!(job = %report.job, key = %report.lock_key, strategy = %ctx.strategy, "job started");
    // Biased towards the signal: once it has come, the job is not polled again.
    let outcome = tokio::select! {
        biased;
        reason = cancel => {
            report.details = serde_json::json!({ "interrupted": reason });
            Err(JobError::Interrupted(reason))
        }
        outcome = job.run(ctx) => outcome,
    };
    report.db_statements = ctx.db_statements();
    report.redis_commands = ctx.redis_commands();
    outcome
}

/// Decides how the run ended and returns the statement that records it in
/// its row, for the release to send with the unlock. Bad input found while
/// running removes the row (such a run leaves no trace) and is returned as
/// the error.
async fn finish(
    services: &Services,
    report: &mut RunReport,
    outcome: Result<super::JobOutput, JobError>,
) -> Result<Option<String>, JobError> {
    let id = report.run_id;
    match outcome {
        Ok(out) => {
            report.status = RunStatus::Ok;
            report.rows = out.rows;
            report.details = out.details;
        }
        Err(e) if e.is_bad_input() => {
            if let Some(id) = id {
                if let Err(e) = history::forget(&services.db, id).await {
                    tracing::warn!(error = %e, "could not remove the run from job_runs");
                }
            }
            return Err(e);
        }
        Err(e) => report.fail(RunStatus::Error, e),
    }
    Ok(id.map(|id| history::finish(id, report)))
}

/// Peak resident set size of this process in KiB, from `/proc/self/status`.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
