//! `sitejobs bench`: prepares (or reuses) a database of its own per scale, runs
//! every job's bench cases with each strategy in child processes, prints the
//! table and writes it as Markdown and JSON (for the README's benchmark section).
use std::process::ExitCode;

use migration::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;
use service::bench::harness::{self, BenchOptions};
use service::bench::proxy::{url_addr, url_via, DelayProxy};
use service::bench::proxy_check::{self, ProxyCheck};
use service::bench::{default_jobs, jobs_named};
use service::connect::{connect_db, database_name, mask_url, url_with_database};
use service::scale::Scale;
use service::Strategy;

use crate::commands::bad_input;
use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// How much data the cases prepare.
    #[arg(long, value_enum, default_value_t = Scale::Small)]
    pub scale: Scale,
    /// Jobs to measure (comma-separated); all by default.
    #[arg(long, value_delimiter = ',')]
    pub jobs: Vec<String>,
    /// Strategies to run (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Strategy::Naive, Strategy::Optimized])]
    pub strategies: Vec<Strategy>,
    /// Runs per case and strategy; the table shows the median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Folder for bench-<scale>.md and bench-<scale>.json.
    #[arg(long, default_value = "bench-results")]
    pub out: std::path::PathBuf,
    /// Database to prepare and run in (default: <DATABASE_URL's database>_bench_<scale>).
    #[arg(long)]
    pub database: Option<String>,
    /// Round-trip time to simulate, in ms: each job's PostgreSQL and Redis
    /// connections go through a proxy that holds every chunk half of it in each
    /// direction (0: straight to the servers).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rtt)]
    pub rtt_ms: f64,
}

fn parse_rtt(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1000.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "'{s}' is not a round-trip time between 0 and 1000 ms"
        )),
    }
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let jobs = if args.jobs.is_empty() {
        default_jobs()
    } else {
        jobs_named(&args.jobs)?
    };
    let admin = crate::config::database(cli).await?;
    let admin_url = cli.database_url.clone().unwrap_or_default();
    let name = args.database.clone().unwrap_or_else(|| {
        format!(
            "{}_bench_{}",
            database_name(&admin_url).unwrap_or_else(|| "sitejobs".into()),
            args.scale
        )
    });
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(bad_input(format!(
            "bench database name '{name}' must be letters, digits and _"
        )));
    }
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.clone().into()],
        ))
        .await?
        .is_some();
    if !exists {
        // CREATE DATABASE takes no bind parameters; the name was checked above.
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
    }
    let url = url_with_database(&admin_url, &name);
    let db = connect_db(&url, 4).await?;
    Migrator::up(&db, None).await?;
    // The proxies live until the end of the bench: the children connect through them.
    let (database_url, redis_url, _proxies, check) =
        delayed_urls(&url, cli.redis_url.as_deref(), args.rtt_ms).await?;
    let opts = BenchOptions {
        exe: std::env::current_exe()?,
        database_url,
        redis_url,
        strategies: args.strategies.clone(),
        repeat: args.repeat,
    };
    let mut rows = Vec::new();
    for job in &jobs {
        tracing::info!(job = %job.name, scale = %args.scale, database = %name, "preparing bench cases");
        let cases = job.bench_cases(&db, args.scale).await?;
        rows.extend(harness::run_cases(&db, &opts, &cases).await?);
    }
    let table = harness::markdown(&rows);
    let mut header = machine_header(&db, args).await;
    if let Some(c) = &check {
        header.push_str(&format!(
            "\n\nThrough the delay proxy at {} ms RTT: a 1-byte round trip {:.3} ms (direct {:.3} ms, \
             through the proxy without delay {:.3} ms, median of {}); \
             a {} MiB echo {:.0} MiB/s (direct {:.0} MiB/s, through the proxy without delay {:.0} MiB/s).",
            c.rtt_target_ms,
            c.rtt_proxied_ms,
            c.rtt_direct_ms,
            c.rtt_undelayed_ms,
            c.round_trips,
            c.bulk_mib,
            c.bulk_proxied_mib_s,
            c.bulk_direct_mib_s,
            c.bulk_undelayed_mib_s
        ));
    }
    println!("{header}\n\n{table}");
    std::fs::create_dir_all(&args.out)?;
    let base = if check.is_some() {
        args.out
            .join(format!("bench-{}-rtt{}ms", args.scale, args.rtt_ms))
    } else {
        args.out.join(format!("bench-{}", args.scale))
    };
    std::fs::write(base.with_extension("md"), format!("{header}\n\n{table}"))?;
    std::fs::write(
        base.with_extension("json"),
        serde_json::to_string_pretty(&serde_json::json!({
            "scale": args.scale,
            "rtt_ms": args.rtt_ms,
            "machine": header,
            "proxy_check": check,
            "rows": rows,
        }))?,
    )?;
    eprintln!("wrote {}.md and .json", base.display());
    Ok(ExitCode::SUCCESS)
}

