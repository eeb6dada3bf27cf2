//! `sitejobs run backfill-number-ranges [--batch-size N] [--max-batches N]`.
//! `batch_size` may also come from `[backfill-number-ranges]` in `sitejobs.toml`.
use std::process::ExitCode;

use migration::number_ranges::DEFAULT_BATCH_SIZE;
use service::jobs::backfill_number_ranges::BackfillNumberRanges;
use service::JobError;

use super::{execute, Common};
use crate::Cli;

const JOB: &str = "backfill-number-ranges";

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Rows per batch, each batch its own statement and transaction [default: 10000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: Option<u64>,
    /// Stop after N batches (a later run continues where this one stopped).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batches: Option<u64>,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let batch_size = match args.batch_size {
        Some(n) => n,
        None => match crate::config::job_section(JOB)?.get("batch_size") {
            None => DEFAULT_BATCH_SIZE,
            Some(v) => v
                .as_integer()
                .and_then(|n| u64::try_from(n).ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    JobError::bad_input(format!(
                        "{}: [{JOB}] batch_size must be a positive integer",
                        crate::config::CONFIG_FILE
                    ))
                })?,
        },
    };
    let job = BackfillNumberRanges {
        batch_size,
        max_batches: args.max_batches,
    };
    execute(cli, &args.common, &job).await
}
