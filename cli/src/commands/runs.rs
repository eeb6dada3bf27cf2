//! `sitejobs runs [--job NAME] [--limit N] [--json]`: recent job runs, newest first.
//! `sitejobs runs prune --older-than 30d`: delete old history (service::ops::prune).
use std::process::ExitCode;
use std::time::Duration;

use service::ops::prune;
use service::runner::history;

use crate::Cli;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// Only runs of this job.
    #[arg(long)]
    pub job: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: u64,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Delete the runs that ended before --older-than; each job's latest run always stays.
    Prune(PruneArgs),
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// How old a run's end must be to go: 30d, 12h, 90m, "1d 12h".
    #[arg(long, value_parser = prune::parse_age)]
    pub older_than: Duration,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    if let Some(Action::Prune(p)) = &args.action {
        return run_prune(cli, p).await;
    }
    let db = crate::config::database(cli).await?;
    let runs = history::recent(&db, args.job.as_deref(), args.limit).await?;
    if args.json {
        for r in &runs {
            println!(
                "{}",
                serde_json::to_string(&serde_json::json!({
                    "id": r.id, "job": r.job, "lock_key": r.lock_key, "strategy": r.strategy,
                    "params": r.params, "started_at": r.started_at, "finished_at": r.finished_at,
                    "duration_ms": r.finished_at.map(|f| (f - r.started_at).num_milliseconds()),
                    "status": r.status, "rows": r.rows, "db_statements": r.db_statements,
                    "redis_commands": r.redis_commands, "error": r.error, "host": r.host, "tick": r.tick,
                }))?
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>6}  {:<25} {:<30} {:<9} {:<8} {:>10} {:>9} {:>6}  error",
        "id", "started", "job", "strategy", "status", "rows", "ms", "stmts"
    );
    for r in &runs {
        let ms = r
            .finished_at
            .map(|f| (f - r.started_at).num_milliseconds().to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:>6}  {:<25} {:<30} {:<9} {:<8} {:>10} {:>9} {:>6}  {}",
            r.id,
            r.started_at.format("%Y-%m-%d %H:%M:%S%.3fZ"),
            r.lock_key,
            r.strategy,
            r.status,
            r.rows,
            ms,
            r.db_statements,
            r.error.as_deref().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints one JSON line: how many runs went, and the cutoff.
async fn run_prune(cli: &Cli, args: &PruneArgs) -> anyhow::Result<ExitCode> {
    let before = prune::cutoff(chrono::Utc::now(), args.older_than)?;
    let db = crate::config::database(cli).await?;
    let deleted = prune::prune(&db, before).await?;
    println!(
        "{}",
        serde_json::json!({ "deleted": deleted, "before": before.to_rfc3339() })
    );
    Ok(ExitCode::SUCCESS)
}
