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
    /// Arguments after `sitejobs run`, starting with the job name, without
    /// `--strategy`: made from the job's typed settings by [`registry::run_args`].
    pub args: Vec<String>,
    /// How to run the naive strategy here.
    pub naive: NaivePlan,
    /// SQL statements executed before every run of the case (both strategies),
    /// to put the data back where the case starts (e.g. restore purged rows).
    pub reset_sql: Vec<String>,
    /// Baselines to show beside the job: what the database or Redis alone takes.
    pub floors: Vec<Floor>,
}

/// How a case runs the naive strategy, which may be far too slow for the full input.
#[derive(Clone, Debug)]
pub enum NaivePlan {
    /// Run it on the same input as the optimized strategy.
    Full,
    /// Run it with these arguments instead (a row limit), and multiply its wall
    /// time by `factor` to estimate the full run; the table says "extrapolated".
    Capped {
        /// The capped run's arguments ([`registry::run_args`]).
        args: Vec<String>,
        /// Full input / capped input.
        factor: f64,
    },
    /// Too slow to run here at all.
    Skip,
}

/// A baseline measured beside a case.
#[derive(Clone, Debug)]
pub struct Floor {
    /// What the floor measures, for the table.
    pub label: String,
    /// How it is measured.
    pub kind: FloorKind,
}

/// How a floor is measured.
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

use crate::error::JobError;
use crate::registry::{self, JobEntry};

/// The jobs `sitejobs bench` runs when none are named, in the registry's order.
pub fn default_jobs() -> Vec<&'static JobEntry> {
    registry::JOBS
        .iter()
        .filter(|e| e.bench_by_default)
        .collect()
}

/// The registered jobs called `names`; an unknown name is bad input.
pub fn jobs_named(names: &[String]) -> Result<Vec<&'static JobEntry>, JobError> {
    names
        .iter()
        .map(|n| {
            registry::find(n).ok_or_else(|| {
                JobError::bad_input(format!(
                    "no bench cases for job '{n}': choose from {}",
                    registry::names()
                ))
            })
        })
        .collect()
}
