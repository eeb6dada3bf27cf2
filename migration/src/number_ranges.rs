//! The `my_numbers.number_range` backfill, shared by the migration
//! `m20261121_400003_backfill_number_ranges` and the job
//! `sitejobs run backfill-number-ranges` (service crate), so both run the same statement.
use sea_orm_migration::sea_orm::{ConnectionTrait, DbErr, Statement};

/// Rows one batch fills when nobody says otherwise: large enough that the round
/// trips vanish, small enough that each batch's row locks (which a writer
/// updating one of those rows waits for) last well under a second: on 1M rows
/// under load, 5,000 gave a slowest batch of 0.68 s where 10,000 gave 1.28 s,
/// at the same total time (docs/my-numbers.md).
pub const DEFAULT_BATCH_SIZE: u64 = 5_000;

/// The largest `number_end` whose inclusive range fits `int4range`
/// (`int4range(x, 2147483647, '[]')` overflows: its canonical upper bound would be 2^31).
pub const MAX_NUMBER_END: i32 = i32::MAX - 1;

/// What one batch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Ranges written by this batch.
    pub rows: u64,
    /// The largest id the batch looked at; the next batch starts after it.
    /// `None` when no row with a null range was left after `after_id`.
    pub last_id: Option<i64>,
}

/// Fills `number_range` for the next `limit` rows (by id, after `after_id`)
/// whose range is still null, in one statement (its own transaction when `db`
/// is a plain connection). Rows already filled are never touched, so a rerun
/// after an interruption just continues.
pub async fn backfill_batch(
    db: &impl ConnectionTrait,
    after_id: i64,
    limit: u64,
) -> Result<Batch, DbErr> {
    // Raw SQL: a keyset-bounded UPDATE that also reports its last id is beyond
    // the ORM's update builder; one statement per batch.
    //
    // The batch is bounded by id range (`id > $1 AND id <= hi`), not joined to
    // a list of ids: joined, the planner hashed the whole table for every batch
    // (a seq scan of all rows per 10k-row batch, quadratic in the table), while
    // the range is one PK index scan over exactly the batch (see docs/my-numbers.md).
    let sql = "WITH bound AS (
                   SELECT max(id) AS hi FROM (
                       SELECT id FROM my_numbers
                       WHERE id > $1 AND number_range IS NULL
                       ORDER BY id LIMIT $2
                   ) next_ids
               ), done AS (
                   UPDATE my_numbers m
                   SET number_range = int4range(m.number_start, m.number_end, '[]')
                   WHERE m.id > $1 AND m.id <= (SELECT hi FROM bound)
                     AND m.number_range IS NULL
                   RETURNING 1
               )
               SELECT (SELECT count(*) FROM done)::bigint AS rows,
                      (SELECT hi FROM bound) AS last_id";
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [after_id.into(), limit.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the backfill statement returned no row".into()))?;
    let rows: i64 = row.try_get("", "rows")?;
    let last_id: Option<i64> = row.try_get("", "last_id")?;
    Ok(Batch {
        rows: rows.max(0) as u64,
        last_id,
    })
}

/// Ids of rows that can never get a range (`number_end = 2147483647`), at most `limit`.
pub async fn unrepresentable_ids(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<i64>, DbErr> {
    // Raw SQL keeps this module free of the entity crate (the service crate owns it).
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT id FROM my_numbers WHERE number_end > $1 ORDER BY id LIMIT $2",
            [
                MAX_NUMBER_END.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    rows.iter().map(|r| r.try_get_by_index::<i64>(0)).collect()
}
