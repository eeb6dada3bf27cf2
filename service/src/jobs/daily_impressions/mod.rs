//! `daily-impressions`: aggregates one UTC day of `impressions` by
//! `(content_type_id, object_id)` into `daily_impression_stats` and attaches
//! each stats row's tags (the content's `content_tags`) through
//! `daily_impression_stats_tags`.
//!
//! Guarantees: the day is `[date 00:00:00Z, date+1 00:00:00Z)`, bound as
//! `timestamptz` values computed here, so the session's time zone does not
//! matter. The whole day is one transaction that first deletes the day's stats
//! rows (their links go with them by `ON DELETE CASCADE`) and then writes the
//! new ones: readers see the old day or the new day, never half of it; a
//! re-run replaces rather than duplicates (the unique key on
//! `(date, content_type_id, object_id)` backs that up); other days are never
//! touched. Any failure rolls the whole day back.
//!
//! Why the optimized path is fast: the aggregation runs in PostgreSQL, the
//! stats rows go in with chunked multi-row `INSERT ... RETURNING` (a chunk
//! stays under PostgreSQL's 65,535 bind parameters), the tags of every content
//! of the day come back in one query instead of one per row, and the links go
//! in with chunked multi-row inserts too: `3 + ceil(stats / chunk) +
//! ceil(links / chunk)` statements instead of `2 + 2 * stats + links`.
pub mod bench;
pub mod naive;
pub mod optimized;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use entity::{daily_impression_stats, impression};

use crate::error::JobError;
use crate::registry::Register;
use crate::runner::{Job, JobContext, JobOutput, Strategy};
use crate::scale::Scale;

/// The job's name, and the first part of its lock key (`daily-impressions:<date>`).
pub const NAME: &str = "daily-impressions";

/// `sitejobs run daily-impressions` flags, and the `[daily-impressions]` table
/// of the settings file (`chunk_size`).
#[derive(clap::Args, serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The UTC day to aggregate, YYYY-MM-DD [default: yesterday, UTC].
    #[arg(long, value_parser = |s: &str| parse_date(s).map_err(|e| e.to_string()))]
    pub date: Option<NaiveDate>,
    /// Rows per multi-row insert (optimized); capped at what fits in 65,535 bind parameters [default: 10000].
    #[arg(long)]
    pub chunk_size: Option<usize>,
}

impl Register for DailyImpressions {
    const NAME: &'static str = NAME;
    const ABOUT: &'static str =
        "Aggregate one UTC day (default: yesterday) of impressions into daily_impression_stats, with tags";
    type Settings = Settings;

    fn from_settings(s: Settings) -> Result<Self, JobError> {
        Self::new(
            s.date.unwrap_or_else(yesterday_utc),
            s.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE),
        )
    }

    async fn bench_cases(
        db: &sea_orm::DatabaseConnection,
        scale: Scale,
    ) -> Result<Vec<crate::bench::BenchCase>, JobError> {
        bench::cases(db, scale).await
    }
}

/// PostgreSQL's limit on bind parameters in one statement.
pub const MAX_BIND_PARAMS: usize = 65_535;
/// Columns a stats row binds (`id` comes from the database).
pub const STATS_COLUMNS: usize = 4;
/// Columns a tag link binds.
pub const LINK_COLUMNS: usize = 2;
/// Rows per multi-row insert unless `--chunk-size` says otherwise.
pub const DEFAULT_CHUNK_SIZE: usize = 10_000;

/// The largest chunk of rows of `columns` bound columns one statement can take.
pub fn max_chunk(columns: usize) -> usize {
    MAX_BIND_PARAMS / columns
}

/// One UTC day: its date and its half-open `timestamptz` bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day {
    /// The date.
    pub date: NaiveDate,
    /// Its first instant, 00:00:00Z.
    pub start: DateTime<Utc>,
    /// The first instant of the next day (excluded).
    pub end: DateTime<Utc>,
}

impl Day {
    /// The UTC day of `date`; bad input for the last representable date.
    pub fn new(date: NaiveDate) -> Result<Self, JobError> {
        let next = date
            .checked_add_days(Days::new(1))
            .ok_or_else(|| JobError::bad_input(format!("date {date} has no next day")))?;
        Ok(Self {
            date,
            start: date.and_time(chrono::NaiveTime::MIN).and_utc(),
            end: next.and_time(chrono::NaiveTime::MIN).and_utc(),
        })
    }
}

