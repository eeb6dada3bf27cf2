//! The migration runner that deploy pipelines can trust (contract §4).
//!
//! - **Turns.** Every command that changes the schema takes the advisory lock
//!   [`LOCK_KEY`] first, on a connection of its own held until the command ends
//!   ([`take_turn`]); several `migrate up` started at once apply each migration
//!   once and all succeed. The wait polls `pg_try_advisory_lock` instead of
//!   blocking in `pg_advisory_lock`: a session blocked in a statement keeps a
//!   snapshot open, and `CREATE INDEX CONCURRENTLY` in the lock holder waits for
//!   every older snapshot, so a blocking wait would deadlock the two.
//! - **One step at a time.** Migrations are applied (or reverted) one per call
//!   into sea-orm-migration, so a failure names its migration and carries the
//!   server's message only; each transactional migration rolls back whole.
//! - **Guard.** [`guard`] refuses the commands that wipe data on a production database.
//! - **Online-safe.** Each migration runs under `migration::online`'s rule.
pub mod guard;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;

use crate::error::{clean_db_message, JobError};
use crate::runner::lock::{self, LockGuard};

/// The advisory lock every schema-changing `sitejobs migrate` takes.
pub const LOCK_KEY: &str = "sitejobs:migrate";

/// How often a waiting command asks for the lock again.
const POLL: Duration = Duration::from_millis(250);

/// One migration and whether it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationState {
    /// The migration's name (`mYYYYMMDD_HHMMSS_verb_noun`).
    pub name: String,
    /// Recorded in `seaql_migrations`.
    pub applied: bool,
}

/// Takes the migration lock, waiting for whoever holds it. `on_wait` is called
/// once, with the holder's backend pid when it can be seen, if the lock was busy.
pub async fn take_turn(
    db: &DatabaseConnection,
    on_wait: impl FnOnce(Option<i32>),
) -> Result<LockGuard, JobError> {
    let mut on_wait = Some(on_wait);
    loop {
        if let Some(guard) = lock::acquire(db, LOCK_KEY, false).await? {
            return Ok(guard);
        }
        if let Some(say) = on_wait.take() {
            say(holder(db).await.unwrap_or(None));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The backend pid holding the migration lock, if any.
async fn holder(db: &DatabaseConnection) -> Result<Option<i32>, JobError> {
    use sea_orm::{ConnectionTrait, Statement};
    // pg_locks has no ORM form; a bigint advisory key shows as classid (high
    // 32 bits) and objid (low 32 bits) with objsubid = 1.
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT pid FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)
             LIMIT 1",
            [LOCK_KEY.into()],
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<i32>("", "pid")).transpose()?)
}

/// Every migration with its state, read without writing anything (a database
/// never migrated reports all of them pending).
pub async fn status(db: &DatabaseConnection) -> Result<Vec<MigrationState>, JobError> {
    Ok(Migrator::get_migration_with_status_read_only(db)
        .await?
        .iter()
        .map(|m| MigrationState {
            name: m.name().to_owned(),
            applied: m.status() == migration::MigrationStatus::Applied,
        })
        .collect())
}

/// The migrations not applied yet, in order.
pub async fn pending(db: &DatabaseConnection) -> Result<Vec<String>, JobError> {
    Ok(status(db)
        .await?
        .into_iter()
        .filter(|m| !m.applied)
        .map(|m| m.name)
        .collect())
}

/// Applies the pending migrations (all, or the next `num`), one at a time;
/// returns the names applied. Call it holding [`take_turn`]'s lock.
pub async fn up(db: &DatabaseConnection, num: Option<u32>) -> Result<Vec<String>, JobError> {
    let mut applied = Vec::new();
    let wanted = num.map_or(usize::MAX, |n| n as usize);
    while applied.len() < wanted {
        let Some(next) = Migrator::get_pending_migrations(db)
            .await?
            .first()
            .map(|m| m.name().to_owned())
        else {
            break;
        };
        tracing::info!(migration = %next, "applying");
        Migrator::up(db, Some(1))
            .await
            .map_err(|e| failed(&next, &e))?;
        tracing::info!(migration = %next, "applied");
        applied.push(next);
    }
    Ok(applied)
}

/// Reverts the last `num` applied migrations (all when `None`), one at a time;
/// returns the names reverted. Call it holding [`take_turn`]'s lock.
pub async fn down(db: &DatabaseConnection, num: Option<u32>) -> Result<Vec<String>, JobError> {
    let mut reverted = Vec::new();
    let wanted = num.map_or(usize::MAX, |n| n as usize);
    while reverted.len() < wanted {
        let Some(last) = Migrator::get_applied_migrations(db)
            .await?
            .last()
            .map(|m| m.name().to_owned())
        else {
            break;
        };
        Migrator::down(db, Some(1))
            .await
            .map_err(|e| failed(&last, &e))?;
        tracing::info!(migration = %last, "reverted");
        reverted.push(last);
    }
    Ok(reverted)
}

/// Reverts every migration and drops the migrations table (sea-orm-migration's `reset`).
pub async fn reset(db: &DatabaseConnection) -> Result<Vec<String>, JobError> {
    let reverted = down(db, None).await?;
    Migrator::uninstall(db).await?;
    Ok(reverted)
}

/// Drops every table and type of the schema, then applies every migration
/// (sea-orm-migration's `fresh`, one step at a time).
pub async fn fresh(db: &DatabaseConnection) -> Result<Vec<String>, JobError> {
    // sea-orm-migration's drop-everything is reachable only through `fresh`:
    // run it with an empty list of migrations, then apply ours one by one.
    NoMigrations::fresh(db).await?;
    up(db, None).await
}

struct NoMigrations;

impl MigratorTrait for NoMigrations {
    fn migrations() -> Vec<Box<dyn migration::MigrationTrait>> {
        Vec::new()
    }
}

/// One line naming the migration and the database's own message (without
/// sea-orm's wrappers or the server's " at line N" source marker).
fn failed(name: &str, e: &sea_orm::DbErr) -> JobError {
    let message = match e {
        sea_orm::DbErr::Migration(m) => m.clone(),
        _ => migration::online::server_message(e).unwrap_or_else(|| clean_db_message(e)),
    };
    JobError::Other(format!("migration {name} failed: {message}"))
}
