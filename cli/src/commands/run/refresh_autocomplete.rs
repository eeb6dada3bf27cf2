//! `sitejobs run refresh-autocomplete [--key autocomplete] [--max-prefix 8]`:
//! rebuild the sorted set of title prefixes and swap it in atomically.
use std::process::ExitCode;

use service::jobs::refresh_autocomplete::RefreshAutocomplete;

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
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let (key, max_prefix) = settings(args.key.as_deref(), args.max_prefix)?;
    let mut job = RefreshAutocomplete::new(key, max_prefix);
    job.limit_videos = args.limit_videos;
    execute(cli, &args.common, &job).await
}
