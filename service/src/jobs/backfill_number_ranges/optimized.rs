//! One statement per batch: the next `batch_size` ids with a null range,
//! updated in the same statement (see `migration::number_ranges::backfill_batch`).
use migration::number_ranges::backfill_batch;

use super::{pending, BackfillNumberRanges, Backfilled};
use crate::error::JobError;
use crate::runner::JobContext;

pub async fn run(ctx: &JobContext, job: &BackfillNumberRanges) -> Result<Backfilled, JobError> {
    let db = ctx.db();
    let progress = ctx.progress("backfilling number ranges", Some(pending(db).await?));
    let mut done = Backfilled::default();
    let mut after = 0_i64;
    loop {
        if job.max_batches.is_some_and(|max| done.batches >= max) {
            return Ok(done);
        }
        let started = std::time::Instant::now();
        let batch = backfill_batch(db, after, job.batch_size).await?;
        done.note_batch_time(started.elapsed());
        let Some(last) = batch.last_id else {
            done.complete = true;
            return Ok(done);
        };
        after = last;
        done.rows += batch.rows;
        done.batches += 1;
        progress.inc(batch.rows);
    }
}
