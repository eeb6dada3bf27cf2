//! `sitejobs migrate up|down|status|fresh|reset`: sea-orm-migration's verbs,
//! driven directly so our own logging stays in charge.
use std::process::ExitCode;

use migration::{Migrator, MigratorTrait};

use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(clap::Subcommand, Debug)]
pub enum Verb {
    /// Apply pending migrations (all, or the next N).
    Up {
        #[arg(short = 'n', long)]
        num: Option<u32>,
    },
    /// Revert applied migrations (the last one, or the last N).
    Down {
        #[arg(short = 'n', long, default_value_t = 1)]
        num: u32,
    },
    /// Show every migration and whether it is applied.
    Status,
    /// Drop every table, then apply all migrations.
    Fresh,
    /// Revert every applied migration.
    Reset,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let db = crate::config::database(cli).await?;
    let db = &db;
    match args.verb {
        Verb::Up { num } => Migrator::up(db, num).await?,
        Verb::Down { num } => Migrator::down(db, Some(num)).await?,
        Verb::Fresh => Migrator::fresh(db).await?,
        Verb::Reset => Migrator::reset(db).await?,
        Verb::Status => {}
    }
    for m in Migrator::get_migration_with_status(db).await? {
        println!("{:<8} {}", format!("{:?}", m.status()), m.name());
    }
    Ok(ExitCode::SUCCESS)
}
