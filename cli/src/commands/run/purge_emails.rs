//! `sitejobs run purge-emails [--retention-days 14] [--now RFC3339] [--batch-size N]`:
//! deletes the emails of mailers sent at or before `now - retention`.
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use service::jobs::purge_emails::{PurgeEmails, DEFAULT_BATCH_SIZE, DEFAULT_RETENTION_DAYS};

use super::{execute, Common};
use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Keep the emails of mailers sent in the last N days (0 or more).
    #[arg(long, default_value_t = DEFAULT_RETENTION_DAYS, value_parser = parse_retention, allow_negative_numbers = true)]
    pub retention_days: i64,
    /// The instant the retention counts back from (RFC 3339; default: now).
    #[arg(long, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// Emails deleted per statement and transaction (optimized strategy).
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
}

fn parse_retention(s: &str) -> Result<i64, String> {
    let days: i64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number of days"))?;
    if days < 0 {
        return Err(format!("retention must be 0 days or more, got {days}"));
    }
    Ok(days)
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("'{s}' is not an RFC 3339 timestamp ({e}), e.g. 2026-11-21T03:00:00Z"))
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let now = args.now.unwrap_or_else(Utc::now);
    let job = PurgeEmails::new(args.retention_days, now, args.batch_size)?;
    execute(cli, &args.common, &job).await
}
