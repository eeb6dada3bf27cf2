//! Online-safe by rule: every migration in [`crate::Migrator`] is wrapped in
//! [`Online`], so none of them can queue the site's writers behind a lock it
//! is waiting for.
//!
//! A DDL statement that needs a strong lock (`ALTER TABLE`, `CREATE TRIGGER`,
//! a foreign key to an existing table) waits behind any long transaction on
//! that table, and while it waits every writer queues behind *it*. So each
//! migration that runs in a transaction first sets a short `lock_timeout`
//! (`SET LOCAL`: it ends with the migration's transaction) and a
//! `statement_timeout`, and when a
//! statement gives up on a lock the migration rolls back to a savepoint taken
//! before its first statement (which releases every lock it took) and tries
//! again after an exponential backoff, as strong_migrations and
//! django-pg-zero-downtime-migrations do. A busy table delays the deploy; it
//! never stalls the site. The backoff is `backon`'s, not a hand-written loop.
//!
//! Migrations that opt out of the transaction (`CREATE INDEX CONCURRENTLY`, the
//! batched backfill) take only locks that writers do not wait for; they are
//! idempotent, so a lock timeout inside them is retried by rerunning them whole.
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{sqlx, ConnectionTrait, RuntimeErr};

/// How long one DDL statement may wait for its lock before the attempt is rolled back.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one statement of a transactional migration may run: its locks
/// last as long as it does, so a slow one is an outage of its own (build a big
/// index `CONCURRENTLY`, in a migration without a transaction, instead).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Attempts after the first one before the migration fails (about a minute and
/// a half of waiting in all with the backoff below).
pub const RETRIES: usize = 8;

/// PostgreSQL's SQLSTATE for "could not obtain lock" (`lock_timeout` expired).
const LOCK_NOT_AVAILABLE: &str = "55P03";

const SAVEPOINT: &str = "sitejobs_online_attempt";

/// A migration run under the online-safe rule (see the module docs).
pub struct Online {
    inner: Box<dyn MigrationTrait>,
    lock_timeout: Duration,
    backoff: ExponentialBuilder,
}

impl Online {
    pub fn new(inner: Box<dyn MigrationTrait>) -> Self {
        Self {
            inner,
            lock_timeout: LOCK_TIMEOUT,
            backoff: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(10))
                .with_max_times(RETRIES)
                .with_jitter(),
        }
    }

    /// The same rule with another lock timeout and backoff (tests use short ones).
    pub fn with_timing(mut self, lock_timeout: Duration, min_delay: Duration) -> Self {
        self.lock_timeout = lock_timeout;
        self.backoff = self
            .backoff
            .with_min_delay(min_delay)
            .with_max_delay(min_delay.saturating_mul(8));
        self
    }

    fn in_transaction(&self) -> bool {
        self.inner.use_transaction() != Some(false)
    }

    async fn attempt(&self, manager: &SchemaManager<'_>, up: bool) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if !self.in_transaction() {
            return self.step(manager, up).await;
        }
        // SAVEPOINT / ROLLBACK TO have no sea-query builder; they must share the
        // migration's transaction, which is what this connection is.
        db.execute_unprepared(&format!("SAVEPOINT {SAVEPOINT}"))
            .await?;
        match self.step(manager, up).await {
            Ok(()) => {
                db.execute_unprepared(&format!("RELEASE SAVEPOINT {SAVEPOINT}"))
                    .await?;
                Ok(())
            }
            Err(e) => {
                // Undoes this attempt and releases the locks it took, so the
                // backoff sleep holds nothing that writers could wait for.
                db.execute_unprepared(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"))
                    .await?;
                Err(e)
            }
        }
    }

    async fn step(&self, manager: &SchemaManager<'_>, up: bool) -> Result<(), DbErr> {
        if up {
            self.inner.up(manager).await
        } else {
            self.inner.down(manager).await
        }
    }

    async fn run(&self, manager: &SchemaManager<'_>, up: bool) -> Result<(), DbErr> {
        if self.in_transaction() {
            // SET LOCAL has no builder; it lasts until the migration's transaction ends.
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = '{}ms'",
                    self.lock_timeout.as_millis(),
                    STATEMENT_TIMEOUT.as_millis()
                ))
                .await?;
        }
        let name = self.inner.name().to_owned();
        (|| self.attempt(manager, up))
            .retry(self.backoff)
            .when(is_lock_timeout)
            .notify(|_, wait| {
                tracing::warn!(
                    migration = %name,
                    retry_in_ms = wait.as_millis() as u64,
                    "a lock is busy (lock_timeout); retrying so writers are not queued behind this migration"
                );
            })
            .await
    }
}

impl MigrationName for Online {
    fn name(&self) -> &str {
        self.inner.name()
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Online {
    fn use_transaction(&self) -> Option<bool> {
        self.inner.use_transaction()
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.run(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.run(manager, false).await
    }
}

/// The SQLSTATE of the database error inside `e`, if it is one.
pub fn sqlstate(e: &DbErr) -> Option<String> {
    database_error(e).and_then(|d| d.code().map(|c| c.into_owned()))
}

/// The server's own message inside `e` (without sea-orm's wrappers), if it is a database error.
pub fn server_message(e: &DbErr) -> Option<String> {
    database_error(e).map(|d| d.message().to_owned())
}

fn database_error(e: &DbErr) -> Option<&(dyn sqlx::error::DatabaseError + 'static)> {
    let runtime = match e {
        DbErr::Exec(r) | DbErr::Query(r) | DbErr::Conn(r) => r,
        _ => return None,
    };
    match runtime {
        RuntimeErr::SqlxError(s) => match s.as_ref() {
            sqlx::Error::Database(d) => Some(d.as_ref()),
            _ => None,
        },
        _ => None,
    }
}

/// True when `e` is a statement that gave up waiting for a lock.
pub fn is_lock_timeout(e: &DbErr) -> bool {
    sqlstate(e).as_deref() == Some(LOCK_NOT_AVAILABLE)
}
