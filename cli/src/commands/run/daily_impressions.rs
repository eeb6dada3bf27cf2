//! `sitejobs run daily-impressions [--date YYYY-MM-DD] [--chunk-size N]`:
//! aggregate one UTC day (default: yesterday) of impressions, with tags.
use std::process::ExitCode;

use chrono::NaiveDate;
use service::jobs::daily_impressions::{self as job, DailyImpressions, DEFAULT_CHUNK_SIZE};

use super::{execute, Common};
use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// The UTC day to aggregate, YYYY-MM-DD (default: yesterday, UTC).
    #[arg(long, value_parser = parse_date)]
    pub date: Option<NaiveDate>,
    /// Rows per multi-row insert (optimized); capped at what fits in 65,535 bind parameters.
    #[arg(long, default_value_t = DEFAULT_CHUNK_SIZE, value_parser = parse_chunk_size)]
    pub chunk_size: usize,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    job::parse_date(s).map_err(|e| e.to_string())
}

fn parse_chunk_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "'{s}' is not a chunk size: expected an integer of at least 1"
        )),
    }
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let date = args.date.unwrap_or_else(job::yesterday_utc);
    let job = DailyImpressions::new(date, args.chunk_size)?;
    execute(cli, &args.common, &job).await
}
