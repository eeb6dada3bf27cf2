//! Keeping `job_runs` tidy: rows of runs that ended before a cutoff go, but
//! never a job's latest run (so "when did it last run, and how" survives any
//! retention). `sitejobs runs prune` calls [`prune`]; the scheduler calls it
//! once a day through [`daily`].
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::job_run;
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter};
use tokio::sync::watch;

use crate::error::JobError;
use crate::schedule::Stop;

/// How often the scheduler prunes.
pub const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses an age such as `30d`, `12h`, `90m` or `1d 12h` (humantime's syntax).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let age = humantime::parse_duration(text.trim())
        .map_err(|e| format!("'{text}' is not a duration such as 30d or 12h ({e})"))?;
    if age.is_zero() {
        return Err(format!("'{text}' is zero: give an age such as 30d or 12h"));
    }
    Ok(age)
}

/// The instant `age` before `now`, or bad input when that is before the epoch.
pub fn cutoff(now: DateTime<Utc>, age: Duration) -> Result<DateTime<Utc>, JobError> {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|a| now.checked_sub_signed(a))
        .ok_or_else(|| JobError::bad_input(format!("an age of {age:?} reaches before any date")))
}

/// Deletes the runs that finished before `cutoff`, except each job's latest
/// run; returns how many went. A run still `running` has no end and stays.
pub async fn prune(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64, JobError> {
    // Latest by start time, not by id: rows copied in from elsewhere, or written
    // by machines whose clocks differ, need not have ids in time order.
    let latest = Query::select()
        .distinct_on([job_run::Column::Job])
        .column(job_run::Column::Id)
        .from(job_run::Entity)
        .order_by(job_run::Column::Job, Order::Asc)
        .order_by(job_run::Column::StartedAt, Order::Desc)
        .order_by(job_run::Column::Id, Order::Desc)
        .to_owned();
    let done = job_run::Entity::delete_many()
        .filter(job_run::Column::FinishedAt.lt(cutoff))
        .filter(job_run::Column::Id.not_in_subquery(latest))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// The scheduler's pruning: once at start, then every [`EVERY`], until a stop
/// is asked. Every scheduler sharing a database does it; deleting twice is harmless.
pub async fn daily(
    db: sea_orm::DatabaseConnection,
    retention: Duration,
    mut stop: watch::Receiver<Stop>,
) {
    loop {
        match cutoff(Utc::now(), retention) {
            Ok(before) => match prune(&db, before).await {
                Ok(n) => tracing::info!(deleted = n, before = %before, "pruned job_runs"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not prune job_runs; trying again tomorrow")
                }
            },
            Err(e) => tracing::warn!(error = %e, "history_retention too long; not pruning"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|s| *s != Stop::Running) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_in_days_and_hours() {
        assert_eq!(parse_age("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert!(parse_age("0d").is_err());
        assert!(parse_age("thirty days").is_err());
        assert!(parse_age("-3d").is_err());
    }
}