/// Parses `YYYY-MM-DD` (years 1 to 9999, the range every tool agrees on).
pub fn parse_date(s: &str) -> Result<NaiveDate, JobError> {
    let bad = || JobError::bad_input(format!("malformed date '{s}': expected YYYY-MM-DD"));
    let t = s.trim();
    let well_formed = t.len() == 10
        && t.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !well_formed {
        return Err(bad());
    }
    let date = NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| bad())?;
    if date.year() < 1 {
        return Err(bad());
    }
    Ok(date)
}

/// Yesterday's date in UTC: the default day.
pub fn yesterday_utc() -> NaiveDate {
    let today = Utc::now().date_naive();
    today.pred_opt().unwrap_or(today)
}

/// The job's options, validated by the CLI (or a test) before the run.
#[derive(Clone, Debug)]
pub struct DailyImpressions {
    /// The UTC day aggregated.
    pub day: Day,
    /// Rows per multi-row insert (optimized), capped per table by the bind-parameter limit.
    pub chunk_size: usize,
}

impl DailyImpressions {
    /// Options for `date`, rejecting an empty chunk.
    pub fn new(date: NaiveDate, chunk_size: usize) -> Result<Self, JobError> {
        if chunk_size == 0 {
            return Err(JobError::bad_input("--chunk-size must be at least 1"));
        }
        Ok(Self {
            day: Day::new(date)?,
            chunk_size,
        })
    }

    /// Stats rows per insert: the asked chunk, at most what fits in one statement.
    pub fn stats_chunk(&self) -> usize {
        self.chunk_size.min(max_chunk(STATS_COLUMNS))
    }

    /// Links per insert: the asked chunk, at most what fits in one statement.
    pub fn links_chunk(&self) -> usize {
        self.chunk_size.min(max_chunk(LINK_COLUMNS))
    }
}

impl Job for DailyImpressions {
    fn name(&self) -> &'static str {
        NAME
    }

    fn lock_key(&self) -> String {
        format!("daily-impressions:{}", self.day.date)
    }

    fn params(&self) -> serde_json::Value {
        serde_json::json!({ "date": self.day.date.to_string(), "chunk_size": self.chunk_size })
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let txn = ctx.db().begin().await?;
        let written = match ctx.strategy {
            Strategy::Naive => naive::write_day(&txn, ctx, &self.day).await?,
            Strategy::Optimized => optimized::write_day(&txn, ctx, self).await?,
        };
        txn.commit().await?;
        Ok(
            JobOutput::rows(written.stats).with_details(serde_json::json!({
                "date": self.day.date.to_string(),
                "links": written.links,
            })),
        )
    }
}

/// What one run wrote.
#[derive(Clone, Copy, Debug, Default)]
pub struct Written {
    /// `daily_impression_stats` rows written: the run's `rows`.
    pub stats: u64,
    /// `daily_impression_stats_tags` rows written.
    pub links: u64,
}

/// One aggregated row: a content and its impressions that day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayCount {
    /// Kind of the content (as in `impressions`).
    pub content_type_id: i32,
    /// Id of the content within its type.
    pub object_id: i64,
    /// Impressions of the content that day (at least 1).
    pub total: i64,
}

/// Deletes the day's stats rows; their links go by `ON DELETE CASCADE`.
pub async fn delete_day(db: &impl ConnectionTrait, date: NaiveDate) -> Result<u64, JobError> {
    let res = daily_impression_stats::Entity::delete_many()
        .filter(daily_impression_stats::Column::Date.eq(date))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// The day's impressions counted per content, in PostgreSQL, ordered by content
/// (a deterministic insert order). 100k contents are ~2.4 MB here: held whole.
pub async fn aggregate(db: &impl ConnectionTrait, day: &Day) -> Result<Vec<DayCount>, JobError> {
    use impression::Column as C;
    let rows: Vec<(i32, i64, i64)> = impression::Entity::find()
        .select_only()
        .column(C::ContentTypeId)
        .column(C::ObjectId)
        .column_as(Expr::col(C::Id).count(), "total")
        .filter(C::Created.gte(day.start))
        .filter(C::Created.lt(day.end))
        .group_by(C::ContentTypeId)
        .group_by(C::ObjectId)
        .order_by_asc(C::ContentTypeId)
        .order_by_asc(C::ObjectId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(content_type_id, object_id, total)| DayCount {
            content_type_id,
            object_id,
            total,
        })
        .collect())
}
