//! The one list of jobs. Each job declares itself by implementing [`Register`]
//! in its own module (its name, its settings, how its settings become the
//! job, whether it fans out under the scheduler, its bench cases); one line
//! `the_module::TheJob,` in the `jobs!` list of `service/src/jobs/mod.rs`
//! declares the module and enters it in [`JOBS`]: all it takes for `sitejobs run`,
//! `sitejobs schedule` (its `--check` and its fan-out) and `sitejobs bench`
//! to know it. See `docs/extending.md`.
use std::future::Future;

use clap::{ArgMatches, Args as _, FromArgMatches as _};
use futures::future::BoxFuture;
use sea_orm::DatabaseConnection;
use serde::Serialize;

use crate::bench::BenchCase;
use crate::error::JobError;
use crate::runner::{run_job_until, Job, RunOptions, RunReport, Services, Strategy};
use crate::scale::Scale;
use crate::schedule::fanout::Units;
use crate::settings::{to_args, Settings, SettingsFile};

pub use crate::jobs::JOBS;

/// The registered job called `name`.
pub fn find(name: &str) -> Option<&'static JobEntry> {
    JOBS.iter().find(|e| e.name == name)
}

/// The names of every registered job, comma-separated (for messages).
pub fn names() -> String {
    JOBS.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
}

/// What a job declares about itself, once, in its own module.
pub trait Register: Job + Sized + 'static {
    /// The job's name: its command (`sitejobs run <NAME>`), its settings table
    /// (`[NAME]`), and the first part of its lock key.
    const NAME: &'static str;
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// Whether `sitejobs bench` runs it when no jobs are named.
    const BENCH_BY_DEFAULT: bool = true;
    /// Its flags and its settings-file table, in one struct (see [`crate::settings`]).
    type Settings: Settings;

    /// Validates the merged settings into the job's options, applying
    /// defaults: the one place where the job's input is checked before it
    /// touches data. Errors are [`JobError::BadInput`].
    fn from_settings(settings: Self::Settings) -> Result<Self, JobError>;

    /// When these settings mean "every unit" (`--all`), how the scheduler
    /// splits the run into one run per unit, each with its own lock and claim.
    fn fan_out(_settings: &Self::Settings) -> Option<FanOut<Self::Settings>> {
        None
    }

    /// The job's benchmark cases at `scale`, their data prepared in `db`.
    fn bench_cases(
        _db: &DatabaseConnection,
        _scale: Scale,
    ) -> impl Future<Output = Result<Vec<BenchCase>, JobError>> + Send {
        async { Ok(Vec::new()) }
    }
}

/// How a run over every unit becomes one run per unit.
pub struct FanOut<S> {
    /// Where the units come from.
    pub units: Units,
    /// The settings of the run for one unit.
    pub unit: fn(S, i64) -> S,
}

/// Flags every job accepts, whatever its settings.
#[derive(clap::Args, Clone, Debug, Default, Serialize)]
pub struct Common {
    /// naive (the write-ups' original round trips) or optimized (production).
    #[arg(long, value_enum, default_value_t = Strategy::Optimized)]
    pub strategy: Strategy,
    /// Wait for a run holding the lock instead of exiting 75.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wait: bool,
    /// The schedule tick this run claims (set by `sitejobs schedule`).
    #[arg(long, env = "SITEJOBS_TICK", hide = true)]
    #[serde(skip)]
    pub tick: Option<String>,
}

impl Common {
    /// The runner's options for these flags.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            strategy: self.strategy,
            wait: self.wait,
            tick: self.tick.clone(),
            quiet: false,
        }
    }
}

/// A job that is ready to run, whatever its type.
pub trait AnyJob: Send + Sync {
    /// The job's name.
    fn name(&self) -> &'static str;
    /// Whether it needs Redis.
    fn needs_redis(&self) -> bool;
    /// Database connections to open before the run ([`Job::warm_connections`]).
    fn warm_connections(&self) -> u32;
    /// [`run_job_until`] for this job.
    fn run<'a>(
        &'a self,
        services: &'a Services,
        opts: &'a RunOptions,
        cancel: BoxFuture<'a, String>,
    ) -> BoxFuture<'a, Result<RunReport, JobError>>;
}

impl<J: Job> AnyJob for J {
    fn name(&self) -> &'static str {
        Job::name(self)
    }

    fn needs_redis(&self) -> bool {
        Job::needs_redis(self)
    }

    fn warm_connections(&self) -> u32 {
        Job::warm_connections(self)
    }

    fn run<'a>(
        &'a self,
        services: &'a Services,
        opts: &'a RunOptions,
        cancel: BoxFuture<'a, String>,
    ) -> BoxFuture<'a, Result<RunReport, JobError>> {
        Box::pin(run_job_until(services, self, opts, cancel))
    }
}

/// A parsed `sitejobs run <job> ...`: the job built from its merged settings,
/// and the runner's options.
pub struct Invocation {
    /// The job, validated.
    pub job: Box<dyn AnyJob>,
    /// Strategy, `--wait`, tick.
    pub options: RunOptions,
}