/// With `rtt_ms` > 0: a delay proxy in front of PostgreSQL and one in front of
/// Redis, the URLs the children get instead, and the proxy's own check.
async fn delayed_urls(
    database_url: &str,
    redis_url: Option<&str>,
    rtt_ms: f64,
) -> anyhow::Result<(String, Option<String>, Vec<DelayProxy>, Option<ProxyCheck>)> {
    if rtt_ms == 0.0 {
        return Ok((
            database_url.to_owned(),
            redis_url.map(str::to_owned),
            Vec::new(),
            None,
        ));
    }
    let one_way = std::time::Duration::from_secs_f64(rtt_ms / 2000.0);
    let mut proxies = Vec::new();
    let via = |url: &str, default_port: u16| {
        let (host_port, addr) = url_addr(url, default_port).ok_or_else(|| {
            bad_input(format!(
                "--rtt-ms: cannot find the server's address in {}",
                mask_url(url)
            ))
        })?;
        Ok::<_, anyhow::Error>((url.to_owned(), host_port, addr))
    };
    let db = via(database_url, 5432)?;
    let redis = match redis_url {
        Some(u) if u.contains(',') => {
            return Err(bad_input(
                "--rtt-ms works with one Redis server: a cluster's nodes redirect clients past the proxy",
            ))
        }
        Some(u) => Some(via(u, 6379)?),
        None => None,
    };
    let mut rewritten = Vec::new();
    for (url, host_port, addr) in std::iter::once(db).chain(redis) {
        let proxy = DelayProxy::start(addr, one_way).await?;
        rewritten.push(url_via(&url, &host_port, proxy.local_addr()));
        proxies.push(proxy);
    }
    let check = proxy_check::check(one_way * 2, 200, 256).await?;
    tracing::info!(?check, "delay proxy checked");
    let mut urls = rewritten.into_iter();
    let database_url = urls.next().unwrap_or_default();
    Ok((database_url, urls.next(), proxies, Some(check)))
}

/// Scale, cores, memory, server version and, for a server on this machine,
/// how it maps its shared memory: numbers mean nothing without them.
async fn machine_header(db: &sea_orm::DatabaseConnection, args: &Args) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or("?".to_owned(), |kb| format!("{:.0}", kb / 1024.0 / 1024.0));
    let version = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SHOW server_version",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get_by_index::<String>(0).ok())
        .unwrap_or_default();
    let pages = shared_memory_pages(db)
        .await
        .map_or(String::new(), |kind| format!(", shared memory in {kind}"));
    format!(
        "Scale `{}`, median of {} run(s); {cores} cores, {mem_gib} GiB, PostgreSQL {version}{pages}; {}.",
        args.scale,
        args.repeat,
        chrono::Utc::now().format("%Y-%m-%d")
    )
}

/// `huge pages` or `4 kB pages`, as the server process serving `db` maps
/// PostgreSQL's shared memory (its `HugetlbPages` in `/proc`), when that
/// process runs on this machine and its status can be read; else `None`.
/// Every run is a new server process, and in 4 kB pages it takes a page
/// fault for each page of shared memory it touches first: a few-millisecond
/// run's numbers depend on it (docs/development.md).
async fn shared_memory_pages(db: &sea_orm::DatabaseConnection) -> Option<&'static str> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            // A Unix socket (no address) or a loopback one: this machine.
            "SELECT pg_backend_pid(), coalesce(inet_server_addr() << '127.0.0.0/8'::inet
                 OR inet_server_addr() = '::1'::inet, true)",
        ))
        .await
        .ok()??;
    let (pid, local): (i32, bool) = (row.try_get_by_index(0).ok()?, row.try_get_by_index(1).ok()?);
    if !local {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("HugetlbPages:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(if kb > 0 { "huge pages" } else { "4 kB pages" })
}
