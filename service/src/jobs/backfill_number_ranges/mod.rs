//! `backfill-number-ranges`: fills `my_numbers.number_range` where it is still
//! null, in batches by primary key, so a large table can be backfilled online
//! before the deploy that needs the column (the migration
//! `m20261121_400003_backfill_number_ranges` runs the same batches).
//!
//! Guarantees: afterwards every row has `number_range = int4range(number_start,
//! number_end, '[]')` (the trigger keeps new writes right meanwhile); rows
//! already filled are never touched; each batch commits on its own, so an
//! interrupted run (or one stopped by `--max-batches`) loses nothing and the
//! next run continues where it stopped. `rows` = ranges written.
//!
//! Why the optimized path is fast: one `UPDATE ... FROM (keyset batch)` per
//! batch of `--batch-size` rows instead of a SELECT per page plus one ORM
//! `UPDATE` per row (the write-up's "making the update on each item").
mod naive;
mod optimized;

pub mod bench;

use migration::number_ranges::{self, DEFAULT_BATCH_SIZE};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Statement,
};

use crate::error::JobError;
use crate::registry::Register;
use crate::runner::{Job, JobContext, JobOutput, Strategy};
use crate::scale::Scale;

/// The job's name and lock key.
pub const NAME: &str = "backfill-number-ranges";

/// `sitejobs run backfill-number-ranges` flags, and the
/// `[backfill-number-ranges]` table of the settings file (`batch_size`).
#[derive(clap::Args, serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Rows per batch, each batch its own statement and transaction [default: 10000].
    #[arg(long)]
    pub batch_size: Option<u64>,
    /// Stop after N batches (a later run continues where this one stopped).
    #[arg(long)]
    pub max_batches: Option<u64>,
}

impl Register for BackfillNumberRanges {
    const NAME: &'static str = NAME;
    const ABOUT: &'static str =
        "Fill my_numbers.number_range where it is null, in batches by primary key";
    type Settings = Settings;

    fn from_settings(s: Settings) -> Result<Self, JobError> {
        let batch_size = s.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if batch_size == 0 {
            return Err(JobError::bad_input("--batch-size must be at least 1"));
        }
        if s.max_batches == Some(0) {
            return Err(JobError::bad_input("--max-batches must be at least 1"));
        }
        Ok(Self {
            batch_size,
            max_batches: s.max_batches,
        })
    }

    async fn bench_cases(
        db: &DatabaseConnection,
        scale: Scale,
    ) -> Result<Vec<crate::bench::BenchCase>, JobError> {
        bench::cases(db, scale).await
    }
}

/// The job's validated options.
pub struct BackfillNumberRanges {
    /// Rows per batch (each batch is its own statement(s) and transaction).
    pub batch_size: u64,
    /// Stop after this many batches (to spread a huge backfill over several runs).
    pub max_batches: Option<u64>,
}

impl Default for BackfillNumberRanges {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
            max_batches: None,
        }
    }
}

/// What a run did; `complete` is false when `--max-batches` stopped it early.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backfilled {
    /// Ranges written.
    pub rows: u64,
    /// Batches committed.
    pub batches: u64,
    /// Whether no null range is left.
    pub complete: bool,
}

impl Job for BackfillNumberRanges {
    fn name(&self) -> &'static str {
        NAME
    }

    fn params(&self) -> serde_json::Value {
        serde_json::json!({ "batch_size": self.batch_size, "max_batches": self.max_batches })
    }

    async fn validate(&self, db: &DatabaseConnection) -> Result<(), JobError> {
        // Catalog lookup: the ORM has no schema introspection.
        let has_column = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT 1 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = 'my_numbers'
                   AND column_name = 'number_range'",
            ))
            .await?
            .is_some();
        if !has_column {
            return Err(JobError::bad_input(
                "my_numbers.number_range does not exist yet: apply the migrations first (sitejobs migrate up)",
            ));
        }
        let bad = number_ranges::unrepresentable_ids(db, 10).await?;
        if !bad.is_empty() {
            return Err(JobError::bad_input(format!(
                "my_numbers rows with number_end = 2147483647 cannot get an inclusive int4range (ids {bad:?}): fix them first"
            )));
        }
        Ok(())
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let done = match ctx.strategy {
            Strategy::Naive => naive::run(ctx, self).await?,
            Strategy::Optimized => optimized::run(ctx, self).await?,
        };
        Ok(JobOutput::rows(done.rows).with_details(serde_json::json!({
            "batches": done.batches,
            "complete": done.complete,
        })))
    }
}

/// Rows whose range is still null: the progress bar's total.
async fn pending(db: &impl ConnectionTrait) -> Result<u64, JobError> {
    Ok(entity::my_number::Entity::find()
        .filter(entity::my_number::Column::NumberRange.is_null())
        .count(db)
        .await?)
}
