//! `sitejobs run <job> ...`: one subcommand per job of the registry
//! (`service::registry::JOBS`), each with the common flags and the job's own
//! settings. Builds the job from its flags and the settings file, hands it to
//! the runner, prints the one JSON line, and exits with the run's code.
use std::process::ExitCode;

use clap::{ArgMatches, Command, FromArgMatches, Subcommand};
use futures::FutureExt;
use service::registry::{self, JobEntry};

use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub job: JobCmd,
}

/// The chosen job and its parsed flags.
#[derive(Debug)]
pub struct JobCmd {
    name: String,
    matches: ArgMatches,
}

impl JobCmd {
    fn entry(&self) -> Result<&'static JobEntry, clap::Error> {
        registry::find(&self.name).ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidSubcommand,
                format!("unknown job '{}' (known: {})", self.name, registry::names()),
            )
        })
    }
}

impl FromArgMatches for JobCmd {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let (name, sub) = matches.subcommand().ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::MissingSubcommand,
                format!("name a job: {}", registry::names()),
            )
        })?;
        let cmd = Self {
            name: name.to_owned(),
            matches: sub.clone(),
        };
        cmd.entry()?;
        Ok(cmd)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for JobCmd {
    fn augment_subcommands(cmd: Command) -> Command {
        registry::JOBS
            .iter()
            .fold(cmd, |cmd, job| cmd.subcommand(job.command()))
            .subcommand_required(true)
    }

    fn augment_subcommands_for_update(cmd: Command) -> Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        registry::find(name).is_some()
    }
}

/// Builds the job from its flags over the settings file, connects what it
/// needs and runs it. SIGTERM or Ctrl-C stops the run: its changes roll back,
/// and it is recorded and reported as an error (exit 1).
pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let entry = args.job.entry()?;
    let file = crate::config::settings_file(cli)?;
    let invocation = entry.build(&args.job.matches, &file)?;
    let stop = service::signals::termination()?;
    let services = crate::config::services(cli, invocation.job.as_ref()).await?;
    let report = invocation
        .job
        .run(&services, &invocation.options, stop.boxed())
        .await?;
    println!("{}", service::secrets::scrub(&report.to_json_line()));
    // A tick another scheduler took is the scheduler's business, not an error to show.
    if let Some(e) = report.error.as_ref().filter(|_| !report.claimed_elsewhere) {
        eprintln!("error: {}", service::secrets::scrub(e));
    }
    Ok(ExitCode::from(report.exit_code()))
}
