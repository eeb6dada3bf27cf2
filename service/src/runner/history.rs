//! The `job_runs` history, written only here: a row when a run starts (or
//! claims its tick), completed when it ends; the rows of runs whose process
//! died are closed by the next run of the same lock key.
use chrono::Utc;
use entity::job_run::{self, RunStatus};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::RunReport;
use crate::error::JobError;

fn host() -> Option<String> {
    std::env::var("HOSTNAME").ok().or_else(|| {
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|s| s.trim().to_owned())
    })
}

/// Errors are stored without the passwords of the process's connection URLs.
fn scrubbed(error: &Option<String>) -> Option<String> {
    error
        .as_deref()
        .map(|e| crate::secrets::scrub(e).into_owned())
}

fn new_row(report: &RunReport) -> job_run::ActiveModel {
    job_run::ActiveModel {
        job: Set(report.job.clone()),
        lock_key: Set(report.lock_key.clone()),
        strategy: Set(report.strategy.as_str().to_owned()),
        params: Set(report.params.clone()),
        started_at: Set(report.started_at),
        status: Set(report.status),
        finished_at: Set((report.status != RunStatus::Running).then(Utc::now)),
        error: Set(scrubbed(&report.error)),
        rows: Set(0),
        db_statements: Set(0),
        redis_commands: Set(0),
        host: Set(host()),
        tick: Set(report.tick.clone()),
        ..Default::default()
    }
}

/// Inserts the row of `report`: `running` for a run that holds its lock, or
/// complete for one that found it held. With a tick, returns `None` when
/// another process already claimed that tick (the unique key on `tick` decides).
pub async fn start(db: &impl ConnectionTrait, report: &RunReport) -> Result<Option<i64>, JobError> {
    let inserted = job_run::Entity::insert(new_row(report))
        .on_conflict(
            OnConflict::column(job_run::Column::Tick)
                .do_nothing()
                .to_owned(),
        )
        .exec_with_returning_keys(db)
        .await?;
    Ok(inserted.into_iter().next())
}

/// Writes how the run ended into its row.
pub async fn finish(
    db: &impl ConnectionTrait,
    id: i64,
    report: &RunReport,
) -> Result<(), JobError> {
    let row = job_run::ActiveModel {
        id: Set(id),
        started_at: Set(report.started_at),
        finished_at: Set(Some(Utc::now())),
        status: Set(report.status),
        rows: Set(report.rows as i64),
        db_statements: Set(report.db_statements as i64),
        redis_commands: Set(report.redis_commands as i64),
        error: Set(scrubbed(&report.error)),
        ..Default::default()
    };
    job_run::Entity::update(row).exec(db).await?;
    Ok(())
}

/// Removes the row of a run rejected as bad input: such a run leaves no trace.
pub async fn forget(db: &impl ConnectionTrait, id: i64) -> Result<(), JobError> {
    job_run::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Closes, as `error`, the `running` rows of `lock_key`:
/// called by a run that holds the lock, so no live run owns them (a run writes
/// its `running` row only once it holds the lock, and keeps the lock until its
/// row is complete). Returns how many were closed.
pub async fn close_abandoned(db: &impl ConnectionTrait, lock_key: &str) -> Result<u64, JobError> {
    let query = job_run::Entity::update_many()
        .set(job_run::ActiveModel {
            status: Set(RunStatus::Error),
            finished_at: Set(Some(Utc::now())),
            error: Set(Some(
                "abandoned: the run's process died before it finished (closed by the next run of the same lock key)".to_owned(),
            )),
            ..Default::default()
        })
        .filter(job_run::Column::LockKey.eq(lock_key))
        .filter(job_run::Column::Status.eq(RunStatus::Running));
    Ok(query.exec(db).await?.rows_affected)
}

/// The most recent runs, newest first, optionally of one job.
pub async fn recent(
    db: &impl ConnectionTrait,
    job: Option<&str>,
    limit: u64,
) -> Result<Vec<job_run::Model>, JobError> {
    let mut query = job_run::Entity::find()
        .order_by_desc(job_run::Column::StartedAt)
        .order_by_desc(job_run::Column::Id)
        .limit(limit);
    if let Some(job) = job {
        query = query.filter(job_run::Column::Job.eq(job));
    }
    Ok(query.all(db).await?)
}

/// Whether some run already claimed `tick` (a scheduler checks before starting
/// a process for it; the claim in [`start`] is what decides).
pub async fn is_claimed(db: &impl ConnectionTrait, tick: &str) -> Result<bool, JobError> {
    let n = job_run::Entity::find()
        .filter(job_run::Column::Tick.eq(tick))
        .count(db)
        .await?;
    Ok(n > 0)
}

/// Closes the `running` row of `tick` whose process ended without closing it
/// (killed, crashed). Its transaction died with its connection. Returns
/// whether there was such a row.
pub async fn abandon(db: &impl ConnectionTrait, tick: &str, error: &str) -> Result<bool, JobError> {
    let done = job_run::Entity::update_many()
        .set(job_run::ActiveModel {
            status: Set(RunStatus::Error),
            finished_at: Set(Some(Utc::now())),
            error: Set(Some(crate::secrets::scrub(error).into_owned())),
            ..Default::default()
        })
        .filter(job_run::Column::Tick.eq(tick))
        .filter(job_run::Column::Status.eq(RunStatus::Running))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}
