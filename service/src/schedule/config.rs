//! The schedule file: `[[job]]` entries of the settings file (by default
//! `sitejobs.toml`, beside the jobs' own `[job-name]` settings tables).
//!
//! ```toml
//! [[job]]
//! name = "purge-emails"
//! cron = "0 30 3 * * *"        # sec min hour day month weekday
//! timezone = "Europe/Zagreb"    # IANA name; default UTC
//! args = ["--retention-days", "14"]
//!
//! [scheduler]
//! history_retention = "90d"     # job_runs older than this are pruned daily
//! ```
//!
//! Everything is checked before anything runs: the TOML, each cron
//! expression, the job's name (against the registry) and its arguments (by
//! the job's own clap command, then merged with the file's `[job-name]`
//! table and validated into the job's options), so a typo fails at start,
//! not at 3 a.m.
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use serde::Deserialize;

use super::fanout::Units;
use crate::error::JobError;
use crate::registry::{self, JobEntry};
use crate::settings::SettingsFile;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: String,
    cron: String,
    #[serde(default)]
    args: Vec<String>,
    timezone: Option<String>,
}

/// The `[scheduler]` table: settings of the scheduler itself.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScheduler {
    history_retention: Option<String>,
}

/// How long `job_runs` rows are kept when the file does not say.
pub const DEFAULT_RETENTION: &str = "90d";

/// One scheduled job: what to run and when.
#[derive(Clone)]
pub struct Entry {
    /// The job's name.
    pub name: String,
    /// The cron expression as written.
    pub cron_text: String,
    /// The parsed expression.
    pub cron: Cron,
    /// The job's arguments as written.
    pub args: Vec<String>,
    /// The zone the cron fields are read in (UTC unless the entry names one).
    pub timezone: Tz,
    /// Set when the run is split into one run per unit (`denormalize-profiles --all`).
    pub fanout: Option<Units>,
    job: &'static JobEntry,
    matches: clap::ArgMatches,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("cron", &self.cron_text)
            .field("args", &self.args)
            .field("fanout", &self.fanout)
            .finish()
    }
}

impl Entry {
    /// The arguments of the run for one unit of a fanned-out entry.
    pub fn unit_args(&self, unit: i64) -> Result<Vec<String>, JobError> {
        self.job.unit_args(&self.matches, unit)
    }

    /// The first tick strictly after `t`, or `None` if the expression has no more.
    /// Computed on the entry's wall clock, so daylight-saving changes are
    /// croner's rules: a time skipped by spring-forward runs at the first
    /// instant after the gap, a time repeated by fall-back runs once.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.timezone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// How many ticks fell strictly between `from` and `to` (capped: it is for a log line).
    pub fn ticks_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
        self.cron
            .iter_after(from.with_timezone(&self.timezone))
            .take_while(|t| *t < to)
            .take(10_000)
            .count()
    }
}

/// A validated schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Its entries, in file order.
    pub entries: Vec<Entry>,
    /// `job_runs` rows that ended longer ago than this are pruned once a day.
    pub history_retention: std::time::Duration,
}

/// Cron expressions of 5 fields (as crontab) or 6 (seconds first), read in
/// the entry's time zone;
/// `@daily` and friends work too.
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(text)
        .map_err(|e| e.to_string())
}

/// The schedule in `file`'s `[[job]]` entries, validated. Every problem is
/// bad input with a one-line message naming the file and the job.
pub fn load(file: &SettingsFile) -> Result<Schedule, JobError> {
    let source = file.name();
    let bad = |msg: String| JobError::bad_input(format!("{source}: {msg}"));
    if file.path().is_none() {
        return Err(bad(
            "not found: write [[job]] entries into it, or name one with --config".into(),
        ));
    }
    let mut table = file.table().clone();
    let scheduler: RawScheduler = match table.remove("scheduler") {
        Some(v) => v
            .try_into()
            .map_err(|e: toml::de::Error| bad(format!("[scheduler]: {}", e.message().trim())))?,
        None => RawScheduler::default(),
    };
    let retention_text = scheduler
        .history_retention
        .unwrap_or_else(|| DEFAULT_RETENTION.to_owned());
    let history_retention = crate::ops::prune::parse_age(&retention_text)
        .map_err(|e| bad(format!("[scheduler] history_retention: {e}")))?;
    let Some(jobs) = table.remove("job") else {
        return Err(bad("no [[job]] entries: add one per scheduled job".into()));
    };
    let toml::Value::Array(jobs) = jobs else {
        return Err(bad("`job` must be a list of [[job]] tables".into()));
    };
    let mut entries = Vec::with_capacity(jobs.len());
    for (i, value) in jobs.into_iter().enumerate() {
        // Name the job in every message, even when the entry is malformed.
        let label = match value.get("name").and_then(|n| n.as_str()) {
            Some(name) => format!("job '{name}'"),
            None => format!("[[job]] number {}", i + 1),
        };
        let raw: RawEntry = value
            .try_into()
            .map_err(|e: toml::de::Error| bad(format!("{label}: {}", e.message().trim())))?;
        entries.push(entry(raw, file).map_err(|msg| bad(format!("{label}: {msg}")))?);
    }
    if entries.is_empty() {
        return Err(bad("no [[job]] entries: add one per scheduled job".into()));
    }
    Ok(Schedule {
        entries,
        history_retention,
    })
}

fn entry(raw: RawEntry, file: &SettingsFile) -> Result<Entry, String> {
    let cron = parse_cron(&raw.cron).map_err(|e| format!("invalid cron '{}': {e}", raw.cron))?;
    let timezone = match &raw.timezone {
        None => Tz::UTC,
        Some(name) => name.parse::<Tz>().map_err(|_| {
            format!("unknown timezone '{name}' (an IANA name such as \"Europe/Zagreb\" or \"UTC\")")
        })?,
    };
    let job = registry::find(&raw.name)
        .ok_or_else(|| format!("unknown job '{}' (known: {})", raw.name, registry::names()))?;
    let args_error = |e: JobError| format!("args {:?}: {e}", raw.args);
    let matches = job.parse(&raw.args).map_err(args_error)?;
    let fanout = job.units(&matches).map_err(args_error)?;
    // A fanned-out entry runs as one run per unit: check that shape, with the file's settings.
    let checked = match fanout {
        Some(_) => job
            .parse(&job.unit_args(&matches, 1).map_err(args_error)?)
            .map_err(args_error)?,
        None => matches.clone(),
    };
    job.build(&checked, file).map_err(args_error)?;
    let entry = Entry {
        name: raw.name,
        cron_text: raw.cron,
        cron,
        args: raw.args,
        timezone,
        fanout,
        job,
        matches,
    };
    if entry.next_after(Utc::now()).is_none() {
        return Err(format!("cron '{}' never fires again", entry.cron_text));
    }
    Ok(entry)
}
