//! `sitejobs run <job>`: builds the job's options from its flags, hands it to
//! the runner, prints the one JSON line, and exits with the run's code.
//! Each job's flags live in a file of their own beside this one.
mod backfill_number_ranges;
mod daily_impressions;
mod denormalize_profiles;
mod noop;
mod purge_emails;
mod refresh_autocomplete;

use std::process::ExitCode;

use service::{run_job_until, Job, RunOptions, RunStatus, Strategy};

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
    /// The schedule tick this run claims (set by `sitejobs schedule`).
    #[arg(long, env = "SITEJOBS_TICK", hide = true)]
    pub tick: Option<String>,
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    s.parse().map_err(|e: service::JobError| e.to_string())
}

#[derive(clap::Subcommand, Debug)]
pub enum JobCmd {
    /// A no-op job that proves the runner (lock, counts, history); sleeps or fails if asked.
    Noop(noop::Args),
    /// Rebuild denorm_profile_records for one community (--community ID) or all (--all).
    DenormalizeProfiles(denormalize_profiles::Args),
    /// Aggregate one UTC day (default: yesterday) of impressions into daily_impression_stats, with tags.
    DailyImpressions(daily_impressions::Args),
    /// Rebuild the Redis sorted set of title prefixes (swapped in atomically).
    RefreshAutocomplete(refresh_autocomplete::Args),
    /// Fill my_numbers.number_range where it is null, in batches by primary key.
    BackfillNumberRanges(backfill_number_ranges::Args),
    /// Delete the emails of mailers sent at or before now minus the retention.
    PurgeEmails(purge_emails::Args),
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    match &args.job {
        JobCmd::Noop(a) => noop::run(cli, a).await,
        JobCmd::DenormalizeProfiles(a) => denormalize_profiles::run(cli, a).await,
        JobCmd::DailyImpressions(a) => daily_impressions::run(cli, a).await,
        JobCmd::RefreshAutocomplete(a) => refresh_autocomplete::run(cli, a).await,
        JobCmd::BackfillNumberRanges(a) => backfill_number_ranges::run(cli, a).await,
        JobCmd::PurgeEmails(a) => purge_emails::run(cli, a).await,
    }
}

/// Connects what the job needs, runs it under the runner and reports. SIGTERM
/// or Ctrl-C stops the run: its changes roll back, and it is recorded and
/// reported as an error (exit 1).
pub async fn execute<J: Job>(cli: &Cli, common: &Common, job: &J) -> anyhow::Result<ExitCode> {
    let stop = service::signals::termination()?;
    let services = crate::config::services(cli, job.needs_redis()).await?;
    let opts = RunOptions {
        strategy: common.strategy,
        wait: common.wait,
        tick: common.tick.clone(),
        ..Default::default()
    };
    let report = run_job_until(&services, job, &opts, stop).await;
    if report.status == RunStatus::BadInput {
        return Err(crate::commands::bad_input(report.error.unwrap_or_default()));
    }
    println!("{}", service::secrets::scrub(&report.to_json_line()));
    // A tick another scheduler took is the scheduler's business, not an error to show.
    let claimed_elsewhere = report.details["tick_claimed_elsewhere"] == true;
    if let Some(e) = report.error.as_ref().filter(|_| !claimed_elsewhere) {
        eprintln!("error: {}", service::secrets::scrub(e));
    }
    Ok(ExitCode::from(report.exit_code()))
}
