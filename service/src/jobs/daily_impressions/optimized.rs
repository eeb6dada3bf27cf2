//! The production path, in the naive strategy's order: delete the day,
//! aggregate in PostgreSQL, insert the stats rows in chunked multi-row inserts
//! that return the new ids, fetch the tags of all the day's contents in one
//! query, and insert the links in chunks (`3 + ceil(stats / chunk) +
//! ceil(links / chunk)` statements). Memory: the day's counts, ids and links
//! (100k contents with 3 tags: a few tens of MB) are held at once, which keeps
//! the tags to one query.
use std::collections::HashMap;

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter,
    QuerySelect,
};

use entity::{content_tag, daily_impression_stats, daily_impression_stats_tag};

use super::{aggregate, delete_day, DailyImpressions, Day, DayCount, Written};
use crate::error::JobError;
use crate::progress::Progress;
use crate::runner::JobContext;

/// A content: `(content_type_id, object_id)`.
type Content = (i32, i64);

/// Replaces the day's stats and links in a few bulk statements. `db` is the run's transaction.
pub async fn write_day(
    db: &impl ConnectionTrait,
    ctx: &JobContext,
    job: &DailyImpressions,
) -> Result<Written, JobError> {
    let day = &job.day;
    let clock = std::time::Instant::now();
    let lap = |phase: &str| tracing::debug!(phase, elapsed_ms = clock.elapsed().as_millis() as u64);
    delete_day(db, day.date).await?;
    lap("delete");
    let counts = aggregate(db, day).await?;
    lap("aggregate");
    let progress = ctx.progress("daily-impressions", Some(counts.len() as u64));
    let ids = insert_stats(db, day, &counts, job.stats_chunk(), &progress).await?;
    lap("stats");
    drop(counts);
    let tags = tags_of_day(db, day).await?;
    lap("tags");
    let mut links = Vec::with_capacity(tags.len());
    for (content_type_id, object_id, tag_id) in tags {
        let id = ids.get(&(content_type_id, object_id)).ok_or_else(|| {
            JobError::Other(format!(
                "content ({content_type_id}, {object_id}) has tags but no stats row"
            ))
        })?;
        links.push((*id, tag_id));
    }
    insert_links(db, &links, job.links_chunk()).await?;
    lap("links");
    progress.finish();
    Ok(Written {
        stats: ids.len() as u64,
        links: links.len() as u64,
    })
}

/// Multi-row `INSERT ... RETURNING`, `chunk` rows per statement; the new id of each content.
async fn insert_stats(
    db: &impl ConnectionTrait,
    day: &Day,
    counts: &[DayCount],
    chunk: usize,
    progress: &Progress,
) -> Result<HashMap<Content, i64>, JobError> {
    let mut ids = HashMap::with_capacity(counts.len());
    for part in counts.chunks(chunk) {
        let rows = part.iter().map(|c| daily_impression_stats::ActiveModel {
            date: Set(day.date),
            content_type_id: Set(c.content_type_id),
            object_id: Set(c.object_id),
            total_impressions: Set(c.total),
            ..Default::default()
        });
        // Keyed by content rather than zipped by position: no reliance on RETURNING's row order.
        let inserted = daily_impression_stats::Entity::insert_many(rows)
            .exec_with_returning(db)
            .await?;
        for m in inserted {
            ids.insert((m.content_type_id, m.object_id), m.id);
        }
        progress.inc(part.len() as u64);
    }
    Ok(ids)
}

/// The tags of every content that has a stats row that day, in one query
/// (the write-up's `get_tags_for_content` per row was an N+1).
async fn tags_of_day(
    db: &impl ConnectionTrait,
    day: &Day,
) -> Result<Vec<(i32, i64, i64)>, JobError> {
    use content_tag::Column as T;
    use daily_impression_stats::Column as S;
    let day_contents = Query::select()
        .column(S::ContentTypeId)
        .column(S::ObjectId)
        .from(daily_impression_stats::Entity)
        .and_where(S::Date.eq(day.date))
        .to_owned();
    let content = Expr::tuple([
        Expr::col((content_tag::Entity, T::ContentTypeId)),
        Expr::col((content_tag::Entity, T::ObjectId)),
    ]);
    Ok(content_tag::Entity::find()
        .select_only()
        .columns([T::ContentTypeId, T::ObjectId, T::TagId])
        .filter(content.in_subquery(day_contents))
        .into_tuple()
        .all(db)
        .await?)
}

/// Multi-row inserts of `(stats id, tag id)` links, `chunk` rows per statement.
async fn insert_links(
    db: &impl ConnectionTrait,
    links: &[(i64, i64)],
    chunk: usize,
) -> Result<(), JobError> {
    for part in links.chunks(chunk) {
        let rows = part.iter().map(
            |&(stats_id, tag_id)| daily_impression_stats_tag::ActiveModel {
                daily_impression_stats_id: Set(stats_id),
                tag_id: Set(tag_id),
            },
        );
        daily_impression_stats_tag::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
