//! Benchmark cases: one day of impressions, 10 per content, each content with
//! 3 tags (the size at `medium`: 1M impressions over 100k contents),
//! and a capped day of at most 5k of those contents for the naive strategy.
//! The data lives on days of the year 2000 under content type 901, one pair
//! of days per scale, and is created once with `generate_series` SQL.
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};

use super::Day;
use super::{DailyImpressions, Settings};
use crate::bench::{BenchCase, Floor, FloorKind, NaivePlan};
use crate::error::JobError;
use crate::registry::run_args;
use crate::scale::Scale;

const CONTENT_TYPE: i32 = 901;
const IMPRESSIONS_PER_CONTENT: i64 = 10;
const TAGS_PER_CONTENT: i64 = 3;
const TAG_POOL: i64 = 1_000;
const NAIVE_CONTENTS: i64 = 5_000;

/// Contents of the full day, and the (full, capped) dates, per scale.
fn plan(scale: Scale) -> (i64, u32) {
    match scale {
        Scale::Tiny => (1_000, 3),
        Scale::Small => (10_000, 6),
        Scale::Medium => (100_000, 9),
        Scale::Large => (1_000_000, 12),
    }
}

fn jan_2000(day: u32) -> Result<NaiveDate, JobError> {
    NaiveDate::from_ymd_opt(2000, 1, day)
        .ok_or_else(|| JobError::Other(format!("no such bench day 2000-01-{day}")))
}

/// Creates the days of `scale` once (reused by later runs) and returns the case: one full day, with
/// the naive strategy run on the capped day and extrapolated when the full one is larger.
pub async fn cases(db: &DatabaseConnection, scale: Scale) -> Result<Vec<BenchCase>, JobError> {
    let (contents, first) = plan(scale);
    let full = Day::new(jan_2000(first)?)?;
    let capped = Day::new(jan_2000(first + 1)?)?;
    let naive_contents = contents.min(NAIVE_CONTENTS);
    ensure_tags(db, contents).await?;
    ensure_day(db, &full, contents).await?;
    ensure_day(db, &capped, naive_contents).await?;
    db.execute_unprepared("ANALYZE impressions, content_tags")
        .await?;

    let args = |day: &Day| {
        run_args::<DailyImpressions>(&Settings {
            date: Some(day.date),
            ..Default::default()
        })
    };
    let naive = if naive_contents == contents {
        NaivePlan::Full
    } else {
        NaivePlan::Capped {
            args: args(&capped)?,
            factor: contents as f64 / naive_contents as f64,
        }
    };
    Ok(vec![BenchCase {
        job: "daily-impressions",
        label: format!(
            "{} impressions over {}k contents, {TAGS_PER_CONTENT} tags each",
            human(contents * IMPRESSIONS_PER_CONTENT),
            contents / 1_000
        ),
        args: args(&full)?,
        naive,
        // Every run starts from a day not yet aggregated (the daily cron's case),
        // without the dead tuples of the previous run (they slowed the next one
        // several-fold before autovacuum came by). Run outside a transaction.
        reset_sql: vec![
            format!(
                "DELETE FROM daily_impression_stats WHERE date IN ('{}', '{}')",
                full.date, capped.date
            ),
            "VACUUM ANALYZE daily_impression_stats, daily_impression_stats_tags".into(),
        ],
        floors: vec![Floor {
            label: "PostgreSQL alone: INSERT ... SELECT stats, then links".into(),
            kind: FloorKind::Sql(floor_sql(&full)),
        }],
    }])
}

/// The two `INSERT ... SELECT` statements that do the job inside PostgreSQL
/// (after the same delete of the day the job starts with).
pub fn floor_sql(day: &Day) -> Vec<String> {
    let (date, start, end) = (day.date, day.start.to_rfc3339(), day.end.to_rfc3339());
    vec![
        format!("DELETE FROM daily_impression_stats WHERE date = '{date}'"),
        format!(
            "INSERT INTO daily_impression_stats (date, content_type_id, object_id, total_impressions)
             SELECT '{date}', content_type_id, object_id, count(*) FROM impressions
             WHERE created >= '{start}' AND created < '{end}'
             GROUP BY content_type_id, object_id ORDER BY content_type_id, object_id"
        ),
        format!(
            "INSERT INTO daily_impression_stats_tags (daily_impression_stats_id, tag_id)
             SELECT s.id, ct.tag_id FROM daily_impression_stats s
             JOIN content_tags ct USING (content_type_id, object_id)
             WHERE s.date = '{date}'"
        ),
    ]
}

fn human(n: i64) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n % 1_000 == 0 {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

async fn scalar(db: &impl ConnectionTrait, sql: String) -> Result<i64, JobError> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(match row {
        Some(r) => r.try_get_by_index::<i64>(0)?,
        None => 0,
    })
}

/// A pool of tags and `TAGS_PER_CONTENT` distinct tags for contents 1..=`contents`.
async fn ensure_tags(db: &DatabaseConnection, contents: i64) -> Result<(), JobError> {
    let have = scalar(
        db,
        format!(
            "SELECT count(*) FROM content_tags
             WHERE content_type_id = {CONTENT_TYPE} AND object_id <= {contents}"
        ),
    )
    .await?;
    if have == contents * TAGS_PER_CONTENT {
        return Ok(());
    }
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!(
        "INSERT INTO tags (name) SELECT 'bench-di-' || g FROM generate_series(1, {TAG_POOL}) g
         ON CONFLICT (name) DO NOTHING;
         WITH pool AS (SELECT array_agg(id ORDER BY id) AS ids FROM tags WHERE name LIKE 'bench-di-%')
         INSERT INTO content_tags (content_type_id, object_id, tag_id)
         SELECT {CONTENT_TYPE}, o, pool.ids[1 + (o * 7 + j * 37) % {TAG_POOL}]
         FROM pool, generate_series(1, {contents}) o, generate_series(0, {TAGS_PER_CONTENT} - 1) j
         ON CONFLICT DO NOTHING"
    ))
    .await?;
    txn.commit().await?;
    Ok(())
}

/// `IMPRESSIONS_PER_CONTENT` impressions of each of contents 1..=`contents`, spread over `day`.
async fn ensure_day(db: &DatabaseConnection, day: &Day, contents: i64) -> Result<(), JobError> {
    let (start, end) = (day.start.to_rfc3339(), day.end.to_rfc3339());
    let total = contents * IMPRESSIONS_PER_CONTENT;
    let day_filter =
        format!("content_type_id = {CONTENT_TYPE} AND created >= '{start}' AND created < '{end}'");
    let have = scalar(
        db,
        format!("SELECT count(*) FROM impressions WHERE {day_filter}"),
    )
    .await?;
    if have == total {
        return Ok(());
    }
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!(
        "DELETE FROM impressions WHERE {day_filter};
         INSERT INTO impressions (content_type_id, object_id, created)
         SELECT {CONTENT_TYPE}, 1 + g % {contents},
                '{start}'::timestamptz + (g * 86399999 / {total}) * interval '1 millisecond'
         FROM generate_series(0::bigint, {total} - 1) g"
    ))
    .await?;
    txn.commit().await?;
    Ok(())
}
