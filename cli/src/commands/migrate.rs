//! `sitejobs migrate up|down|status|fresh|reset`: sea-orm-migration's verbs,
//! driven through `service::deploy` (turns on an advisory lock, one line per
//! failed migration, the production guard) so our own logging stays in charge.
use std::process::ExitCode;

use service::deploy::{self, guard::Guard};

use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(clap::Subcommand, Debug)]
pub enum Verb {
    /// Apply pending migrations (all, or the next N) and record SITEJOBS_ENV.
    Up {
        #[arg(short = 'n', long)]
        num: Option<u32>,
    },
    /// Revert applied migrations (the last one, or the last N).
    Down {
        #[arg(short = 'n', long, default_value_t = 1)]
        num: u32,
    },
    /// Show every migration and whether it is applied (changes nothing).
    Status {
        /// Exit 1, naming them, when migrations are pending.
        #[arg(long)]
        check: bool,
    },
    /// Drop every table, then apply all migrations (refused on production).
    Fresh,
    /// Revert every applied migration (refused on production).
    Reset,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let db = crate::config::database(cli).await?;
    let db = &db;
    if let Verb::Status { check } = args.verb {
        return status(db, check).await;
    }
    let guard = Guard::from_env(&cli.env);
    let turn = deploy::take_turn(db, |holder| {
        let who = holder.map_or(String::new(), |pid| format!(" (backend pid {pid})"));
        eprintln!("waiting for another sitejobs migrate to finish{who}");
    })
    .await?;
    let done = apply(db, &guard, &args.verb).await;
    turn.release().await;
    done?;
    print_status(db).await?;
    Ok(ExitCode::SUCCESS)
}

async fn apply(db: &sea_orm::DatabaseConnection, guard: &Guard, verb: &Verb) -> anyhow::Result<()> {
    match *verb {
        Verb::Up { num } => {
            deploy::up(db, num).await?;
            guard.record(db).await?;
        }
        Verb::Down { num } => {
            deploy::down(db, Some(num)).await?;
        }
        Verb::Fresh => {
            guard
                .check_destructive(db, "sitejobs migrate fresh")
                .await?;
            deploy::fresh(db).await?;
            guard.record(db).await?;
        }
        Verb::Reset => {
            guard
                .check_destructive(db, "sitejobs migrate reset")
                .await?;
            deploy::reset(db).await?;
        }
        Verb::Status { .. } => {}
    }
    Ok(())
}

async fn status(db: &sea_orm::DatabaseConnection, check: bool) -> anyhow::Result<ExitCode> {
    print_status(db).await?;
    let pending = deploy::pending(db).await?;
    if check && !pending.is_empty() {
        let s = if pending.len() == 1 { "" } else { "s" };
        eprintln!(
            "{} migration{s} pending: {} (run sitejobs migrate up)",
            pending.len(),
            pending.join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

async fn print_status(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    for m in deploy::status(db).await? {
        let state = if m.applied { "Applied" } else { "Pending" };
        println!("{state:<8} {}", m.name);
    }
    Ok(())
}
