//! The bounded way: the same steps as the naive one (find the due aggregated
//! days, delete their impressions), but starting from the oldest impression
//! left, with one index probe per aggregated date and batched deletes through
//! the index on `created`.
use chrono::{DateTime, NaiveDate, Utc};
use entity::impression;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter,
    QuerySelect, Statement,
};

use super::Purged;
use crate::error::JobError;
use crate::jobs::daily_impressions::Day;
use crate::progress::Progress;

/// The aggregated dates in `[$1, $2]`, oldest first: a loose index scan that
/// probes the unique index on `(date, ...)` once per distinct date instead of
/// reading every stats row. Raw SQL: the ORM has no recursive CTE.
const AGGREGATED_DAYS_SQL: &str = "\
WITH RECURSIVE d(date) AS (\
  SELECT min(date) FROM daily_impression_stats WHERE date >= $1 AND date <= $2 \
  UNION ALL \
  SELECT (SELECT min(s.date) FROM daily_impression_stats s WHERE s.date > d.date AND s.date <= $2) \
  FROM d WHERE d.date IS NOT NULL) \
SELECT date FROM d WHERE date IS NOT NULL";

/// One batch of the day `[$1, $2)`: finds the `created` of the `$3 + 1`-th
/// impression from `$1` (the batch's end; none when fewer are left) and
/// deletes `[$1, end)` as one range of the index on `created`: no lookups by
/// primary key, and no empty batch at the end of a day. Returns the rows
/// deleted and the end, where the next batch starts. Raw SQL: a
/// data-modifying CTE has no ORM form.
const DELETE_BATCH_SQL: &str = "\
WITH bound AS MATERIALIZED (\
  SELECT created FROM impressions WHERE created >= $1 AND created < $2 \
  ORDER BY created OFFSET $3 LIMIT 1), \
gone AS (\
  DELETE FROM impressions WHERE created >= $1 \
  AND created < COALESCE((SELECT created FROM bound), $2) RETURNING 1) \
SELECT (SELECT count(*) FROM gone), (SELECT created FROM bound)";

/// Deletes the impressions of every aggregated day up to `last_day`, `batch`
/// rows per statement and transaction.
pub async fn purge(
    db: &DatabaseConnection,
    last_day: NaiveDate,
    batch: u64,
    progress: &Progress,
) -> Result<Purged, JobError> {
    let oldest: Option<DateTime<Utc>> = impression::Entity::find()
        .select_only()
        .expr(Expr::col(impression::Column::Created).min())
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    let mut purged = Purged::default();
    let Some(oldest) = oldest else {
        return Ok(purged);
    };
    let days = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            AGGREGATED_DAYS_SQL,
            [oldest.date_naive().into(), last_day.into()],
        ))
        .await?;
    for row in days {
        let day = Day::new(row.try_get_by_index::<NaiveDate>(0)?)?;
        let deleted = delete_day(db, &day, batch, progress).await?;
        purged.deleted += deleted;
        if deleted > 0 {
            purged.days.push(day.date);
        }
    }
    Ok(purged)
}

/// Deletes one day's impressions, about `batch` rows per statement and transaction.
async fn delete_day(
    db: &DatabaseConnection,
    day: &Day,
    batch: u64,
    progress: &Progress,
) -> Result<u64, JobError> {
    let mut deleted = 0;
    let mut start = day.start;
    loop {
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                DELETE_BATCH_SQL,
                [start.into(), day.end.into(), (batch as i64).into()],
            ))
            .await?
            .ok_or_else(|| JobError::Other("the batch delete returned no row".into()))?;
        let mut done = row.try_get_by_index::<i64>(0)? as u64;
        let end: Option<DateTime<Utc>> = row.try_get_by_index(1)?;
        if end == Some(start) {
            // More than a batch share the instant `start`: they go together.
            done += impression::Entity::delete_many()
                .filter(impression::Column::Created.eq(start))
                .exec(db)
                .await?
                .rows_affected;
        }
        deleted += done;
        progress.inc(done);
        match end {
            Some(end) => start = std::cmp::max(end, start + chrono::Duration::microseconds(1)),
            None => return Ok(deleted),
        }
    }
}
