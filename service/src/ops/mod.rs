//! Operating the scheduler: what an operator looks at and alerts on.
//!
//! - [`http`]: `sitejobs schedule --listen ADDR` serves `/metrics`
//!   (Prometheus), `/healthz` (a probe) and `/` (the page, [`page`]);
//! - [`metrics`]: the counters and gauges behind `/metrics`;
//! - [`prune`]: keeping `job_runs` from growing forever.
//!
//! A [`Monitor`] is what the scheduler's loops report to and the endpoints read.
pub mod http;
pub mod metrics;
pub mod page;
pub mod prune;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub use metrics::Metrics;

/// The scheduler's state as the endpoints see it.
#[derive(Default)]
pub struct Monitor {
    /// The counters and gauges behind `/metrics`.
    pub metrics: Metrics,
    stopping: AtomicBool,
    loops: AtomicUsize,
}

impl Monitor {
    /// A run this scheduler started has ended with `status`.
    pub fn run_ended(&self, job: &str, status: &str, duration_ms: u64, rows: u64) {
        self.metrics.run_ended(job, status, duration_ms, rows);
    }

    /// The first stop signal came: `/healthz` turns 503 so traffic and probes move on.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Whether a stop signal came.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// How many schedule entries' loops are running.
    pub fn set_loops(&self, n: usize) {
        self.loops.store(n, Ordering::Relaxed);
    }

    /// How many schedule entries' loops are running now.
    pub fn loops(&self) -> usize {
        self.loops.load(Ordering::Relaxed)
    }
}
