//! Prometheus metrics of a scheduler, with prometheus-client (the Prometheus
//! project's own Rust client, kept up to date with OpenMetrics).
//!
//! Counted as runs end (by this scheduler): runs by job and status, their
//! durations, rows. Read from `job_runs` at each scrape (whichever machine
//! ran the job): the end of each scheduled job's latest successful run, and
//! each job's next tick.
use std::sync::atomic::AtomicU64;

use chrono::Utc;
use entity::job_run::{self, RunStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::error::JobError;
use crate::schedule::Entry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobStatus {
    job: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Job {
    job: String,
}

type Seconds = Gauge<f64, AtomicU64>;

/// The scheduler's metrics; cheap to update from any task.
pub struct Metrics {
    registry: Registry,
    runs: Family<JobStatus, Counter>,
    rows: Family<Job, Counter>,
    durations: Family<Job, Histogram, fn() -> Histogram>,
    last_success: Family<Job, Seconds>,
    next_tick: Family<Job, Seconds>,
    /// One scrape at a time: the gauges read from the database are refilled per scrape.
    scrape: tokio::sync::Mutex<()>,
}

fn duration_histogram() -> Histogram {
    // 50 ms to about 1.8 hours: a cheap purge and a long full rebuild both land in a bucket.
    Histogram::new(exponential_buckets(0.05, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let runs = Family::<JobStatus, Counter>::default();
        let rows = Family::<Job, Counter>::default();
        let durations = Family::<Job, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        let last_success = Family::<Job, Seconds>::default();
        let next_tick = Family::<Job, Seconds>::default();
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "sitejobs_job_runs",
            "Runs this scheduler started and saw end, by job and status",
            runs.clone(),
        );
        registry.register(
            "sitejobs_job_rows",
            "Rows written or deleted by the runs this scheduler saw end",
            rows.clone(),
        );
        registry.register(
            "sitejobs_job_run_duration_seconds",
            "Duration of the runs this scheduler saw end",
            durations.clone(),
        );
        registry.register(
            "sitejobs_job_last_success_timestamp_seconds",
            "Unix time of the end of the job's latest successful run in job_runs, on any machine",
            last_success.clone(),
        );
        registry.register(
            "sitejobs_job_next_tick_timestamp_seconds",
            "Unix time of the job's next scheduled tick",
            next_tick.clone(),
        );
        Self {
            registry,
            runs,
            rows,
            durations,
            last_success,
            next_tick,
            scrape: tokio::sync::Mutex::new(()),
        }
    }
}

impl Metrics {
    /// Counts a run this scheduler started and saw end.
    pub fn run_ended(&self, job: &str, status: &str, duration_ms: u64, rows: u64) {
        let labels = JobStatus {
            job: job.to_owned(),
            status: status.to_owned(),
        };
        self.runs.get_or_create(&labels).inc();
        let job = Job {
            job: job.to_owned(),
        };
        self.rows.get_or_create(&job).inc_by(rows);
        self.durations
            .get_or_create(&job)
            .observe(duration_ms as f64 / 1000.0);
    }

    /// The exposition text, with the database-backed gauges read now.
    pub async fn render(
        &self,
        db: &impl ConnectionTrait,
        entries: &[Entry],
    ) -> Result<String, JobError> {
        let _one = self.scrape.lock().await;
        self.last_success.clear();
        self.next_tick.clear();
        let now = Utc::now();
        for name in job_names(entries) {
            if let Some(at) = last_success(db, name).await? {
                self.last_success
                    .get_or_create(&Job {
                        job: name.to_owned(),
                    })
                    .set(at.timestamp_millis() as f64 / 1000.0);
            }
        }
        for name in job_names(entries) {
            let next = entries
                .iter()
                .filter(|e| e.name == name)
                .filter_map(|e| e.next_after(now))
                .min();
            if let Some(next) = next {
                self.next_tick
                    .get_or_create(&Job {
                        job: name.to_owned(),
                    })
                    .set(next.timestamp() as f64);
            }
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map_err(|e| JobError::Other(format!("encoding metrics: {e}")))?;
        Ok(text)
    }
}

/// The distinct job names of the schedule, in file order.
pub fn job_names(entries: &[Entry]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for e in entries {
        if !names.contains(&e.name.as_str()) {
            names.push(&e.name);
        }
    }
    names
}

/// When the job's latest successful run ended. The newest `ok` row by start
/// time: the (job, started_at) index finds it without reading the history.
async fn last_success(
    db: &impl ConnectionTrait,
    job: &str,
) -> Result<Option<chrono::DateTime<Utc>>, JobError> {
    let at: Option<Option<chrono::DateTime<Utc>>> = job_run::Entity::find()
        .select_only()
        .column(job_run::Column::FinishedAt)
        .filter(job_run::Column::Job.eq(job))
        .filter(job_run::Column::Status.eq(RunStatus::Ok))
        .order_by_desc(job_run::Column::StartedAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(at.flatten())
}
