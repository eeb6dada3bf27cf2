//! Runs bench cases: every case with each strategy, `repeat` times, each run a
//! child `sitejobs run ...` process of its own (so its peak memory is its own),
//! plus the floors measured beside it. Returns one row per (case, strategy) and
//! per floor; `report` renders them as Markdown and JSON.
use std::path::PathBuf;
use std::time::Instant;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use serde::Serialize;

use super::{BenchCase, Floor, FloorKind, NaivePlan};
use crate::error::JobError;
use crate::runner::Strategy;

/// How [`run_cases`] runs the cases: which binary, which servers, which strategies and how often.
pub struct BenchOptions {
    /// The `sitejobs` binary the children run.
    pub exe: PathBuf,
    /// Database the children connect to: the one the cases were prepared in.
    pub database_url: String,
    /// Redis the children use; `None` removes `REDIS_URL` from their environment.
    pub redis_url: Option<String>,
    /// Strategies each case runs with, in this order (a case whose naive plan is `Skip` skips
    /// naive).
    pub strategies: Vec<Strategy>,
    /// Runs per case and strategy (0 counts as 1); the row reports the median.
    pub repeat: u32,
}

/// One line of the bench table: a case run with one strategy, or one floor; serialised as is in the
/// JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRow {
    /// Job the case belongs to (`denormalize-profiles`).
    pub job: String,
    /// The case's label (`200k profiles, ~3 groups`).
    pub case: String,
    /// `naive`, `optimized`, or `floor: <what>`.
    pub strategy: String,
    /// Rows the last run counted (0 for a floor).
    pub rows: u64,
    /// Median over the repeats of the job's own duration (multiplied out when extrapolated).
    pub wall_ms: f64,
    /// `wall_ms` was multiplied out from a capped naive run ([`NaivePlan::Capped`]).
    pub extrapolated: bool,
    /// SQL statements of the last run; `None` for a floor.
    pub db_statements: Option<u64>,
    /// Redis commands of the last run; `None` for a floor.
    pub redis_commands: Option<u64>,
    /// Highest peak resident memory of a child over the repeats, in MiB; `None` for a floor or when
    /// the OS does not tell.
    pub peak_rss_mb: Option<f64>,
    /// Remark for the table (`capped run x10.0`); empty when there is none.
    pub note: String,
}

struct ChildRun {
    rows: u64,
    duration_ms: f64,
    db_statements: u64,
    redis_commands: u64,
    peak_rss_kb: Option<u64>,
    /// `details.slowest_batch_ms` of jobs that work in batches.
    slowest_batch_ms: Option<u64>,
}

/// Runs every case with every chosen strategy, then its floors.
pub async fn run_cases(
    db: &DatabaseConnection,
    opts: &BenchOptions,
    cases: &[BenchCase],
) -> Result<Vec<BenchRow>, JobError> {
    let mut rows = Vec::new();
    // The optimized time of the last full case, for the share of an
    // `--incremental` case that follows it (the goal is a few percent).
    let mut full_ms: Option<f64> = None;
    for case in cases {
        settle(db).await?;
        let incremental = case.args.iter().any(|a| a == "--incremental");
        for &strategy in &opts.strategies {
            let (args, factor, note) = match (strategy, &case.naive) {
                (Strategy::Naive, NaivePlan::Skip) => continue,
                (Strategy::Naive, NaivePlan::Capped { args, factor }) => (
                    args.clone(),
                    Some(*factor),
                    format!("capped run x{factor:.1}"),
                ),
                _ => (case.args.clone(), None, String::new()),
            };
            let mut runs = Vec::new();
            for _ in 0..opts.repeat.max(1) {
                reset(db, &case.reset_sql).await?;
                runs.push(run_child(opts, &args, strategy).await?);
            }
            let mut row = summarize(case, strategy, &runs, factor, note);
            if strategy == Strategy::Optimized {
                if !incremental {
                    full_ms = Some(row.wall_ms);
                } else if let Some(full) = full_ms.filter(|&ms| ms > 0.0) {
                    row.note = format!("{:.2}% of the full run above", 100.0 * row.wall_ms / full);
                }
            }
            rows.push(row);
        }
        for floor in &case.floors {
            reset(db, &case.reset_sql).await?;
            let mut times = Vec::new();
            for _ in 0..opts.repeat.max(1) {
                times.push(measure_floor(db, opts, floor).await?);
            }
            rows.push(BenchRow {
                job: case.job.to_owned(),
                case: case.label.clone(),
                strategy: format!("floor: {}", floor.label),
                rows: 0,
                wall_ms: median(&mut times),
                extrapolated: false,
                db_statements: None,
                redis_commands: None,
                peak_rss_mb: None,
                note: String::new(),
            });
        }
        reset(db, &case.reset_sql).await?;
    }
    Ok(rows)
}

