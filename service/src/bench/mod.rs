//! The benchmark harness's vocabulary. Each job contributes cases
//! (`jobs::<job>::bench::cases`), which prepare their own data and say how to
//! run the job; the harness (`bench::harness`) runs every case with each
//! strategy in a child process of its own and tabulates wall time, statements,
//! Redis commands and the child's peak resident memory.

/// One measured situation of one job, e.g. "community of 200k profiles".
#[derive(Clone, Debug)]
pub struct BenchCase {
    /// The job's name (`denormalize-profiles`).
    pub job: &'static str,
    /// What distinguishes this case, for the table (`200k profiles, ~3 groups`).
    pub label: String,
    /// Arguments after `sitejobs run`, starting with the job name, without `--strategy`.
    pub args: Vec<String>,
    /// How to run the naive strategy here.
    pub naive: NaivePlan,
    /// SQL statements executed before every run of the case (both strategies),
    /// to put the data back where the case starts (e.g. restore purged rows).
    pub reset_sql: Vec<String>,
    /// Baselines to show beside the job: what the database or Redis alone takes.
    pub floors: Vec<Floor>,
}

#[derive(Clone, Debug)]
pub enum NaivePlan {
    /// Run it on the same input as the optimized strategy.
    Full,
    /// Run it with these arguments instead (a row limit), and multiply its wall
    /// time by `factor` to estimate the full run; the table says "extrapolated".
    Capped { args: Vec<String>, factor: f64 },
    /// Too slow to run here at all.
    Skip,
}

/// A baseline measured beside a case.
#[derive(Clone, Debug)]
pub struct Floor {
    pub label: String,
    pub kind: FloorKind,
}

#[derive(Clone, Debug)]
pub enum FloorKind {
    /// Statements timed together inside one transaction that is rolled back
    /// afterwards, so the data is unchanged (`INSERT ... SELECT ... GROUP BY`).
    Sql(Vec<String>),
    /// A shell command (`sh -c`) timed end to end, with DATABASE_URL and
    /// REDIS_URL in its environment (`redis-cli --pipe < file`).
    Shell(String),
}

pub mod harness;
pub mod proxy;
pub mod proxy_check;

use sea_orm::DatabaseConnection;

use crate::error::JobError;
use crate::scale::Scale;

/// Every job that has bench cases, in the order the table shows them
/// (`noop`, the runner's smoke test, is benched only when asked for by name).
pub const BENCH_JOBS: &[&str] = &[
    "denormalize-profiles",
    "refresh-autocomplete",
    "purge-emails",
    "daily-impressions",
    "backfill-number-ranges",
];

/// The cases of `job` at `scale`, their data prepared in `db`.
pub async fn cases_for(
    db: &DatabaseConnection,
    job: &str,
    scale: Scale,
) -> Result<Vec<BenchCase>, JobError> {
    match job {
        "noop" => Ok(vec![BenchCase {
            job: "noop",
            label: "one statement".into(),
            args: vec!["noop".into()],
            naive: NaivePlan::Full,
            reset_sql: vec![],
            floors: vec![],
        }]),
        "denormalize-profiles" => crate::jobs::denormalize_profiles::bench::cases(db, scale).await,
        "refresh-autocomplete" => crate::jobs::refresh_autocomplete::bench::cases(db, scale).await,
        "backfill-number-ranges" => {
            crate::jobs::backfill_number_ranges::bench::cases(db, scale).await
        }
        "purge-emails" => crate::jobs::purge_emails::bench::cases(db, scale).await,
        "daily-impressions" => crate::jobs::daily_impressions::bench::cases(db, scale).await,
        other => Err(JobError::bad_input(format!(
            "no bench cases for job '{other}': choose from {}",
            BENCH_JOBS.join(", ")
        ))),
    }
}

/// Whether `job` has bench cases (the listed jobs, and `noop`).
pub fn has_cases(job: &str) -> bool {
    job == "noop" || BENCH_JOBS.contains(&job)
}
