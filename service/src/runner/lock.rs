//! Advisory locks that cannot leak. A session lock taken through the pool can
//! outlive the run on a recycled connection, so the lock lives on a connection
//! detached from the pool: releasing the guard unlocks and closes it, and if the
//! process dies the server drops the lock with the connection. That
//! connection is the run's own: its history is written there, and a job may
//! send its statements there too ([`JobContext::session`](super::JobContext::session)).
use std::sync::Arc;

use sea_orm::sea_query::{Func, PostgresQueryBuilder, Query};
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{self, Connection, PgConnection, Row};
use sea_orm::DatabaseConnection;
use tokio::sync::Mutex;

use crate::error::JobError;

/// A held advisory lock and the dedicated connection it lives on. Call [`release`](Self::release);
/// a guard dropped instead closes the connection, and the server frees the lock with it.
pub struct LockGuard {
    conn: Arc<Mutex<PgConnection>>,
    key: String,
}

/// Takes the lock `key` (hashed to PostgreSQL's 64-bit lock space). Returns
/// `None` when another session holds it, unless `wait`, which blocks until it is free.
pub async fn acquire(
    db: &DatabaseConnection,
    key: &str,
    wait: bool,
) -> Result<Option<LockGuard>, JobError> {
    let mut conn = db.get_postgres_connection_pool().acquire().await?.detach();
    let got = if wait {
        // `pg_advisory_lock` returns once it holds the lock (its value is void).
        simple(&mut conn, lock_call("pg_advisory_lock", key))
            .await?
            .is_some()
    } else {
        match simple(&mut conn, lock_call("pg_try_advisory_lock", key)).await? {
            Some(row) => row.try_get::<bool, _>(0)?,
            None => false,
        }
    };
    if got {
        Ok(Some(LockGuard {
            conn: Arc::new(Mutex::new(conn)),
            key: key.to_owned(),
        }))
    } else {
        let _ = conn.close().await;
        Ok(None)
    }
}

/// `SELECT <function>(hashtextextended(<key>, 0))`.
fn lock_call(function: &'static str, key: &str) -> String {
    Query::select()
        .expr(Func::cust(function).arg(Func::cust("hashtextextended").arg(key).arg(0)))
        .to_string(PostgresQueryBuilder)
}

/// Sends `sql` with the simple query protocol and returns its first row.
/// Every statement on this connection is the first of its kind there, and
/// sqlx spends a round trip of its own preparing such a statement (Parse,
/// then Bind and Execute); the simple protocol takes one, which is most of
/// these statements' cost once the network is more than a loopback. The
/// values are written into the SQL by sea-query, which quotes strings as
/// PostgreSQL reads them whatever `standard_conforming_strings` says (`E'...'`
/// with backslash escapes when a string needs escaping).
async fn simple(conn: &mut PgConnection, sql: String) -> Result<Option<PgRow>, sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .fetch_optional(conn)
        .await
}

impl LockGuard {
    /// The lock key as given to [`acquire`], before hashing.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Sends `sql` (built by sea-query's `to_string`, values written in) on
    /// the lock's connection and returns its first row, if any. The run's
    /// `job_runs` row is written here: beside the lock that guards it, on one
    /// server process that loads the table's catalog once, with no pool
    /// checkout, in one round trip each (see [`simple`]).
    pub(crate) async fn fetch_optional(&self, sql: String) -> Result<Option<PgRow>, sqlx::Error> {
        simple(&mut *self.conn.lock().await, sql).await
    }

    /// [`fetch_optional`](Self::fetch_optional) for a statement whose rows
    /// do not matter: returns the number of rows it affected.
    pub(crate) async fn execute(&self, sql: String) -> Result<u64, sqlx::Error> {
        let mut conn = self.conn.lock().await;
        let done = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected())
    }

    /// The lock's connection, shared with the job's context for the run.
    pub(crate) fn connection(&self) -> Arc<Mutex<PgConnection>> {
        self.conn.clone()
    }

    /// Unlocks and closes the dedicated connection. A share of it still held
    /// elsewhere only delays the close until that share is dropped; the lock
    /// is released either way.
    pub async fn release(self) {
        self.unlock().await;
        self.close().await;
    }

    /// Sends `last` (the run's last statements, built by sea-query's
    /// `to_string`, values written in) and the unlock in one message: one
    /// round trip for all. They run in one implicit transaction, so `last`
    /// commits a moment after the lock is free; a run that takes the lock in
    /// that moment and inserts its own `running` row waits on the unique
    /// index of `running` rows for that commit, and then finds this row
    /// complete. On an error nothing of `last` committed and the statements
    /// after the failing one, the unlock among them, did not run: the lock
    /// is still held.
    pub(crate) async fn write_and_unlock(&self, last: &str) -> Result<(), sqlx::Error> {
        let unlock = lock_call("pg_advisory_unlock", &self.key);
        self.execute(format!("{last}; {unlock}")).await.map(|_| ())
    }

    /// Unlocks, on its own. A failure is logged: closing the connection
    /// releases the lock anyway.
    pub(crate) async fn unlock(&self) {
        let unlock = lock_call("pg_advisory_unlock", &self.key);
        if let Err(e) = simple(&mut *self.conn.lock().await, unlock).await {
            tracing::warn!(key = %self.key, error = %e, "unlock failed; closing the connection releases it");
        }
    }

    /// Closes the dedicated connection (once no share of it is left).
    pub(crate) async fn close(self) {
        if let Ok(conn) = Arc::try_unwrap(self.conn) {
            let _ = conn.into_inner().close().await;
        }
    }
}
