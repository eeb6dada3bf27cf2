//! `sitejobs run refresh-autocomplete [--key autocomplete] [--max-prefix 8] [--incremental]`:
//! rebuild the sorted set of title prefixes and swap it in atomically.
use std::process::ExitCode;

use service::jobs::refresh_autocomplete::{RefreshAutocomplete, DEFAULT_MAX_CHANGES};

use super::{execute, Common};
use crate::commands::autocomplete::settings;
use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// The sorted set to rebuild [default: `key` in [refresh-autocomplete] of sitejobs.toml, else autocomplete].
    #[arg(long)]
    pub key: Option<String>,
    /// Longest prefix, in characters (code points) [default: from sitejobs.toml, else 8].
    #[arg(long)]
    pub max_prefix: Option<usize>,
    /// Benchmarks only: read just the first N videos by id (the set is then incomplete).
    #[arg(long, hide = true)]
    pub limit_videos: Option<u64>,
    /// Apply only the prefixes of titles changed since the last refresh (a full
    /// refresh when there was none, or more than --max-changes titles changed).
    #[arg(long)]
    pub incremental: bool,
    /// With --incremental: more pending title changes than this refresh in full.
    #[arg(long, default_value_t = DEFAULT_MAX_CHANGES, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_changes: u64,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let (key, max_prefix) = settings(args.key.as_deref(), args.max_prefix)?;
    let mut job = RefreshAutocomplete::new(key, max_prefix);
    job.limit_videos = args.limit_videos;
    job.incremental = args.incremental;
    job.max_changes = args.max_changes;
    execute(cli, &args.common, &job).await
}
