//! `sitejobs run denormalize-profiles (--community ID | --all) [--batch-size N]
//! [--concurrency N] [--precedence staff,moderator,...] [--incremental [--max-changes N]]`. The precedence may
//! also come from `precedence = [...]` under `[denormalize-profiles]` in
//! `sitejobs.toml`; the flag wins.
use std::process::ExitCode;

use service::jobs::denormalize_profiles::{DenormalizeProfiles, Target, DEFAULT_MAX_CHANGES, NAME};

use super::{execute, Common};
use crate::commands::bad_input;
use crate::Cli;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["community", "all"])))]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Rebuild this community's records.
    #[arg(long)]
    pub community: Option<i64>,
    /// Rebuild every community, each atomically and under its own lock.
    #[arg(long)]
    pub all: bool,
    /// Records per insert (default: 1000 naive, 5000 optimized).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: Option<u64>,
    /// Communities rebuilt at the same time with --all.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub concurrency: u64,
    /// Group names in order of precedence for primary_group (default: staff,moderator,creator,member).
    #[arg(long, value_delimiter = ',')]
    pub precedence: Option<Vec<String>>,
    /// Rewrite only the records of profiles changed since the community's last
    /// rebuild (a full rebuild when there is none, or its precedence differed).
    #[arg(long)]
    pub incremental: bool,
    /// With --incremental: a community with more pending changes than this is rebuilt in full.
    #[arg(long, default_value_t = DEFAULT_MAX_CHANGES, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_changes: u64,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let target = match args.community {
        Some(id) => Target::Community(id),
        None => Target::All,
    };
    let mut job = DenormalizeProfiles::new(target);
    job.batch_size = args.batch_size.map(|n| n as usize);
    job.concurrency = args.concurrency as usize;
    job.incremental = args.incremental;
    job.max_changes = args.max_changes;
    if let Some(names) = precedence(args)? {
        job.precedence = names;
    }
    execute(cli, &args.common, &job).await
}

/// The flag's list, else the config file's, else `None` (the default).
fn precedence(args: &Args) -> anyhow::Result<Option<Vec<String>>> {
    if let Some(names) = &args.precedence {
        return Ok(Some(names.iter().map(|n| n.trim().to_string()).collect()));
    }
    let section = crate::config::job_section(NAME)?;
    let Some(value) = section.get("precedence") else {
        return Ok(None);
    };
    let not_a_list = || {
        bad_input(format!(
            "{}: [{NAME}] precedence must be a list of group names",
            crate::config::CONFIG_FILE
        ))
    };
    let list = value.as_array().ok_or_else(not_a_list)?;
    let names = list
        .iter()
        .map(|v| v.as_str().map(str::to_string).ok_or_else(not_a_list))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(names))
}
