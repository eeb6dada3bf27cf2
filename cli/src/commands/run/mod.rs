//! `sitejobs run <job>`: builds the job's options from its flags, hands it to
//! the runner, prints the one JSON line, and exits with the run's code.
//! Each job's flags live in a file of their own beside this one.
mod noop;
mod purge_emails;

use std::process::ExitCode;

use service::{run_job, Job, RunOptions, RunStatus, Strategy};

use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub job: JobCmd,
}

/// Flags every job accepts.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// naive (the write-ups' original round trips) or optimized (production).
    #[arg(long, default_value = "optimized", value_parser = parse_strategy)]
    pub strategy: Strategy,
    /// Wait for a run holding the lock instead of exiting 75.
    #[arg(long)]
    pub wait: bool,
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    s.parse().map_err(|e: service::JobError| e.to_string())
}

#[derive(clap::Subcommand, Debug)]
pub enum JobCmd {
    /// A no-op job that proves the runner (lock, counts, history); sleeps or fails if asked.
    Noop(noop::Args),
    /// Delete the emails of mailers sent at or before now minus the retention.
    PurgeEmails(purge_emails::Args),
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    match &args.job {
        JobCmd::Noop(a) => noop::run(cli, a).await,
        JobCmd::PurgeEmails(a) => purge_emails::run(cli, a).await,
    }
}

/// Connects what the job needs, runs it under the runner and reports.
pub async fn execute<J: Job>(cli: &Cli, common: &Common, job: &J) -> anyhow::Result<ExitCode> {
    let services = crate::config::services(cli, job.needs_redis()).await?;
    let opts = RunOptions {
        strategy: common.strategy,
        wait: common.wait,
        ..Default::default()
    };
    let report = run_job(&services, job, &opts).await;
    if report.status == RunStatus::BadInput {
        return Err(crate::commands::bad_input(report.error.unwrap_or_default()));
    }
    println!("{}", report.to_json_line());
    if let Some(e) = &report.error {
        eprintln!("error: {e}");
    }
    Ok(ExitCode::from(report.exit_code()))
}
