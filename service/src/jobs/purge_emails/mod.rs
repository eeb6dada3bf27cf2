//! `purge-emails`: afterwards no email remains whose mailer was sent at or
//! before `now - retention`, and no other email is deleted (emails whose
//! `mailer_id` matches no mailer stay: the reference is soft). Both strategies
//! keep this however long the job has not run.
//!
//! The naive strategy is the write-up's original: the ids of *all* old mailers
//! in one list and one `DELETE ... WHERE mailer_id IN (<list>)` (chunked at
//! PostgreSQL's 65,535 bind parameters, in one transaction). The list grows
//! every day and PostgreSQL answers it with a scan of the whole table.
//!
//! The optimized strategy remembers how far previous runs got (a watermark in
//! `purge_watermarks`: the `(sent, id)` of the last mailer whose emails are all
//! gone) and only walks mailers sent in `(watermark, cutoff]`, in slices
//! ordered by `(sent, id)`. Each slice's emails go in batches of `batch_size`
//! rows through the index on `emails.mailer_id`, each batch its own short
//! transaction; the watermark moves in the transaction of a slice's last batch,
//! so an interrupted run keeps its progress and never skips a mailer. A daily
//! run therefore costs what it deletes, not what the table holds. Mailers
//! inserted later with an old `sent` (backdated) and emails inserted later for
//! an already purged mailer are found by a cheap catch-up probe: the watermark
//! row also records the highest mailer and email ids accounted for, and only
//! rows above those ids are checked.
pub mod bench;
pub mod naive;
pub mod optimized;

use chrono::{DateTime, Duration, Utc};
use sea_orm::TransactionTrait;

use crate::error::JobError;
use crate::registry::Register;
use crate::runner::{Job, JobContext, JobOutput, Strategy};
use crate::scale::Scale;

/// The job's name, lock key and watermark key.
pub const NAME: &str = "purge-emails";
/// Days of emails kept when `--retention-days` is not given.
pub const DEFAULT_RETENTION_DAYS: i64 = 14;
/// Emails deleted per statement and transaction when `--batch-size` is not given.
pub const DEFAULT_BATCH_SIZE: u64 = 10_000;

/// `sitejobs run purge-emails` flags, and the `[purge-emails]` table of the
/// settings file (`retention_days`, `batch_size`).
#[derive(clap::Args, serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Keep the emails of mailers sent in the last N days, 0 or more [default: 14].
    #[arg(long, allow_negative_numbers = true)]
    pub retention_days: Option<i64>,
    /// The instant the retention counts back from, RFC 3339 [default: now].
    #[arg(long, value_parser = crate::settings::parse_instant)]
    pub now: Option<DateTime<Utc>>,
    /// Emails deleted per statement and transaction (optimized strategy) [default: 10000].
    #[arg(long)]
    pub batch_size: Option<u64>,
}

impl Register for PurgeEmails {
    const NAME: &'static str = NAME;
    const ABOUT: &'static str =
        "Delete the emails of mailers sent at or before now minus the retention";
    type Settings = Settings;

    fn from_settings(s: Settings) -> Result<Self, JobError> {
        Self::new(
            s.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS),
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

/// Validated options: the cutoff is computed once, before anything runs.
#[derive(Clone, Debug)]
pub struct PurgeEmails {
    /// Days of emails kept.
    pub retention_days: i64,
    /// The instant the retention counts back from.
    pub now: DateTime<Utc>,
    /// Emails deleted per statement and transaction (optimized strategy).
    pub batch_size: u64,
    cutoff: DateTime<Utc>,
}

impl PurgeEmails {
    /// Rejects a negative retention, a cutoff outside the calendar, or an empty batch.
    pub fn new(retention_days: i64, now: DateTime<Utc>, batch_size: u64) -> Result<Self, JobError> {
        if retention_days < 0 {
            return Err(JobError::bad_input(format!(
                "retention must be 0 days or more, got {retention_days}"
            )));
        }
        if batch_size == 0 {
            return Err(JobError::bad_input("batch size must be at least 1"));
        }
        let cutoff = Duration::try_days(retention_days)
            .and_then(|d| now.checked_sub_signed(d))
            .ok_or_else(|| {
                JobError::bad_input(format!("retention of {retention_days} days is too large"))
            })?;
        Ok(Self {
            retention_days,
            now,
            batch_size,
            cutoff,
        })
    }

    /// Emails of mailers sent at or before this instant are purged.
    pub fn cutoff(&self) -> DateTime<Utc> {
        self.cutoff
    }
}

impl Job for PurgeEmails {
    fn name(&self) -> &'static str {
        NAME
    }

    fn params(&self) -> serde_json::Value {
        serde_json::json!({
            "retention_days": self.retention_days,
            "now": self.now.to_rfc3339(),
            "cutoff": self.cutoff.to_rfc3339(),
            "batch_size": self.batch_size,
        })
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let progress = ctx.progress("purging emails", None);
        let out = match ctx.strategy {
            Strategy::Naive => {
                let txn = ctx.db().begin().await?;
                let deleted = naive::purge(&txn, self.cutoff).await?;
                txn.commit().await?;
                progress.inc(deleted);
                JobOutput::rows(deleted)
            }
            Strategy::Optimized => {
                let outcome =
                    optimized::purge(ctx.db(), self.cutoff, self.batch_size, &progress).await?;
                JobOutput::rows(outcome.deleted).with_details(outcome.details())
            }
        };
        progress.finish();
        Ok(out)
    }
}
