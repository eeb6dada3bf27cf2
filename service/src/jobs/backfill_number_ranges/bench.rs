//! Bench cases: the backfill on a table whose ranges are all null (the state
//! right after migration step 1), with the single-statement UPDATE and the
//! GiST index build as floors.
use migration::number_ranges::DEFAULT_BATCH_SIZE;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::bench::{BenchCase, Floor, FloorKind, NaivePlan};
use crate::error::JobError;
use crate::registry::run_args;
use crate::scale::Scale;

use super::{BackfillNumberRanges, Settings};

/// Rows in `my_numbers` per scale (large = the write-up's largest table).
pub fn rows_for(scale: Scale) -> u64 {
    match scale {
        Scale::Tiny => 20_000,
        Scale::Small => 200_000,
        Scale::Medium => 1_000_000,
        Scale::Large => 8_000_000,
    }
}

const TRIGGER: &str = "my_numbers_sync_number_range";

/// Statements that null every range (trigger off meanwhile), as before a backfill.
pub fn null_ranges_sql() -> Vec<String> {
    vec![
        format!("ALTER TABLE my_numbers DISABLE TRIGGER {TRIGGER}"),
        "UPDATE my_numbers SET number_range = NULL WHERE number_range IS NOT NULL".into(),
        format!("ALTER TABLE my_numbers ENABLE TRIGGER {TRIGGER}"),
    ]
}

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<(), JobError> {
    // Bench setup is plain SQL: generate_series and trigger switches have no ORM form.
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(())
}

/// Makes sure `my_numbers` holds at least `rows` rows (ranges 0..1000 wide
/// starting anywhere in 0..100M); rows it adds have a null range.
pub async fn ensure_rows(db: &DatabaseConnection, rows: u64) -> Result<(), JobError> {
    let have = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) FROM my_numbers",
        ))
        .await?
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0)
        .max(0) as u64;
    if have >= rows {
        return Ok(());
    }
    exec(
        db,
        &format!("ALTER TABLE my_numbers DISABLE TRIGGER {TRIGGER}"),
    )
    .await?;
    let filled = exec(
        db,
        &format!(
            "INSERT INTO my_numbers (number_start, number_end)
             SELECT s, s + (hashint8(g) & 1023) % 1000
             FROM (SELECT g, (hashint8(g * 7919) & 2147483647) % 100000000 AS s
                   FROM generate_series({from}::bigint, {to}::bigint) g) x",
            from = have + 1,
            to = rows
        ),
    )
    .await;
    exec(
        db,
        &format!("ALTER TABLE my_numbers ENABLE TRIGGER {TRIGGER}"),
    )
    .await?;
    filled?;
    exec(db, "ANALYZE my_numbers").await
}

/// Makes sure `my_numbers` holds [`rows_for`] rows and returns the one case: every range null,
/// backfilled in batches of 10,000 (naive capped at 20 batches of 1,000 above 20k rows and
/// extrapolated), beside a one-`UPDATE` floor and a GiST index build.
pub async fn cases(db: &DatabaseConnection, scale: Scale) -> Result<Vec<BenchCase>, JobError> {
    let rows = rows_for(scale);
    ensure_rows(db, rows).await?;
    let args = |batch_size: u64, max_batches: Option<u64>| {
        run_args::<BackfillNumberRanges>(&Settings {
            batch_size: Some(batch_size),
            max_batches,
        })
    };
    // The naive path is one round trip per row: cap it at 20 batches of 1000.
    let naive = if rows <= 20_000 {
        NaivePlan::Full
    } else {
        NaivePlan::Capped {
            args: args(1000, Some(20))?,
            factor: rows as f64 / 20_000.0,
        }
    };
    Ok(vec![BenchCase {
        job: "backfill-number-ranges",
        label: format!("{rows} rows, all ranges null, GiST index present"),
        args: args(DEFAULT_BATCH_SIZE, None)?,
        naive,
        // Every run starts from a vacuumed table: without it each reset and
        // each rolled-back floor leaves a table's worth of dead rows, and the
        // later runs of a bench would pay for the earlier ones'.
        reset_sql: null_ranges_sql()
            .into_iter()
            .chain(["VACUUM my_numbers".to_owned()])
            .collect(),
        floors: vec![
            Floor {
                label: "one UPDATE of the whole table".into(),
                kind: FloorKind::Sql(vec![
                    "UPDATE my_numbers SET number_range = int4range(number_start, number_end, '[]') WHERE number_range IS NULL".into(),
                ]),
            },
            Floor {
                label: "GiST index build (plain, not concurrent)".into(),
                kind: FloorKind::Sql(vec![
                    "CREATE INDEX bench_my_numbers_range ON my_numbers USING gist (number_range)".into(),
                ]),
            },
        ],
    }])
}
