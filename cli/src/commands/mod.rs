//! One file per subcommand; this one dispatches and maps errors to exit codes.
pub mod autocomplete;
pub mod bench;
pub mod completions;
pub mod migrate;
pub mod numbers;
pub mod run;
pub mod runs;
pub mod schedule;
pub mod seed;

use std::process::ExitCode;

use service::error::JobError;

use crate::{Cli, Command};

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Migrate(args) => migrate::run(&cli, args).await,
        Command::Run(args) => run::run(&cli, args).await,
        Command::Runs(args) => runs::run(&cli, args).await,
        Command::Bench(args) => bench::run(&cli, args).await,
        Command::Completions(args) => completions::run(args),
        Command::Man => completions::man(),
        Command::Autocomplete(args) => autocomplete::run(&cli, args).await,
        Command::Seed(args) => seed::run(&cli, args).await,
        Command::Schedule(args) => schedule::run(&cli, args).await,
        Command::Numbers(args) => numbers::run(&cli, args).await,
    }
}

/// Bad input exits 2, anything else 1; always one line on stderr, never a backtrace.
pub fn report_error(e: &anyhow::Error) -> ExitCode {
    let code = match e.downcast_ref::<JobError>() {
        Some(JobError::BadInput(_)) => 2,
        _ => 1,
    };
    // The chain, each cause once: a wrapper's text often repeats its
    // source's, and a database error's " at line N" (PostgreSQL's C source)
    // helps nobody (other errors' line numbers, a TOML file's, stay).
    let mut msg = String::new();
    for cause in e.chain() {
        let raw = cause.to_string();
        let from_db = cause.downcast_ref::<sea_orm::DbErr>().is_some()
            || cause.downcast_ref::<sea_orm::sqlx::Error>().is_some();
        let text = if from_db {
            service::error::clean_message(&raw)
        } else {
            raw.replace('\n', " ")
        };
        if msg.contains(text.trim()) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(text.trim());
    }
    let msg = service::secrets::scrub(&msg);
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

/// clap's own errors on one line, naming what is missing or wrong (help and version print whole).
pub fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::from(
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                2
            } else {
                0
            },
        );
    }
    eprintln!("error: {} (see --help)", service::cli_error::one_line(&e));
    ExitCode::from(2)
}

/// A bad-input error for anyhow: exit code 2.
pub fn bad_input(msg: impl Into<String>) -> anyhow::Error {
    JobError::bad_input(msg).into()
}
