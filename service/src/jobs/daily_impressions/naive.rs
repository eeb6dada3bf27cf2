//! The write-up's original round trips: for each aggregated content, insert its
//! stats row on its own, look its tags up on its own, and insert each link on
//! its own (`2 + 2 * stats + links` statements). Same transaction, same
//! replace-the-day idempotency and same results as the optimized strategy.
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use entity::{content_tag, daily_impression_stats, daily_impression_stats_tag};

use super::{aggregate, delete_day, Day, DayCount, Written};
use crate::error::JobError;
use crate::runner::JobContext;

/// Replaces the day's stats and links, one row per statement. `db` is the run's transaction.
pub async fn write_day(
    db: &impl ConnectionTrait,
    ctx: &JobContext,
    day: &Day,
) -> Result<Written, JobError> {
    delete_day(db, day.date).await?;
    let counts = aggregate(db, day).await?;
    let progress = ctx.progress("daily-impressions (naive)", Some(counts.len() as u64));
    let mut written = Written::default();
    for count in &counts {
        let stats_id = insert_stats(db, day, count).await?;
        let tags = tags_of(db, count).await?;
        for tag in tags {
            insert_link(db, stats_id, tag.tag_id).await?;
            written.links += 1;
        }
        written.stats += 1;
        progress.inc(1);
    }
    progress.finish();
    Ok(written)
}

async fn insert_stats(
    db: &impl ConnectionTrait,
    day: &Day,
    count: &DayCount,
) -> Result<i64, JobError> {
    let model = daily_impression_stats::ActiveModel {
        date: Set(day.date),
        content_type_id: Set(count.content_type_id),
        object_id: Set(count.object_id),
        total_impressions: Set(count.total),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(model.id)
}

/// `get_tags_for_content`: one query per content.
async fn tags_of(
    db: &impl ConnectionTrait,
    count: &DayCount,
) -> Result<Vec<content_tag::Model>, JobError> {
    Ok(content_tag::Entity::find()
        .filter(content_tag::Column::ContentTypeId.eq(count.content_type_id))
        .filter(content_tag::Column::ObjectId.eq(count.object_id))
        .all(db)
        .await?)
}

async fn insert_link(
    db: &impl ConnectionTrait,
    stats_id: i64,
    tag_id: i64,
) -> Result<(), JobError> {
    daily_impression_stats_tag::ActiveModel {
        daily_impression_stats_id: Set(stats_id),
        tag_id: Set(tag_id),
    }
    .insert(db)
    .await?;
    Ok(())
}
