//! The round-trip way: every aggregated date in one list, then, per due day
//! and in one transaction per day, its impression ids loaded and deleted one
//! row per statement.
use chrono::NaiveDate;
use entity::{daily_impression_stats, impression};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::Purged;
use crate::error::JobError;
use crate::jobs::daily_impressions::Day;
use crate::progress::Progress;

/// Deletes the impressions of every aggregated day up to `last_day`.
pub async fn purge(
    db: &DatabaseConnection,
    last_day: NaiveDate,
    progress: &Progress,
) -> Result<Purged, JobError> {
    let dates: Vec<NaiveDate> = daily_impression_stats::Entity::find()
        .select_only()
        .column(daily_impression_stats::Column::Date)
        .distinct()
        .filter(daily_impression_stats::Column::Date.lte(last_day))
        .order_by_asc(daily_impression_stats::Column::Date)
        .into_tuple()
        .all(db)
        .await?;
    let mut purged = Purged::default();
    for date in dates {
        let day = Day::new(date)?;
        let txn = db.begin().await?;
        let ids: Vec<i64> = impression::Entity::find()
            .select_only()
            .column(impression::Column::Id)
            .filter(impression::Column::Created.gte(day.start))
            .filter(impression::Column::Created.lt(day.end))
            .into_tuple()
            .all(&txn)
            .await?;
        for id in &ids {
            impression::Entity::delete_by_id(*id).exec(&txn).await?;
        }
        txn.commit().await?;
        progress.inc(ids.len() as u64);
        purged.deleted += ids.len() as u64;
        if !ids.is_empty() {
            purged.days.push(date);
        }
    }
    Ok(purged)
}
