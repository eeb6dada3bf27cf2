//! `sitejobs run noop [--sleep-ms N] [--fail]`: the runner's smoke test.
use std::process::ExitCode;

use service::jobs::noop::Noop;

use super::{execute, Common};
use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value_t = 0)]
    pub sleep_ms: u64,
    /// Fail after sleeping (to see the error path).
    #[arg(long)]
    pub fail: bool,
    /// Pretend to work on one community (lock key noop:<id>), as
    /// denormalize-profiles does: the scheduler's per-community fan-out is tested with it.
    #[arg(long)]
    pub community: Option<i64>,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let job = Noop {
        sleep_ms: args.sleep_ms,
        fail: args.fail,
        community: args.community,
    };
    execute(cli, &args.common, &job).await
}
