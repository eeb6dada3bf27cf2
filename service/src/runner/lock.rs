//! Advisory locks that cannot leak. A session lock taken through the pool can
//! outlive the run on a recycled connection, so the lock lives on a connection
//! detached from the pool: releasing the guard unlocks and closes it, and if the
//! process dies the server drops the lock with the connection.
use sea_orm::sea_query::PostgresQueryBuilder;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{self, Connection, PgConnection};
use sea_orm::DatabaseConnection;
use sea_query_sqlx::SqlxBinder;

use crate::error::JobError;

/// A held advisory lock and the dedicated connection it lives on. Call [`release`](Self::release);
/// a guard dropped instead closes the connection, and the server frees the lock with it.
pub struct LockGuard {
    conn: PgConnection,
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
    let sql = if wait {
        "SELECT true FROM (SELECT pg_advisory_lock(hashtextextended($1, 0))) AS l"
    } else {
        "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
    };
    let got: bool = sqlx::query_scalar(sql)
        .bind(key)
        .fetch_one(&mut conn)
        .await?;
    if got {
        Ok(Some(LockGuard {
            conn,
            key: key.to_owned(),
        }))
    } else {
        let _ = conn.close().await;
        Ok(None)
    }
}

impl LockGuard {
    /// The lock key as given to [`acquire`], before hashing.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Sends `query` (a sea-query statement) on the lock's connection and
    /// returns its first row, if any. The run's `job_runs` row is written
    /// here: beside the lock that guards it, on one server process that
    /// loads the table's catalog entries once, and with no pool checkout.
    pub(crate) async fn fetch_optional(
        &mut self,
        query: &impl SqlxBinder,
    ) -> Result<Option<PgRow>, sqlx::Error> {
        let (sql, values) = query.build_sqlx(PostgresQueryBuilder);
        sqlx::query_with(sqlx::AssertSqlSafe(sql), values)
            .fetch_optional(&mut self.conn)
            .await
    }

    /// Unlocks and closes the dedicated connection.
    pub async fn release(mut self) {
        let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
            .bind(&self.key)
            .execute(&mut self.conn)
            .await;
        if let Err(e) = unlocked {
            tracing::warn!(key = %self.key, error = %e, "unlock failed; closing the connection releases it");
        }
        let _ = self.conn.close().await;
    }
}
