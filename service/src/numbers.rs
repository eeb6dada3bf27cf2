//! Queries on `my_numbers`: which stored ranges `[number_start, number_end]`
//! meet a window `[a, b]` (both ends inclusive), two ways that return the same
//! rows. [`overlap_columns`] filters the two B-tree columns; [`overlap_range`]
//! asks the GiST index on `number_range` (the fast one: a narrow window reads
//! a handful of index pages instead of half of a B-tree).
//!
//! The write-up's filter `number_start >= A OR number_end <= B` returns wrong
//! rows; two ranges meet exactly when `number_start <= B AND number_end >= A`.
pub mod fixture;

use std::str::FromStr;
use std::time::{Duration, Instant};

use entity::my_number;
use futures::TryStreamExt;
use sea_orm::sea_query::{Expr, Value};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select};

use crate::error::JobError;

/// How an overlap query finds its rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OverlapStrategy {
    /// `number_start <= B AND number_end >= A` on the two B-tree columns.
    Columns,
    /// `number_range && int4range(A, B, '[]')` on the GiST index.
    #[default]
    Range,
}

impl FromStr for OverlapStrategy {
    type Err = JobError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "columns" => Ok(Self::Columns),
            "range" => Ok(Self::Range),
            other => Err(JobError::bad_input(format!(
                "unknown overlap strategy '{other}': use columns or range"
            ))),
        }
    }
}

impl OverlapStrategy {
    /// The name as given to `--strategy` (`columns`, `range`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Columns => "columns",
            Self::Range => "range",
        }
    }
}

/// The query for rows meeting `[a, b]`, ordered by id; `a > b` is bad input.
pub fn overlap_query(
    strategy: OverlapStrategy,
    a: i32,
    b: i32,
) -> Result<Select<my_number::Entity>, JobError> {
    if a > b {
        return Err(JobError::bad_input(format!(
            "start {a} is greater than end {b}: the window must have start <= end"
        )));
    }
    let query = my_number::Entity::find();
    let query = match strategy {
        OverlapStrategy::Columns => query
            .filter(my_number::Column::NumberStart.lte(b))
            .filter(my_number::Column::NumberEnd.gte(a)),
        OverlapStrategy::Range => {
            // `[a, 2147483647]` overflows int4range; an unbounded upper end means
            // the same here because no stored range reaches 2147483647.
            let upper: Option<i32> = (b < i32::MAX).then_some(b);
            // The ORM has no range operators: `&&` against a literal range, as a custom expression.
            query.filter(Expr::cust_with_values(
                "number_range && int4range($1, $2, '[]')",
                [Value::from(a), Value::from(upper)],
            ))
        }
    };
    Ok(query.order_by_asc(my_number::Column::Id))
}

/// Rows whose `[number_start, number_end]` meets `[a, b]`, by the B-tree columns.
pub async fn overlap_columns(
    db: &impl ConnectionTrait,
    a: i32,
    b: i32,
) -> Result<Vec<my_number::Model>, JobError> {
    Ok(overlap_query(OverlapStrategy::Columns, a, b)?
        .all(db)
        .await?)
}

/// Rows whose `[number_start, number_end]` meets `[a, b]`, by the GiST range index.
/// Rows whose `number_range` is still null (not yet backfilled) are not found.
pub async fn overlap_range(
    db: &impl ConnectionTrait,
    a: i32,
    b: i32,
) -> Result<Vec<my_number::Model>, JobError> {
    Ok(overlap_query(OverlapStrategy::Range, a, b)?.all(db).await?)
}

/// Streams the rows meeting `[a, b]` to `each`, one at a time (memory stays
/// flat however wide the window); returns how many there were.
pub async fn for_each_overlap(
    db: &sea_orm::DatabaseConnection,
    strategy: OverlapStrategy,
    a: i32,
    b: i32,
    mut each: impl FnMut(&my_number::Model) -> Result<(), JobError>,
) -> Result<u64, JobError> {
    let query = overlap_query(strategy, a, b)?;
    let mut stream = query.stream(db).await?;
    let mut n = 0;
    while let Some(row) = stream.try_next().await? {
        each(&row)?;
        n += 1;
    }
    Ok(n)
}

/// Latency of each window's query with `strategy` (rows fetched and decoded).
pub async fn time_overlaps(
    db: &impl ConnectionTrait,
    strategy: OverlapStrategy,
    windows: &[(i32, i32)],
) -> Result<Vec<(Duration, usize)>, JobError> {
    let mut out = Vec::with_capacity(windows.len());
    for &(a, b) in windows {
        let clock = Instant::now();
        let rows = overlap_query(strategy, a, b)?.all(db).await?;
        out.push((clock.elapsed(), rows.len()));
    }
    Ok(out)
}

/// `n` random windows of width 1 to `max_width` inside `[lo, hi]`, the same for the same seed.
pub fn random_windows(seed: u64, n: usize, lo: i32, hi: i32, max_width: u32) -> Vec<(i32, i32)> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (lo, hi) = (i64::from(lo.min(hi)), i64::from(hi.max(lo)));
    (0..n)
        .map(|_| {
            let a = rng.random_range(lo..=hi);
            let width = i64::from(rng.random_range(1..=max_width.max(1)));
            let b = (a + width - 1).min(i64::from(i32::MAX - 1));
            (a as i32, b as i32)
        })
        .collect()
}

/// Latency percentiles of one strategy over a set of windows.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OverlapLatency {
    /// `columns` or `range`.
    pub strategy: &'static str,
    /// Windows timed (the warm-up pass not counted).
    pub windows: usize,
    /// Median time of one query, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile time of one query, in milliseconds.
    pub p95_ms: f64,
    /// Slowest query, in milliseconds.
    pub max_ms: f64,
    /// Mean number of rows a window returned.
    pub mean_rows: f64,
}

/// Times every window with `strategy` (after a warm-up pass over the first
/// few) and summarises; for `sitejobs numbers bench-overlap`.
pub async fn bench_overlap(
    db: &impl ConnectionTrait,
    strategy: OverlapStrategy,
    windows: &[(i32, i32)],
) -> Result<OverlapLatency, JobError> {
    time_overlaps(db, strategy, &windows[..windows.len().min(20)]).await?;
    let timed = time_overlaps(db, strategy, windows).await?;
    let mut ms: Vec<f64> = timed
        .iter()
        .map(|(d, _)| d.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len().max(1)) - 1;
        ms.get(i).copied().unwrap_or(0.0)
    };
    let rows: usize = timed.iter().map(|(_, n)| n).sum();
    Ok(OverlapLatency {
        strategy: strategy.as_str(),
        windows: ms.len(),
        p50_ms: pick(0.50),
        p95_ms: pick(0.95),
        max_ms: ms.last().copied().unwrap_or(0.0),
        mean_rows: rows as f64 / ms.len().max(1) as f64,
    })
}

/// The smallest `number_start` and largest `number_end` stored ((0, 0) when empty).
pub async fn bounds(db: &impl ConnectionTrait) -> Result<(i32, i32), JobError> {
    use sea_orm::QuerySelect;
    let row: Option<(Option<i32>, Option<i32>)> = my_number::Entity::find()
        .select_only()
        .column_as(my_number::Column::NumberStart.min(), "lo")
        .column_as(my_number::Column::NumberEnd.max(), "hi")
        .into_tuple()
        .one(db)
        .await?;
    let (lo, hi) = row.unwrap_or((None, None));
    Ok((lo.unwrap_or(0), hi.unwrap_or(0)))
}
