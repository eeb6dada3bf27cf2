//! `sitejobs numbers overlap|load`: query and load `my_numbers` (contract section 3).
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use service::numbers::{self, fixture, OverlapStrategy};
use service::JobError;

use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Print the rows whose [number_start, number_end] meets [START, END], one JSON object per line.
    Overlap(OverlapArgs),
    /// Load a Django-style fixture of my_number entries, all or nothing.
    Load {
        /// The fixture: a JSON list of {"model", "pk", "fields": {"number_start", "number_end"}}.
        file: PathBuf,
    },
    /// Time the overlap query over random narrow windows (p50/p95 per strategy).
    #[command(hide = true)]
    BenchOverlap(BenchArgs),
}

#[derive(clap::Args, Debug)]
pub struct OverlapArgs {
    #[arg(long, allow_negative_numbers = true)]
    pub start: i32,
    #[arg(long, allow_negative_numbers = true)]
    pub end: i32,
    /// columns (the two B-tree columns) or range (the GiST index on number_range).
    #[arg(long, value_enum, default_value_t = OverlapStrategy::Range)]
    pub strategy: OverlapStrategy,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[arg(long, default_value_t = 300)]
    pub windows: usize,
    /// Widest window (each is 1 to this many numbers wide).
    #[arg(long, default_value_t = 1000)]
    pub max_width: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only this strategy (default: both).
    #[arg(long, value_enum)]
    pub strategy: Option<OverlapStrategy>,
}

/// One output line, fields in the contract's order.
#[derive(serde::Serialize)]
struct Row {
    id: i64,
    number_start: i32,
    number_end: i32,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    match &args.cmd {
        Cmd::Overlap(a) => overlap(cli, a).await,
        Cmd::Load { file } => {
            // Read and check the file before connecting: a bad file is exit 2 with no server.
            let text = std::fs::read_to_string(file).map_err(|e| {
                JobError::bad_input(format!("cannot read fixture {}: {e}", file.display()))
            })?;
            let rows = fixture::parse(&text)?;
            let db = crate::config::database(cli).await?;
            let loaded = fixture::load(&db, &rows).await?;
            println!(
                "{}",
                serde_json::json!({ "loaded": loaded.rows, "file": file })
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::BenchOverlap(a) => bench(cli, a).await,
    }
}

async fn overlap(cli: &Cli, a: &OverlapArgs) -> anyhow::Result<ExitCode> {
    // Validate the window before connecting (start > end is exit 2).
    numbers::overlap_query(a.strategy, a.start, a.end)?;
    let db = crate::config::database(cli).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut closed = false;
    let printed = numbers::for_each_overlap(&db, a.strategy, a.start, a.end, |row| {
        let line = Row {
            id: row.id,
            number_start: row.number_start,
            number_end: row.number_end,
        };
        let line = serde_json::to_string(&line).map_err(|e| JobError::Other(e.to_string()))?;
        writeln!(out, "{line}").map_err(|e| {
            closed = e.kind() == std::io::ErrorKind::BrokenPipe;
            JobError::Other(format!("writing to stdout: {e}"))
        })
    })
    .await;
    match printed {
        // A reader that stopped early (`| head`) is not a failure.
        Err(_) if closed => return Ok(ExitCode::SUCCESS),
        other => other?,
    };
    if let Err(e) = out.flush() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn bench(cli: &Cli, a: &BenchArgs) -> anyhow::Result<ExitCode> {
    let db = crate::config::database(cli).await?;
    let (lo, hi) = numbers::bounds(&db).await?;
    let windows = numbers::random_windows(a.seed, a.windows, lo, hi, a.max_width);
    let strategies = match a.strategy {
        Some(s) => vec![s],
        None => vec![OverlapStrategy::Columns, OverlapStrategy::Range],
    };
    for s in strategies {
        let latency = numbers::bench_overlap(&db, s, &windows).await?;
        println!("{}", serde_json::to_string(&latency)?);
    }
    Ok(ExitCode::SUCCESS)
}
