//! A job's statements on the run's own connection.
//!
//! Every process runs one job on fresh connections, and a fresh PostgreSQL
//! server process pays for each table it touches the first time: catalog
//! lookups, and mapping each shared buffer page it reads. Through the pool, a
//! job's statements land on one process or another (sqlx hands out idle
//! connections first in, first out) and each pays again. Measured on the
//! medium seed, `refresh-autocomplete --incremental` with 100 changed titles
//! spent about 3 ms of its 9 ms on this; on the run's own connection, where
//! the run's history is written too, it pays once.
//!
//! Statements go with the simple query protocol, one round trip each (sqlx
//! prepares a statement in a round trip of its own the first time a
//! connection sees it). Values are written into the SQL by sea-query's
//! quoting, exactly as the runner writes the run's history.
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::sea_query::{inject_parameters, PostgresQueryBuilder, Value};
use sea_orm::sqlx::{self, PgConnection};
use sea_orm::QueryResult;
use tokio::sync::MutexGuard;

use crate::error::JobError;

/// The run's own connection, held by one job at a time
/// ([`JobContext::session`](super::JobContext::session)). Counts every
/// statement it sends. Nothing a job leaves on it outlives the run (the
/// connection is closed when the run ends), but it is not a transaction:
/// each statement commits on its own.
pub struct Session<'a> {
    conn: MutexGuard<'a, PgConnection>,
    statements: &'a AtomicU64,
    with_run: &'a std::sync::Mutex<Vec<String>>,
}

impl<'a> Session<'a> {
    pub(super) fn new(
        conn: MutexGuard<'a, PgConnection>,
        statements: &'a AtomicU64,
        with_run: &'a std::sync::Mutex<Vec<String>>,
    ) -> Self {
        Self {
            conn,
            statements,
            with_run,
        }
    }

    /// Sends `sql`, one statement whose placeholders `$1`, `$2`... stand for
    /// `values`, and returns its rows. The placeholders must match `values`:
    /// the SQL is the job's own text, never input.
    pub async fn query_all(
        &mut self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<QueryResult>, JobError> {
        let sql = written(sql, &values)?;
        self.statements.fetch_add(1, Ordering::Relaxed);
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *self.conn)
            .await?;
        Ok(rows.into_iter().map(QueryResult::from).collect())
    }

    /// [`query_all`](Self::query_all) for a statement whose rows do not
    /// matter; returns the rows it affected.
    pub async fn execute(&mut self, sql: &str, values: Vec<Value>) -> Result<u64, JobError> {
        let sql = written(sql, &values)?;
        self.statements.fetch_add(1, Ordering::Relaxed);
        let done = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *self.conn)
            .await?;
        Ok(done.rows_affected())
    }

    /// Leaves `sql` (one statement, placeholders as in
    /// [`query_all`](Self::query_all), no transaction control) for the run's
    /// last message: once the job has returned `Ok`, the runner sends the
    /// statements left this way, in order, then the statement that records
    /// the run, then the unlock, in one message and one implicit
    /// transaction. So they commit exactly when the run is recorded as ok,
    /// and cost no round trip of their own. If the job fails they are never
    /// sent; if one of them (or the record) fails, all roll back and the run
    /// is recorded as an error. For a job's last write, made only after
    /// everything else of the run succeeded (a log's applied entries,
    /// deleted once Redis has their changes). Counted as a statement now.
    pub fn commit_with_run(&mut self, sql: &str, values: Vec<Value>) -> Result<(), JobError> {
        let sql = written(sql, &values)?;
        self.statements.fetch_add(1, Ordering::Relaxed);
        self.with_run
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sql);
        Ok(())
    }
}

/// `sql` with its placeholders replaced by `values`, checked first: sea-query
/// indexes `values` by the placeholder's number.
fn written(sql: &str, values: &[Value]) -> Result<String, JobError> {
    let highest = placeholders(sql).max().unwrap_or(0);
    if highest > values.len() {
        return Err(JobError::Other(format!(
            "a statement uses ${highest} but has {} values",
            values.len()
        )));
    }
    Ok(inject_parameters(sql, values, &PostgresQueryBuilder))
}

/// The numbers of the `$n` placeholders in `sql` (a `$` followed by digits).
fn placeholders(sql: &str) -> impl Iterator<Item = usize> + '_ {
    sql.split('$').skip(1).filter_map(|rest| {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        rest[..digits].parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_in_and_quoted() {
        let sql = written(
            "SELECT $1, $2, $3, $1",
            &["it's \\ odd".into(), 7i64.into(), vec![1i64, 2].into()],
        )
        .expect("three values for three placeholders");
        assert_eq!(
            sql,
            "SELECT E'it\\'s \\\\ odd', 7, ARRAY [1,2], E'it\\'s \\\\ odd'"
        );
    }

    #[test]
    fn a_placeholder_without_a_value_is_an_error_not_a_panic() {
        assert!(written("SELECT $1, $2", &[1i64.into()]).is_err());
    }
}
