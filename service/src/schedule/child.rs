//! One run as a child process (`sitejobs run <job> <args...>`): a crash or a
//! leak in a job cannot take the scheduler down, and the child's own exit
//! codes, lock and rollback apply unchanged. The tick travels in
//! `SITEJOBS_TICK`; the child's JSON line comes back on its stdout.
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::Stop;
use crate::error::JobError;
use crate::runner::RunReport;

/// How long a child told to stop (SIGTERM: roll back, record, exit) gets before SIGKILL.
pub const KILL_AFTER: Duration = Duration::from_secs(5);

/// How to start a run: the binary, flags that go before `run` (the log format,
/// the settings file the scheduler was given), and environment (the servers'
/// URLs, kept out of argv so that `ps` does not show passwords).
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The `sitejobs` binary.
    pub exe: PathBuf,
    /// Flags before `run`.
    pub global_args: Vec<String>,
    /// Extra environment of the child.
    pub env: Vec<(String, String)>,
}

/// How a child ended.
#[derive(Debug)]
pub struct ChildEnd {
    /// The child's exit status.
    pub status: ExitStatus,
    /// Its report, parsed from its JSON line, when it got far enough to print one.
    pub report: Option<RunReport>,
    /// The JSON line as printed.
    pub line: Option<String>,
    /// Whether the scheduler had to SIGKILL it.
    pub killed: bool,
}

impl Launcher {
    /// Starts `run <job> <args...>` for `tick` and waits for it, honouring `stop`:
    /// on the first stop request the child gets `grace` to finish, then SIGTERM
    /// (it rolls back and records itself), then SIGKILL after [`KILL_AFTER`].
    /// A second request skips the rest of the grace period.
    pub async fn run(
        &self,
        job: &str,
        args: &[String],
        tick: &str,
        stop: &mut watch::Receiver<Stop>,
        grace: Duration,
        on_start: impl FnOnce(Option<u32>),
    ) -> Result<ChildEnd, JobError> {
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.args(&self.global_args)
            .arg("run")
            .arg(job)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("SITEJOBS_TICK", tick)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            // Its own process group: a terminal's Ctrl-C reaches the scheduler only,
            // which decides when the child is told to stop.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| JobError::Other(format!("cannot start {}: {e}", self.exe.display())))?;
        on_start(child.id());
        let stdout = child.stdout.take();
        let reader = tokio::spawn(async move {
            let mut text = String::new();
            if let Some(mut out) = stdout {
                let _ = out.read_to_string(&mut text).await;
            }
            text
        });
        let (status, killed) = wait(&mut child, stop, grace).await?;
        let text = reader.await.unwrap_or_default();
        let line = text
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .map(str::to_owned);
        let report = line.as_deref().and_then(RunReport::from_output);
        Ok(ChildEnd {
            status,
            report,
            line,
            killed,
        })
    }
}

async fn wait(
    child: &mut tokio::process::Child,
    stop: &mut watch::Receiver<Stop>,
    grace: Duration,
) -> Result<(ExitStatus, bool), JobError> {
    let io = |e: std::io::Error| JobError::Other(format!("waiting for a run: {e}"));
    tokio::select! {
        status = child.wait() => return Ok((status.map_err(io)?, false)),
        _ = stop.wait_for(|s| *s >= Stop::Graceful) => {}
    }
    tracing::info!(
        pid = child.id(),
        grace_s = grace.as_secs(),
        "waiting for the running job to finish"
    );
    tokio::select! {
        status = child.wait() => return Ok((status.map_err(io)?, false)),
        _ = tokio::time::sleep(grace) => {}
        _ = stop.wait_for(|s| *s >= Stop::Now) => {}
    }
    if let Some(pid) = child.id() {
        tracing::warn!(pid, "stopping the running job: it rolls back");
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
    if let Ok(status) = tokio::time::timeout(KILL_AFTER, child.wait()).await {
        return Ok((status.map_err(io)?, false));
    }
    tracing::warn!(pid = child.id(), "killing the running job");
    let _ = child.start_kill();
    Ok((child.wait().await.map_err(io)?, true))
}
