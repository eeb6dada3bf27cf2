//! Progress of a long job: a bar on stderr when it is a terminal, otherwise a
//! plain tracing line every few seconds (cron mail and log collectors stay readable).
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const LOG_EVERY: Duration = Duration::from_secs(5);

/// Counts a long task's units of work and shows them: a bar on a terminal, a log line at most every
/// 5 s otherwise. Shared by reference between a job's futures (`inc` takes `&self`).
pub struct Progress {
    label: String,
    total: Option<u64>,
    done: AtomicU64,
    bar: Option<ProgressBar>,
    last_log: Mutex<Instant>,
}

impl Progress {
    /// A progress of `label` (`titles`): with `total`, a bar with an ETA; without, a spinner.
    pub fn new(label: &str, total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
                None => ProgressBar::new_spinner(),
            };
            let template = if total.is_some() {
                "{msg} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})"
            } else {
                "{msg} {spinner} {pos} ({per_sec})"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_string());
            bar
        });
        Self {
            label: label.to_string(),
            total,
            done: AtomicU64::new(0),
            bar,
            last_log: Mutex::new(Instant::now()),
        }
    }

    /// A progress that shows nothing (for small inputs and for tests).
    pub fn hidden(label: &str) -> Self {
        Self {
            label: label.to_string(),
            total: None,
            done: AtomicU64::new(0),
            bar: Some(ProgressBar::hidden()),
            last_log: Mutex::new(Instant::now()),
        }
    }

    /// Adds `n` units done.
    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
            return;
        }
        let Ok(mut last) = self.last_log.lock() else {
            return;
        };
        if last.elapsed() >= LOG_EVERY {
            *last = Instant::now();
            match self.total {
                Some(total) => tracing::info!(task = %self.label, done, total, "progress"),
                None => tracing::info!(task = %self.label, done, "progress"),
            }
        }
    }

    /// Units done so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Clears the bar (dropping does it too); [`done`](Self::done) still answers.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
