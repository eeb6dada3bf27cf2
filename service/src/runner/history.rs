//! The `job_runs` history, written only here: a row when a run starts (or
//! claims its tick), completed when it ends; the rows of runs whose process
//! died are closed by the next run of the same lock key.
use chrono::Utc;
use entity::job_run::{self, RunStatus};
use sea_orm::sea_query::{OnConflict, PostgresQueryBuilder};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};

use sea_orm::sqlx::Row;

use super::lock::LockGuard;
use super::RunReport;
use crate::error::JobError;

fn host() -> Option<String> {
    std::env::var("HOSTNAME").ok().or_else(|| {
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|s| s.trim().to_owned())
    })
}

/// Errors are stored without the passwords of the process's connection URLs,
/// and with any NUL character (which PostgreSQL's text cannot hold) replaced.
fn scrubbed(error: &Option<String>) -> Option<String> {
    error
        .as_deref()
        .map(|e| crate::secrets::scrub(e).replace('\0', "\u{fffd}"))
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
        .on_conflict(on_tick_conflict())
        .exec_with_returning_keys(db)
        .await?;
    Ok(inserted.into_iter().next())
}

/// What [`start_holding_lock`] did.
pub struct Started {
    /// The run's row, as [`start`] returns it.
    pub id: Option<i64>,
    /// `running` rows of the lock key it closed as abandoned.
    pub closed: u64,
}

/// The unique partial index that keeps one `running` row per lock key
/// (migration `m20261130_700002`).
const ONE_RUNNING_PER_KEY: &str = "idx_job_runs_one_running_per_lock_key";

/// [`start`] for a run that holds its lock, on the lock's connection. A
/// `running` row its lock key already has belongs to a process that died (a
/// run writes its `running` row only once it holds the lock, and keeps the
/// lock until its row is complete), and the unique index on the key's
/// `running` rows refuses the insert: the run then closes that row as
/// `error` and inserts again. So the common case is one plain `INSERT`: the
/// row is written where the run starts, and every round trip and every
/// planned scan counts in a run of a few milliseconds.
pub async fn start_holding_lock(lock: &LockGuard, report: &RunReport) -> Result<Started, JobError> {
    // Only a ticked row can meet another on its tick: without one, the
    // arbiter index would only cost planning time.
    let mut started = job_run::Entity::insert(new_row(report));
    if report.tick.is_some() {
        started = started.on_conflict(on_tick_conflict());
    }
    let insert = started
        .into_query()
        .returning_col(job_run::Column::Id)
        .to_string(PostgresQueryBuilder);
    let id = |row: Option<sea_orm::sqlx::postgres::PgRow>| -> Result<Option<i64>, JobError> {
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    };
    match lock.fetch_optional(insert.clone()).await {
        Ok(row) => Ok(Started {
            id: id(row)?,
            closed: 0,
        }),
        Err(e) if is_violation_of(&e, ONE_RUNNING_PER_KEY) => {
            let close = job_run::Entity::update_many()
                .set(job_run::ActiveModel {
                    status: Set(RunStatus::Error),
                    finished_at: Set(Some(Utc::now())),
                    error: Set(Some(ABANDONED.to_owned())),
                    ..Default::default()
                })
                .filter(job_run::Column::LockKey.eq(&report.lock_key))
                .filter(job_run::Column::Status.eq(RunStatus::Running))
                .into_query()
                .to_string(PostgresQueryBuilder);
            let closed = lock.execute(close).await?;
            Ok(Started {
                id: id(lock.fetch_optional(insert).await?)?,
                closed,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether `e` is a unique violation of the index `name`.
fn is_violation_of(e: &sea_orm::sqlx::Error, name: &str) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation() && d.constraint() == Some(name))
}

fn on_tick_conflict() -> OnConflict {
    OnConflict::column(job_run::Column::Tick)
        .do_nothing()
        .to_owned()
}

const ABANDONED: &str = "abandoned: the run's process died before it finished (closed by the next run of the same lock key)";

/// The statement that writes how the run ended into its row, values written
/// in: the run sends it on its lock's connection, with the unlock
/// (`LockGuard::write_and_unlock`), after any statements the job left for it.
pub fn finish(id: i64, report: &RunReport) -> String {
    job_run::Entity::update_many()
        .set(job_run::ActiveModel {
            started_at: Set(report.started_at),
            finished_at: Set(Some(Utc::now())),
            status: Set(report.status),
            rows: Set(report.rows as i64),
            db_statements: Set(report.db_statements as i64),
            redis_commands: Set(report.redis_commands as i64),
            error: Set(scrubbed(&report.error)),
            ..Default::default()
        })
        .filter(job_run::Column::Id.eq(id))
        .into_query()
        .to_string(PostgresQueryBuilder)
}

/// Removes the row of a run rejected as bad input: such a run leaves no trace.
pub async fn forget(db: &impl ConnectionTrait, id: i64) -> Result<(), JobError> {
    job_run::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
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