/// A job's bench-case preparation, its type erased.
type BenchFn =
    for<'a> fn(&'a DatabaseConnection, Scale) -> BoxFuture<'a, Result<Vec<BenchCase>, JobError>>;

/// One registered job, its type erased so that jobs of every type sit in one list.
pub struct JobEntry {
    /// The job's name.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// Whether `sitejobs bench` runs it when no jobs are named.
    pub bench_by_default: bool,
    command: fn() -> clap::Command,
    build: fn(&ArgMatches, &SettingsFile) -> Result<Invocation, JobError>,
    units: fn(&ArgMatches) -> Result<Option<Units>, JobError>,
    unit_args: fn(&ArgMatches, i64) -> Result<Vec<String>, JobError>,
    bench: BenchFn,
}

impl JobEntry {
    /// The entry of job type `J`.
    pub const fn of<J: Register>() -> Self {
        Self {
            name: J::NAME,
            about: J::ABOUT,
            bench_by_default: J::BENCH_BY_DEFAULT,
            command: command::<J>,
            build: build::<J>,
            units: units::<J>,
            unit_args: unit_args::<J>,
            bench: |db, scale| Box::pin(J::bench_cases(db, scale)),
        }
    }

    /// The job's clap command: `<name>` with the common flags and its settings' flags.
    pub fn command(&self) -> clap::Command {
        (self.command)()
    }

    /// Parses `args` (what follows `sitejobs run <name>`) with the job's command.
    /// Errors are clap's, on one line, naming what is wrong or missing.
    pub fn parse(&self, args: &[String]) -> Result<ArgMatches, JobError> {
        let argv = std::iter::once(self.name.to_owned()).chain(args.iter().cloned());
        self.command()
            .try_get_matches_from(argv)
            .map_err(|e| JobError::bad_input(crate::cli_error::one_line(&e)))
    }

    /// The job and run options for parsed flags, with the settings file merged
    /// under them and validated once. Errors are bad input.
    pub fn build(&self, matches: &ArgMatches, file: &SettingsFile) -> Result<Invocation, JobError> {
        (self.build)(matches, file)
    }

    /// `Some(units)` when these flags ask for every unit and the job fans out.
    pub fn units(&self, matches: &ArgMatches) -> Result<Option<Units>, JobError> {
        (self.units)(matches)
    }

    /// The flags of the run for one unit of a fanned-out run (common flags kept).
    pub fn unit_args(&self, matches: &ArgMatches, unit: i64) -> Result<Vec<String>, JobError> {
        (self.unit_args)(matches, unit)
    }

    /// The job's bench cases at `scale`, their data prepared in `db`.
    pub fn bench_cases<'a>(
        &self,
        db: &'a DatabaseConnection,
        scale: Scale,
    ) -> BoxFuture<'a, Result<Vec<BenchCase>, JobError>> {
        (self.bench)(db, scale)
    }
}

fn command<J: Register>() -> clap::Command {
    let cmd = J::Settings::augment_args(Common::augment_args(clap::Command::new(J::NAME)));
    // After the derive, whose doc comment would otherwise become the help text.
    cmd.about(J::ABOUT).long_about(None)
}

fn parts<J: Register>(matches: &ArgMatches) -> Result<(Common, J::Settings), JobError> {
    let bad = |e: clap::Error| JobError::bad_input(crate::cli_error::one_line(&e));
    let common = Common::from_arg_matches(matches).map_err(bad)?;
    let settings = J::Settings::from_arg_matches(matches).map_err(bad)?;
    Ok((common, settings))
}

fn build<J: Register>(matches: &ArgMatches, file: &SettingsFile) -> Result<Invocation, JobError> {
    let (common, flags) = parts::<J>(matches)?;
    let settings = file.merge(J::NAME, &flags)?;
    Ok(Invocation {
        job: Box::new(J::from_settings(settings)?),
        options: common.options(),
    })
}

fn units<J: Register>(matches: &ArgMatches) -> Result<Option<Units>, JobError> {
    let (_, flags) = parts::<J>(matches)?;
    Ok(J::fan_out(&flags).map(|f| f.units))
}

fn unit_args<J: Register>(matches: &ArgMatches, unit: i64) -> Result<Vec<String>, JobError> {
    let (common, flags) = parts::<J>(matches)?;
    let Some(fan_out) = J::fan_out(&flags) else {
        return Err(JobError::Other(format!("{} does not fan out", J::NAME)));
    };
    let mut args = to_args(&(fan_out.unit)(flags, unit))?;
    args.extend(to_args(&common)?);
    Ok(args)
}

/// `sitejobs run` arguments that reproduce `settings` for job `J`, starting with its name.
pub fn run_args<J: Register>(settings: &J::Settings) -> Result<Vec<String>, JobError> {
    let mut args = vec![J::NAME.to_owned()];
    args.extend(to_args(settings)?);
    Ok(args)
}
