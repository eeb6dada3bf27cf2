//! `sitejobs schedule`: starts each job of a schedule file at the times its
//! cron expression gives, as a child process, until SIGTERM or Ctrl-C.
//!
//! Guarantees, with any number of schedulers on one database:
//! - **one run per tick.** Each run carries its tick (`<job> <args>@<time>`)
//!   and claims it in `job_runs`, whose `tick` column is unique: the first
//!   claim wins, the others exit without writing anything. A scheduler checks
//!   the claim before starting a process, so losers rarely even start one.
//! - **no overlap.** The runner's advisory lock: a tick whose job is still
//!   running from an earlier tick is recorded once, as `locked`.
//! - **shared fan-out.** `denormalize-profiles --all` is split into one run per
//!   community, each with its own claim, taken in a random rotation: the
//!   schedulers that are free take the communities that are left.
//! - **failures stay runs.** A failing job is recorded by its run and the next
//!   tick runs it again; a process that dies leaves no `running` row behind; a
//!   database that cannot be reached is retried with backoff until the next tick.
//! - **bounded shutdown.** On the first SIGTERM/SIGINT no new run starts, the
//!   running ones get `grace` to finish, then are told to roll back (SIGTERM),
//!   then killed; a second signal skips the wait. Then the scheduler exits.
pub mod child;
pub mod config;
pub mod fanout;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;

pub use child::Launcher;
pub use config::{Entry, Schedule};

use crate::error::JobError;
use crate::ops::Monitor;
use crate::runner::{history, lock};
use crate::signals::Signals;

/// Where the scheduler is in its shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// No signal yet: jobs start as their ticks come.
    Running,
    /// First signal: start nothing new, let running jobs finish within the grace period.
    Graceful,
    /// Second signal: stop running jobs now.
    Now,
}

/// What a scheduler shares between its jobs.
struct Shared {
    db: DatabaseConnection,
    launcher: Launcher,
    grace: Duration,
    monitor: Arc<Monitor>,
}

/// One unit of work at one tick: `run <job> <args>`, claimed as `tick`.
struct Unit {
    args: Vec<String>,
    tick: String,
}

/// Runs `schedule` until a termination signal, then shuts down as described above.
pub async fn run(
    schedule: Schedule,
    db: DatabaseConnection,
    launcher: Launcher,
    grace: Duration,
    mut signals: Signals,
    monitor: Arc<Monitor>,
) {
    let shared = Arc::new(Shared {
        db,
        launcher,
        grace,
        monitor,
    });
    let (stop_tx, stop_rx) = watch::channel(Stop::Running);
    let mut tasks = tokio::task::JoinSet::new();
    let mut loops = 0;
    for entry in schedule.entries {
        tracing::info!(job = %entry.name, cron = %entry.cron_text, timezone = %entry.timezone, args = %entry.args.join(" "), "scheduled");
        tasks.spawn(entry_loop(entry, shared.clone(), stop_rx.clone()));
        loops += 1;
    }
    shared.monitor.set_loops(loops);
    // Pruning is one more task: it ends on the stop signal like the loops.
    let pruning = tasks
        .spawn(crate::ops::prune::daily(
            shared.db.clone(),
            schedule.history_retention,
            stop_rx.clone(),
        ))
        .id();
    loop {
        tokio::select! {
            signal = signals.recv() => {
                shared.monitor.set_stopping();
                let next = if *stop_tx.borrow() == Stop::Running { Stop::Graceful } else { Stop::Now };
                tracing::info!(signal, grace_s = grace.as_secs(), "stopping: no new runs; running ones get the grace period (signal again to stop them now)");
                stop_tx.send_replace(next);
            }
            done = tasks.join_next_with_id() => {
                let ended = match &done {
                    Some(Ok((id, ()))) => Some(*id),
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "a schedule task ended abnormally");
                        Some(e.id())
                    }
                    None => None,
                };
                if ended.is_some_and(|id| id != pruning) {
                    loops -= 1;
                    shared.monitor.set_loops(loops);
                }
                if done.is_none() {
                    break;
                }
            }
        }
    }
    tracing::info!("scheduler stopped");
}