/// Before a case: vacuums and analyzes the bench database, then waits (a
/// minute at most) until no autovacuum worker is busy in it. Otherwise the
/// previous case's writes (a million records rewritten) can be vacuumed by
/// autovacuum while this case runs, on the same cores: it was seen vacuuming
/// the denormalize cases' records during the titles cases. This is the work
/// autovacuum would do within its next minute, done before the clock starts.
async fn settle(db: &DatabaseConnection) -> Result<(), JobError> {
    // VACUUM and a catalog view: no ORM form.
    db.execute_unprepared("VACUUM (ANALYZE)").await?;
    let busy = Statement::from_string(
        db.get_database_backend(),
        "SELECT count(*) FROM pg_stat_activity \
         WHERE backend_type = 'autovacuum worker' AND datname = current_database()",
    );
    for _ in 0..300 {
        let workers = db
            .query_one_raw(busy.clone())
            .await?
            .map(|r| r.try_get_by_index::<i64>(0))
            .transpose()?
            .unwrap_or(0);
        if workers == 0 {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tracing::warn!("autovacuum still busy in the bench database after a minute; measuring anyway");
    Ok(())
}

async fn reset(db: &DatabaseConnection, sql: &[String]) -> Result<(), JobError> {
    for statement in sql {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

/// Awaits the child rather than blocking: the delay proxy (`--rtt-ms`) runs on
/// this process's runtime while the child talks through it.
async fn run_child(
    opts: &BenchOptions,
    args: &[String],
    strategy: Strategy,
) -> Result<ChildRun, JobError> {
    let common = crate::registry::Common {
        strategy,
        ..Default::default()
    };
    let mut cmd = tokio::process::Command::new(&opts.exe);
    cmd.arg("run")
        .args(args)
        .args(crate::settings::to_args(&common)?)
        .env("DATABASE_URL", &opts.database_url)
        .env("SITEJOBS_LOG", "warn");
    match &opts.redis_url {
        Some(url) => cmd.env("REDIS_URL", url),
        None => cmd.env_remove("REDIS_URL"),
    };
    tracing::info!(args = ?args, strategy = %strategy, "bench run");
    let out = cmd
        .output()
        .await
        .map_err(|e| JobError::Other(format!("cannot start {}: {e}", opts.exe.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(line).map_err(|_| {
        JobError::Other(format!(
            "bench run {args:?} ({strategy}) printed no JSON line: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    })?;
    if json["status"] != "ok" {
        return Err(JobError::Other(format!(
            "bench run {args:?} ({strategy}) failed: {line}"
        )));
    }
    let num = |k: &str| json[k].as_u64().unwrap_or(0);
    Ok(ChildRun {
        rows: num("rows"),
        // Microseconds when the child reports them: a run of 7.9 ms is not 7.
        duration_ms: match num("duration_us") {
            0 => num("duration_ms") as f64,
            us => us as f64 / 1000.0,
        },
        db_statements: num("db_statements"),
        redis_commands: num("redis_commands"),
        peak_rss_kb: json["peak_rss_kb"].as_u64(),
        slowest_batch_ms: json["details"]["slowest_batch_ms"].as_u64(),
    })
}

fn summarize(
    case: &BenchCase,
    strategy: Strategy,
    runs: &[ChildRun],
    factor: Option<f64>,
    note: String,
) -> BenchRow {
    let mut times: Vec<f64> = runs.iter().map(|r| r.duration_ms).collect();
    let note = match runs.iter().filter_map(|r| r.slowest_batch_ms).max() {
        Some(ms) if note.is_empty() => format!("slowest batch {ms} ms"),
        Some(ms) => format!("{note}; slowest batch {ms} ms"),
        None => note,
    };
    let last = runs.last();
    let scale = factor.unwrap_or(1.0);
    BenchRow {
        job: case.job.to_owned(),
        case: case.label.clone(),
        strategy: strategy.as_str().to_owned(),
        rows: last.map_or(0, |r| r.rows),
        wall_ms: median(&mut times) * scale,
        extrapolated: factor.is_some(),
        db_statements: last.map(|r| r.db_statements),
        redis_commands: last.map(|r| r.redis_commands),
        peak_rss_mb: runs
            .iter()
            .filter_map(|r| r.peak_rss_kb)
            .max()
            .map(|kb| kb as f64 / 1024.0),
        note,
    }
}

async fn measure_floor(
    db: &DatabaseConnection,
    opts: &BenchOptions,
    floor: &Floor,
) -> Result<f64, JobError> {
    match &floor.kind {
        FloorKind::Sql(statements) => {
            // Timed inside a transaction that is rolled back: the data stays as the case needs it.
            let txn = db.begin().await?;
            let clock = Instant::now();
            for sql in statements {
                txn.execute_raw(Statement::from_string(
                    txn.get_database_backend(),
                    sql.clone(),
                ))
                .await?;
            }
            let ms = clock.elapsed().as_secs_f64() * 1000.0;
            txn.rollback().await?;
            Ok(ms)
        }
        FloorKind::Shell(script) => {
            // Async: the floor may talk through the delay proxy, whose tasks
            // run on this runtime's threads, one of which would block here.
            let mut cmd = tokio::process::Command::new("sh");
            cmd.args(["-c", script])
                .env("DATABASE_URL", &opts.database_url);
            if let Some(url) = &opts.redis_url {
                cmd.env("REDIS_URL", url);
            }
            let clock = Instant::now();
            let out = cmd
                .output()
                .await
                .map_err(|e| JobError::Other(format!("cannot run floor '{}': {e}", floor.label)))?;
            let ms = clock.elapsed().as_secs_f64() * 1000.0;
            if !out.status.success() {
                return Err(JobError::Other(format!(
                    "floor '{}' failed: {}",
                    floor.label,
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            Ok(ms)
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The rows as a Markdown table (what the README's benchmark section pastes).
pub fn markdown(rows: &[BenchRow]) -> String {
    let mut out = String::from(
        "| job | case | strategy | rows | wall time | SQL statements | Redis commands | peak RSS | note |\n\
         |---|---|---|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let opt = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
        let wall = if r.wall_ms >= 10_000.0 {
            format!("{:.1} s", r.wall_ms / 1000.0)
        } else if r.wall_ms < 100.0 {
            format!("{:.1} ms", r.wall_ms)
        } else {
            format!("{:.0} ms", r.wall_ms)
        };
        let wall = if r.extrapolated {
            format!("~{wall} (extrapolated)")
        } else {
            wall
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.job,
            r.case,
            r.strategy,
            if r.strategy.starts_with("floor") {
                "-".to_owned()
            } else {
                r.rows.to_string()
            },
            wall,
            opt(r.db_statements),
            opt(r.redis_commands),
            r.peak_rss_mb
                .map_or("-".to_owned(), |mb| format!("{mb:.1} MB")),
            r.note
        ));
    }
    out
}
