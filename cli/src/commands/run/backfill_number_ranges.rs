//! `sitejobs run backfill-number-ranges [--batch-size N] [--max-batches N]`.
use std::process::ExitCode;

use service::jobs::backfill_number_ranges::BackfillNumberRanges;

use super::{execute, Common};
use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Rows per batch; each batch is its own statement and transaction.
    #[arg(long, default_value_t = migration::number_ranges::DEFAULT_BATCH_SIZE,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Stop after N batches (a later run continues where this one stopped).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batches: Option<u64>,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let job = BackfillNumberRanges {
        batch_size: args.batch_size,
        max_batches: args.max_batches,
    };
    execute(cli, &args.common, &job).await
}