async fn entry_loop(entry: Entry, shared: Arc<Shared>, mut stop: watch::Receiver<Stop>) {
    let mut after = Utc::now();
    loop {
        let Some(tick) = entry.next_after(after) else {
            tracing::info!(job = %entry.name, "no more ticks");
            return;
        };
        // Sleep in short steps against the wall clock: a suspended machine or a
        // stepped clock must not make a tick fire hours late.
        while let Ok(wait) = (tick - Utc::now()).to_std() {
            tokio::select! {
                _ = tokio::time::sleep(wait.min(Duration::from_secs(30))) => {}
                _ = stop.wait_for(|s| *s != Stop::Running) => return,
            }
        }
        run_tick(&entry, tick, &shared, &stop).await;
        if *stop.borrow() != Stop::Running {
            return;
        }
        let now = Utc::now();
        let missed = entry.ticks_between(tick, now);
        if missed > 0 {
            // One scheduler runs one tick of a job at a time; others may take these.
            tracing::warn!(job = %entry.name, missed, "ticks passed while the previous run was going");
        }
        after = tick.max(now);
    }
}

/// The units of one tick: the entry itself, or one per community for a fan-out
/// (listed at the tick, retried with backoff while the database is unreachable).
async fn units(
    entry: &Entry,
    tick: DateTime<Utc>,
    shared: &Shared,
    stop: &watch::Receiver<Stop>,
) -> Vec<Unit> {
    let at = tick.to_rfc3339_opts(SecondsFormat::Secs, true);
    let unit = |args: Vec<String>| {
        let key = std::iter::once(entry.name.as_str())
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        Unit {
            args,
            tick: format!("{key}@{at}"),
        }
    };
    let Some(units) = entry.fanout else {
        return vec![unit(entry.args.clone())];
    };
    let deadline = entry.next_after(tick).unwrap_or(tick);
    let listed = retrying(entry, deadline, stop, || async {
        units.list(&shared.db).await
    })
    .await;
    let mut ids = listed.unwrap_or_default();
    // A random rotation: schedulers starting together rarely race for the same unit.
    if !ids.is_empty() {
        let k = rand::rng().random_range(0..ids.len());
        ids.rotate_left(k);
    }
    ids.iter()
        .filter_map(|&id| match entry.unit_args(id) {
            Ok(args) => Some(unit(args)),
            Err(e) => {
                tracing::error!(job = %entry.name, unit = id, error = %e, "cannot build the unit's run");
                None
            }
        })
        .collect()
}

async fn run_tick(
    entry: &Entry,
    tick: DateTime<Utc>,
    shared: &Shared,
    stop: &watch::Receiver<Stop>,
) {
    let deadline = entry.next_after(tick).unwrap_or(tick);
    for unit in units(entry, tick, shared, stop).await {
        if *stop.borrow() != Stop::Running {
            return;
        }
        // Retried (with backoff, until the next tick) only while the run did not start.
        let _ = retrying(entry, deadline, stop, || {
            run_unit(entry, &unit, shared, stop)
        })
        .await;
    }
}

/// Why an attempt at a unit did not get as far as a run: worth another try.
#[derive(Debug)]
struct NotStarted(String);

impl std::fmt::Display for NotStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<JobError> for NotStarted {
    fn from(e: JobError) -> Self {
        Self(e.to_string())
    }
}

/// Calls `attempt` until it succeeds, the deadline passes or a stop is asked,
/// sleeping an exponential backoff (1 s doubling to 60 s, with jitter) between tries.
async fn retrying<T, E, F, Fut>(
    entry: &Entry,
    deadline: DateTime<Utc>,
    stop: &watch::Receiver<Stop>,
    mut attempt: F,
) -> Option<T>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut stop = stop.clone();
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(60))
        .with_jitter()
        .without_max_times()
        .build();
    loop {
        let error = match attempt().await {
            Ok(v) => return Some(v),
            Err(e) => e.to_string(),
        };
        let delay = delays.next().unwrap_or(Duration::from_secs(60));
        let remaining = (deadline - Utc::now()).to_std().unwrap_or_default();
        if delay >= remaining || *stop.borrow() != Stop::Running {
            tracing::error!(job = %entry.name, error, "giving up on this tick");
            return None;
        }
        tracing::warn!(job = %entry.name, error, retry_in_ms = delay.as_millis() as u64, "retrying");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s != Stop::Running) => return None,
        }
    }
}

