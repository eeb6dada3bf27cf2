//! `sitejobs`: parse, dispatch, map errors to the contract's exit codes.
//! All logic lives in the service crate; each subcommand is one file in `commands/`.
// The CLI's doc comments are its --help text: `[[job]]` and `<scale>` are meant
// literally there, and escaping them for rustdoc would show the escapes in --help.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]
mod commands;
mod config;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "sitejobs",
    version,
    about = "Scheduled jobs of a community video site, on SeaORM, PostgreSQL and Redis"
)]
pub struct Cli {
    /// PostgreSQL URL (postgres://user@host:port/db).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Redis URL (redis://host:port/db).
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,
    /// The settings file: jobs' [job-name] tables and the schedule's [[job]] entries [default: ./sitejobs.toml].
    #[arg(long, env = "SITEJOBS_CONFIG", global = true)]
    pub config: Option<std::path::PathBuf>,
    /// The environment this process deploys to; `migrate up` records it, and a
    /// database recorded as `production` refuses the commands that wipe data.
    #[arg(
        long,
        env = "SITEJOBS_ENV",
        default_value = "development",
        global = true
    )]
    pub env: String,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "SITEJOBS_LOG_FORMAT", global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply or revert the schema migrations.
    Migrate(commands::migrate::Args),
    /// Run one job once, under its lock; prints one JSON line.
    Run(commands::run::Args),
    /// List recent job runs.
    Runs(commands::runs::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(commands::completions::Args),
    /// Print the man page (roff) to stdout: `sitejobs man | man -l -`.
    Man,
    /// Measure every job's strategies in child processes and print the table.
    Bench(commands::bench::Args),
    /// Title completions served from the Redis sorted set.
    Autocomplete(commands::autocomplete::Args),
    /// Replace every table's data with deterministic synthetic data.
    Seed(commands::seed::Args),
    /// Run jobs at the times a cron file gives, until SIGTERM/Ctrl-C (--check: validate it).
    Schedule(commands::schedule::Args),
    /// Query and load my_numbers (overlapping ranges, Django fixtures).
    Numbers(commands::numbers::Args),
}

fn main() -> ExitCode {
    // A .env in the working directory fills in what the environment lacks.
    let _ = dotenvy::dotenv();
    quiet_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return commands::usage_error(e),
    };
    // Every password these URLs carry is scrubbed from whatever we print.
    for url in [&cli.database_url, &cli.redis_url].into_iter().flatten() {
        service::secrets::remember_url(url);
    }
    init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // On a worker thread, not the main one: the thread that sees a socket
    // become ready then polls the command itself, instead of waking the main
    // thread for every reply (a cross-thread hand-off per round trip).
    let command = runtime.block_on(async { tokio::spawn(commands::dispatch(cli)).await });
    match command {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => commands::report_error(&e),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Logs on stderr, scrubbed of passwords. Colour only for a person at a
/// terminal: a file or a pipe (`2>> sitejobs.log` under cron) gets plain text,
/// and `NO_COLOR` (any non-empty value, see no-color.org) turns it off everywhere.
fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SITEJOBS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        .with_writer(|| service::secrets::ScrubbingWriter(std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// A panic is a bug, but the contract promises one line and no backtrace; a
/// closed stdout (`sitejobs runs | head`) is not even an error.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error: {}{place}", msg.replace('\n', " "));
        std::process::exit(1);
    }));
}
