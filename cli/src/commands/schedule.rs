//! `sitejobs schedule [--config sitejobs.toml] [--check] [--grace-seconds N] [--listen ADDR]`:
//! runs the jobs of a schedule file at their cron times until SIGTERM/Ctrl-C
//! (exit 0), or with `--check` validates the file and prints each job's next
//! run. The runs it starts read their job settings from the same file.
//! With `--listen` it serves `/metrics`, `/healthz` and `/` (service::ops).
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{SecondsFormat, Utc};
use service::ops::{http, Monitor};
use service::schedule::{self, Launcher, Schedule};
use service::signals::Signals;

use crate::{Cli, LogFormat};

/// The schedule comes from the global `--config` file ([[job]] entries with
/// name, cron and args), `./sitejobs.toml` by default.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Validate the file and print each job's next run time; run nothing.
    #[arg(long)]
    pub check: bool,
    /// On SIGTERM/Ctrl-C, how long running jobs get to finish before they are rolled back.
    #[arg(long, default_value_t = 30)]
    pub grace_seconds: u64,
    /// Serve /metrics, /healthz and the page on this address (e.g. 127.0.0.1:9187).
    /// Bind to a private address or put a proxy in front; see SITEJOBS_HTTP_TOKEN.
    #[arg(long, env = "SITEJOBS_LISTEN")]
    pub listen: Option<String>,
}

/// The bearer token guarding `/` and `/metrics`: from the environment only, so
/// that it never shows in `ps`.
const TOKEN_ENV: &str = "SITEJOBS_HTTP_TOKEN";

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    // Handlers first: a signal during start-up must not kill the process half-way.
    let mut signals = Signals::new()?;
    let file = crate::config::settings_file(cli)?;
    let schedule = schedule::config::load(&file)?;
    if args.check {
        print_check(&file.name(), &schedule);
        return Ok(ExitCode::SUCCESS);
    }
    // Bound before connecting: a taken port is reported at once, not after the database is up.
    let listener = match &args.listen {
        Some(addr) => Some(http::bind(addr).await?),
        None => None,
    };
    let Some(db) = connect(cli, &mut signals).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    let launcher = launcher(cli, file.path())?;
    let grace = Duration::from_secs(args.grace_seconds);
    let monitor = Arc::new(Monitor::default());
    let server = match listener {
        Some(listener) => {
            let addr = listener.local_addr()?;
            let token = std::env::var(TOKEN_ENV).ok();
            if token.as_deref().is_none_or(str::is_empty) && !addr.ip().is_loopback() {
                tracing::warn!(%addr, "serving job errors without {TOKEN_ENV} on a non-loopback address");
            }
            tracing::info!(url = %format!("http://{addr}/"), "serving /metrics, /healthz and the page");
            let entries = schedule.entries.clone();
            Some(http::serve(
                listener,
                db.clone(),
                monitor.clone(),
                entries,
                token,
            ))
        }
        None => None,
    };
    schedule::run(schedule, db, launcher, grace, signals, monitor).await;
    if let Some(server) = server {
        server.abort();
    }
    Ok(ExitCode::SUCCESS)
}

fn print_check(source: &str, schedule: &Schedule) {
    let now = Utc::now();
    for e in &schedule.entries {
        let next = e
            .next_after(now)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_else(|| "never".into());
        let mut what = std::iter::once(e.name.as_str())
            .chain(e.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(units) = e.fanout {
            what.push_str(&format!(" ({})", units.describe()));
        }
        if e.timezone != chrono_tz::Tz::UTC {
            what.push_str(&format!(" [cron in {}]", e.timezone));
        }
        println!("{next}  {:<18} {what}", format!("\"{}\"", e.cron_text));
    }
    eprintln!("{source}: {} jobs, all valid", schedule.entries.len());
}

/// The scheduler's own connection (to claim ticks and list communities). An
/// unreachable database is retried with backoff, not fatal: the scheduler may
/// start before its database. `None` when a signal came first.
async fn connect(
    cli: &Cli,
    signals: &mut Signals,
) -> anyhow::Result<Option<sea_orm::DatabaseConnection>> {
    if cli.database_url.is_none() {
        // Not something waiting fixes.
        return crate::config::database(cli).await.map(Some);
    }
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(60))
        .with_jitter()
        .without_max_times()
        .build();
    loop {
        match crate::config::database(cli).await {
            Ok(db) => return Ok(Some(db)),
            Err(e) => {
                let delay = delays.next().unwrap_or(Duration::from_secs(60));
                tracing::warn!(
                    error = format!("{e:#}"),
                    retry_in_ms = delay.as_millis() as u64,
                    "database unreachable; retrying"
                );
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = signals.recv() => return Ok(None),
                }
            }
        }
    }
}

/// Children run this very binary, with the same servers, log format and
/// settings file (as an absolute path). URLs go through the environment, not
/// argv, to keep passwords out of `ps`.
fn launcher(cli: &Cli, settings: Option<&std::path::Path>) -> anyhow::Result<Launcher> {
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find the sitejobs binary to run jobs with: {e}"))?;
    let mut env = Vec::new();
    if let Some(url) = &cli.database_url {
        env.push(("DATABASE_URL".to_owned(), url.clone()));
    }
    if let Some(url) = &cli.redis_url {
        env.push(("REDIS_URL".to_owned(), url.clone()));
    }
    let format = match cli.log_format {
        LogFormat::Text => "text",
        LogFormat::Json => "json",
    };
    let mut global_args = vec!["--log-format".to_owned(), format.to_owned()];
    if let Some(path) = settings {
        let path = std::path::absolute(path)?;
        global_args.extend(["--config".to_owned(), path.display().to_string()]);
    }
    Ok(Launcher {
        exe,
        global_args,
        env,
    })
}
