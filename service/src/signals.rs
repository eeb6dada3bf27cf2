//! The signals that ask a process to stop: SIGTERM (what `kill`, systemd and
//! Kubernetes send) and SIGINT (Ctrl-C).
use std::future::Future;

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::error::JobError;

/// Registers the handlers now (a signal that comes before the future is first
/// polled is not lost) and returns a future that resolves with the signal's
/// name the first time either comes. Later signals are swallowed while the
/// handlers live: the process decides how to stop.
pub fn termination() -> Result<impl Future<Output = String> + Send + 'static, JobError> {
    let mut signals = Signals::new()?;
    Ok(async move { signals.recv().await.to_owned() })
}

/// A stream of termination signals: each `recv` resolves at the next one.
pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Registers the SIGTERM and SIGINT handlers now; fails only if the OS refuses.
    pub fn new() -> Result<Self, JobError> {
        let handler =
            |kind| signal(kind).map_err(|e| JobError::Other(format!("cannot handle signals: {e}")));
        Ok(Self {
            term: handler(SignalKind::terminate())?,
            int: handler(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next SIGTERM or SIGINT and returns its name (`SIGTERM`).
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
