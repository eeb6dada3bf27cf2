use sea_orm_migration::prelude::*;

use crate::number_ranges::{self, DEFAULT_BATCH_SIZE};

/// Step 3 of 4: fill `number_range` for rows written before the trigger, in
/// batches by primary key, each batch its own statement and transaction
/// (`use_transaction = false`): no long transaction holds row locks on the
/// whole table, vacuum keeps up, and an interrupted run resumes where it
/// stopped because only rows whose range is still null are touched. The same
/// code is `sitejobs run backfill-number-ranges`, to do it online before the
/// deploy; then this step finds nothing left and takes a moment.
///
/// `down` has nothing to undo: the ranges are derived data that the trigger
/// keeps correct, and step 1's `down` drops the column with them.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let bad = number_ranges::unrepresentable_ids(db, 10).await?;
        if !bad.is_empty() {
            return Err(DbErr::Migration(format!(
                "my_numbers rows with number_end = 2147483647 cannot get an inclusive int4range \
                 (ids {bad:?}): fix them, then migrate again"
            )));
        }
        let (mut after, mut rows, mut batches) = (0_i64, 0_u64, 0_u64);
        let mut slowest = std::time::Duration::ZERO;
        while let Some(last) = {
            let started = std::time::Instant::now();
            let batch = number_ranges::backfill_batch(db, after, DEFAULT_BATCH_SIZE).await?;
            slowest = slowest.max(started.elapsed());
            rows += batch.rows;
            batch.last_id
        } {
            after = last;
            batches += 1;
            if batches % 50 == 0 {
                tracing::info!(rows, last_id = last, "backfilling my_numbers.number_range");
            }
        }
        tracing::info!(
            rows,
            batches,
            slowest_batch_ms = slowest.as_millis() as u64,
            "my_numbers.number_range backfilled"
        );
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