/// One attempt at a unit: skip it if its tick is claimed, else run it in a child.
async fn run_unit(
    entry: &Entry,
    unit: &Unit,
    shared: &Shared,
    stop: &watch::Receiver<Stop>,
) -> Result<(), NotStarted> {
    if history::is_claimed(&shared.db, &unit.tick).await? {
        tracing::debug!(job = %entry.name, tick = %unit.tick, "tick claimed by another scheduler");
        return Ok(());
    }
    let mut stop = stop.clone();
    let args = unit.args.join(" ");
    let end = shared
        .launcher
        .run(
            &entry.name,
            &unit.args,
            &unit.tick,
            &mut stop,
            shared.grace,
            |pid| {
                tracing::info!(job = %entry.name, tick = %unit.tick, args, pid, "run started");
            },
        )
        .await?;
    let code = end.status.code();
    match &end.report {
        Some(r) if r.claimed_elsewhere => {
            tracing::info!(job = %entry.name, tick = %unit.tick, status = "skipped", "run finished: tick claimed by another scheduler");
        }
        Some(r) => {
            shared
                .monitor
                .run_ended(&entry.name, r.status.as_str(), r.duration_ms, r.rows);
            if let Some(line) = &end.line {
                // Results go to stdout; a closed stdout must not stop the scheduler.
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
            tracing::info!(
                job = %entry.name,
                tick = %unit.tick,
                status = r.status.as_str(),
                rows = r.rows,
                duration_ms = r.duration_ms,
                db_statements = r.db_statements,
                exit_code = code,
                error = r.error.as_deref().unwrap_or(""),
                "run finished"
            );
        }
        None if code == Some(2) => {
            shared.monitor.run_ended(&entry.name, "bad_input", 0, 0);
            // Bad input is not fixed by trying again; the child said why on stderr.
            tracing::error!(job = %entry.name, tick = %unit.tick, status = "bad_input", exit_code = code, "run finished: rejected as bad input");
        }
        None => {
            let (what, recorded) = died(&shared.db, unit, &end).await;
            if recorded {
                // The tick counts as a failed run (it is not retried): so do the metrics.
                shared.monitor.run_ended(&entry.name, "error", 0, 0);
            }
            return Err(NotStarted(what));
        }
    }
    Ok(())
}

/// A child that printed no JSON line died before, or while, running. If it had
/// claimed its tick, the row still says `running`: close it, so the tick counts
/// as run (with an error) and is not retried. Returns what to log, and whether
/// the run was recorded as an error.
async fn died(db: &DatabaseConnection, unit: &Unit, end: &child::ChildEnd) -> (String, bool) {
    use std::os::unix::process::ExitStatusExt;
    let how = match (end.killed, end.status.signal(), end.status.code()) {
        (true, _, _) => "killed after the grace period".to_owned(),
        (_, Some(sig), _) => format!("killed by signal {sig}"),
        (_, _, Some(code)) => format!("exited {code} without a report"),
        _ => "ended without a report".to_owned(),
    };
    match close_dead_run(db, &unit.tick, &format!("the run's process was {how}")).await {
        Ok(true) => (
            format!("the run's process was {how}; recorded as an error"),
            true,
        ),
        Ok(false) => (format!("the run's process {how} before it started"), false),
        Err(e) => (
            format!("the run's process {how}; could not check job_runs: {e}"),
            false,
        ),
    }
}

/// Marks the `running` row of `tick` as an error, if its run is dead: nobody
/// holds its lock any more (a live run holds it from claim to finish, bar the
/// instant between the two).
async fn close_dead_run(
    db: &DatabaseConnection,
    tick: &str,
    error: &str,
) -> Result<bool, JobError> {
    use entity::job_run;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let row = job_run::Entity::find()
        .filter(job_run::Column::Tick.eq(tick))
        .filter(job_run::Column::Status.eq(job_run::RunStatus::Running))
        .one(db)
        .await?;
    let Some(row) = row else { return Ok(false) };
    // The server frees a dead client's lock when it sees the connection close: give it a moment.
    for _ in 0..30 {
        if let Some(guard) = lock::acquire(db, &row.lock_key, false).await? {
            let closed = history::abandon(db, tick, error).await;
            guard.release().await;
            return closed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(false)
}
