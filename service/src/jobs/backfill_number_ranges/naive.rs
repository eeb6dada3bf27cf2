//! The write-up's shape: load a page of models, then save each one with its
//! range computed in the application (one `UPDATE` round trip per row).
use entity::my_number;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set, Unchanged},
    ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

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
        let page = my_number::Entity::find()
            .filter(my_number::Column::Id.gt(after))
            .filter(my_number::Column::NumberRange.is_null())
            .order_by_asc(my_number::Column::Id)
            .limit(job.batch_size)
            .all(db)
            .await?;
        let Some(last) = page.last().map(|m| m.id) else {
            done.complete = true;
            return Ok(done);
        };
        for row in &page {
            let update = my_number::ActiveModel {
                id: Unchanged(row.id),
                number_start: NotSet,
                number_end: NotSet,
                number_range: Set(Some(format!("[{},{}]", row.number_start, row.number_end))),
            };
            match update.update(db).await {
                Ok(_) => done.rows += 1,
                // Deleted since the page was read: nothing left to fill.
                Err(DbErr::RecordNotUpdated) => {}
                Err(e) => return Err(e.into()),
            }
            progress.inc(1);
        }
        after = last;
        done.batches += 1;
        done.note_batch_time(started.elapsed());
    }
}
