//! `purge-impressions`: deletes the impressions of every UTC day that ended
//! more than `keep-days` days ago *and* has been aggregated
//! (`daily_impression_stats` holds rows for that date). A day never aggregated
//! keeps all its impressions, however old: they are the only record of it.
//! Other rows are untouched; `rows` counts impressions deleted. Like
//! purge-emails it works in short batches, so it holds after weeks of
//! downtime: one run catches up on every due day.
//!
//! Both strategies take the same steps: find the aggregated days that are due,
//! then delete each day's impressions. The naive one lists every aggregated
//! date, then loads each due day's impression ids and deletes them one row per
//! statement in one transaction per day. The optimized one is fast because it
//! never looks at what it does not delete: it starts from the oldest
//! impression (one probe of the index on `created`), walks the aggregated
//! dates from there with a loose index scan (one probe per date of the unique
//! index on `daily_impression_stats`), and deletes each due day's impressions
//! through the index on `created` in batches of `--batch-size` rows, each
//! batch one statement and its own transaction. A daily run costs what it
//! deletes plus a probe per aggregated day since the oldest impression left.
pub mod bench;
mod naive;
mod optimized;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::error::JobError;
use crate::registry::Register;
use crate::runner::{Job, JobContext, JobOutput, Strategy};
use crate::scale::Scale;

/// The job's name and lock key.
pub const NAME: &str = "purge-impressions";
/// Days whose impressions are kept when `--keep-days` is not given.
pub const DEFAULT_KEEP_DAYS: i64 = 90;
/// Impressions deleted per statement and transaction when `--batch-size` is not given.
pub const DEFAULT_BATCH_SIZE: u64 = 10_000;

/// `sitejobs run purge-impressions` flags, and the `[purge-impressions]` table
/// of the settings file (`keep_days`, `batch_size`).
#[derive(clap::Args, serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Keep the impressions of days that ended in the last N days, 0 or more [default: 90].
    #[arg(long, allow_negative_numbers = true)]
    pub keep_days: Option<i64>,
    /// The instant the days are counted back from, RFC 3339 [default: now].
    #[arg(long, value_parser = crate::settings::parse_instant)]
    pub now: Option<DateTime<Utc>>,
    /// Impressions deleted per statement and transaction (optimized strategy) [default: 10000].
    #[arg(long)]
    pub batch_size: Option<u64>,
}

/// The job's validated options: the last due day is computed once, before anything runs.
#[derive(Clone, Debug)]
pub struct PurgeImpressions {
    /// Days kept, counted back from `now`.
    pub keep_days: i64,
    /// The instant the days are counted back from.
    pub now: DateTime<Utc>,
    /// Impressions deleted per statement and transaction (optimized strategy).
    pub batch_size: u64,
    last_day: NaiveDate,
}

impl PurgeImpressions {
    /// Rejects a negative `keep_days`, a cutoff outside the calendar, or an empty batch.
    pub fn new(keep_days: i64, now: DateTime<Utc>, batch_size: u64) -> Result<Self, JobError> {
        if keep_days < 0 {
            return Err(JobError::bad_input(format!(
                "keep-days must be 0 or more, got {keep_days}"
            )));
        }
        if batch_size == 0 {
            return Err(JobError::bad_input("--batch-size must be at least 1"));
        }
        let too_large = || JobError::bad_input(format!("keep-days of {keep_days} is too large"));
        let cutoff = Duration::try_days(keep_days)
            .and_then(|d| now.checked_sub_signed(d))
            .ok_or_else(too_large)?;
        // Day D ended at D+1 00:00Z; it is due when that is strictly before the cutoff.
        let last_day = (cutoff - Duration::nanoseconds(1))
            .date_naive()
            .pred_opt()
            .ok_or_else(too_large)?;
        Ok(Self {
            keep_days,
            now,
            batch_size,
            last_day,
        })
    }

    /// The latest day whose impressions may go (if it has been aggregated).
    pub fn last_day(&self) -> NaiveDate {
        self.last_day
    }
}

impl Register for PurgeImpressions {
    const NAME: &'static str = NAME;
    const ABOUT: &'static str =
        "Delete the impressions of aggregated days that ended more than --keep-days days ago";
    type Settings = Settings;

    fn from_settings(s: Settings) -> Result<Self, JobError> {
        Self::new(
            s.keep_days.unwrap_or(DEFAULT_KEEP_DAYS),
            s.now.unwrap_or_else(Utc::now),
            s.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
        )
    }

    async fn bench_cases(
        db: &sea_orm::DatabaseConnection,
        scale: Scale,
    ) -> Result<Vec<crate::bench::BenchCase>, JobError> {
        bench::cases(db, scale).await
    }
}

impl Job for PurgeImpressions {
    fn name(&self) -> &'static str {
        NAME
    }

    fn params(&self) -> serde_json::Value {
        serde_json::json!({
            "keep_days": self.keep_days,
            "now": self.now.to_rfc3339(),
            "last_day": self.last_day.to_string(),
            "batch_size": self.batch_size,
        })
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let progress = ctx.progress("purging impressions", None);
        let purged = match ctx.strategy {
            Strategy::Naive => naive::purge(ctx.db(), self.last_day, &progress).await?,
            Strategy::Optimized => {
                optimized::purge(ctx.db(), self.last_day, self.batch_size, &progress).await?
            }
        };
        progress.finish();
        Ok(JobOutput::rows(purged.deleted).with_details(serde_json::json!({
            "days": purged.days,
        })))
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Purged {
    /// Impressions deleted.
    pub deleted: u64,
    /// The aggregated days whose impressions were deleted, oldest first.
    pub days: Vec<NaiveDate>,
}
