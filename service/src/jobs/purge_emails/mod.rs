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
use crate::runner::{Job, JobContext, JobOutput, Strategy};

/// The job's name, lock key and watermark key.
pub const NAME: &str = "purge-emails";
pub const DEFAULT_RETENTION_DAYS: i64 = 14;
pub const DEFAULT_BATCH_SIZE: u64 = 10_000;

/// Validated options: the cutoff is computed once, before anything runs.
#[derive(Clone, Debug)]
pub struct PurgeEmails {
    pub retention_days: i64,
    pub now: DateTime<Utc>,
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
