//! Bench cases of `purge-impressions`: 30 days of impressions in January 1990
//! (far from the days other jobs' cases use), every other day aggregated, and
//! an instant 90 days later so that every one of those days is due: the run
//! after weeks of downtime. Each run starts from the same rows (`reset_sql`
//! puts the deleted ones back).
use sea_orm::DatabaseConnection;

use super::{PurgeImpressions, Settings};
use crate::bench::{BenchCase, Floor, FloorKind, NaivePlan};
use crate::error::JobError;
use crate::registry::run_args;
use crate::scale::Scale;

/// Days of impressions in the case, from 1990-01-01; the odd ones are aggregated.
const DAYS: u32 = 30;
/// An instant after which every bench day is more than `KEEP_DAYS` days old.
const NOW: &str = "1990-06-01T00:00:00Z";
const KEEP_DAYS: i64 = 90;
/// An instant that leaves only 1990-01-01 due: the naive strategy's capped run.
const NOW_FIRST_DAY_ONLY: &str = "1990-04-02T12:00:00Z";
/// Content ids of the case's impressions: other cases never use them.
const CONTENT_TYPE: i32 = 99;

fn per_day(scale: Scale) -> u64 {
    match scale {
        Scale::Tiny => 1_000,
        Scale::Small => 10_000,
        Scale::Medium => 100_000,
        Scale::Large => 300_000,
    }
}

fn instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, JobError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| JobError::Other(format!("bench instant {s}: {e}")))
}

/// The statements that put the case's rows back: its impressions, and one
/// stats row on each aggregated day. Run before every measured run.
fn reset_sql(per_day: u64) -> Vec<String> {
    vec![
        format!("DELETE FROM impressions WHERE content_type_id = {CONTENT_TYPE}"),
        format!(
            "INSERT INTO impressions (content_type_id, object_id, created)
             SELECT {CONTENT_TYPE}, g % 1000, timestamptz '1990-01-01T00:00:00Z'
                    + (g / {per_day}) * interval '1 day' + (g % {per_day}) * interval '1 second' * 86399 / {per_day}
             FROM generate_series(0, {per_day} * {DAYS} - 1) g"
        ),
        format!(
            "INSERT INTO daily_impression_stats (date, content_type_id, object_id, total_impressions)
             SELECT date '1990-01-01' + d, {CONTENT_TYPE}, 0, {per_day}
             FROM generate_series(0, {DAYS} - 1, 2) d
             ON CONFLICT DO NOTHING"
        ),
        "VACUUM ANALYZE impressions".into(),
    ]
}

/// The one case; its data is (re)made by its `reset_sql` before every run.
pub async fn cases(_db: &DatabaseConnection, scale: Scale) -> Result<Vec<BenchCase>, JobError> {
    let per_day = per_day(scale);
    let args = |now: &str| {
        run_args::<PurgeImpressions>(&Settings {
            keep_days: Some(KEEP_DAYS),
            now: Some(instant(now)?),
            batch_size: None,
        })
    };
    let aggregated = DAYS.div_ceil(2) as u64;
    let naive = if per_day <= 1_000 {
        NaivePlan::Full
    } else {
        NaivePlan::Capped {
            args: args(NOW_FIRST_DAY_ONLY)?,
            factor: aggregated as f64,
        }
    };
    Ok(vec![BenchCase {
        job: super::NAME,
        label: format!(
            "{DAYS} days of {per_day} impressions, {aggregated} aggregated, all due"
        ),
        args: args(NOW)?,
        naive,
        reset_sql: reset_sql(per_day),
        floors: vec![Floor {
            label: "one DELETE of the aggregated days' impressions".into(),
            kind: FloorKind::Sql(vec![floor_sql()]),
        }],
    }])
}

/// What the job does, as one statement.
pub fn floor_sql() -> String {
    format!(
        "DELETE FROM impressions i
         USING (SELECT DISTINCT date FROM daily_impression_stats WHERE date <= date '1990-03-01') d
         WHERE i.created >= d.date::timestamp AT TIME ZONE 'UTC'
           AND i.created < (d.date + 1)::timestamp AT TIME ZONE 'UTC'
           AND i.content_type_id = {CONTENT_TYPE}"
    )
}
