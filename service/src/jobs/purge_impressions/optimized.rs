//! The bounded way: the same steps as the naive one (find the due aggregated
//! days, delete their impressions), but starting from the oldest impression
//! left, with one index probe per aggregated date and batched deletes through
//! the index on `created`.
use chrono::{DateTime, NaiveDate, Utc};
use entity::impression;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, EntityTrait, ExprTrait, QuerySelect, Statement,
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

/// One batch: at most `$3` impressions of `[$1, $2)`, found through the index
/// on `created` and deleted by primary key. Raw SQL: `DELETE ... LIMIT` has no
/// ORM form, and `id = ANY(ARRAY(...))` keeps the delete on the primary key.
const DELETE_BATCH_SQL: &str = "\
DELETE FROM impressions WHERE id = ANY(ARRAY(\
  SELECT id FROM impressions WHERE created >= $1 AND created < $2 LIMIT $3))";

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

/// Deletes one day's impressions in batches until a batch comes back short.
async fn delete_day(
    db: &DatabaseConnection,
    day: &Day,
    batch: u64,
    progress: &Progress,
) -> Result<u64, JobError> {
    let mut deleted = 0;
    loop {
        let done = db
            .execute_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                DELETE_BATCH_SQL,
                [day.start.into(), day.end.into(), (batch as i64).into()],
            ))
            .await?
            .rows_affected();
        deleted += done;
        progress.inc(done);
        if done < batch {
            return Ok(deleted);
        }
    }
}
