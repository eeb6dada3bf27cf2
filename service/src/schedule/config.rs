//! The schedule file: `[[job]]` entries of a TOML file (by default
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
//! Everything is checked before anything runs: the TOML, each cron expression,
//! and the job's name and arguments (by a validator the CLI hands in, which
//! asks the CLI's own parser), so a typo fails at start, not at 3 a.m.
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use serde::Deserialize;

use super::fanout::{Fanout, FANOUTS};
use crate::error::JobError;

/// Checks that `sitejobs run <name> <args...>` would parse; `Err` is a one-line reason.
pub type Validator<'a> = &'a dyn Fn(&str, &[String]) -> Result<(), String>;

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
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub cron_text: String,
    pub cron: Cron,
    pub args: Vec<String>,
    /// The zone the cron fields are read in (UTC unless the entry names one).
    pub timezone: Tz,
    /// Set when the run is split into one run per unit (`denormalize-profiles --all`).
    pub fanout: Option<&'static Fanout>,
}

impl Entry {
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

/// Reads and validates the schedule at `path`. Every problem is bad input with
/// a one-line message naming the file and the job.
pub fn load(path: &str, validate: Validator) -> Result<Schedule, JobError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| JobError::bad_input(format!("cannot read {path}: {e}")))?;
    parse(&text, path, validate)
}

/// Parses and validates the text of a schedule file named `source`.
pub fn parse(text: &str, source: &str, validate: Validator) -> Result<Schedule, JobError> {
    let bad = |msg: String| JobError::bad_input(format!("{source}: {msg}"));
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let at = line.map(|l| format!(" at line {l}")).unwrap_or_default();
        bad(format!("not valid TOML{at}: {}", e.message().trim()))
    })?;
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
        entries.push(entry(raw, validate).map_err(|msg| bad(format!("{label}: {msg}")))?);
    }
    if entries.is_empty() {
        return Err(bad("no [[job]] entries: add one per scheduled job".into()));
    }
    Ok(Schedule {
        entries,
        history_retention,
    })
}

fn entry(raw: RawEntry, validate: Validator) -> Result<Entry, String> {
    let cron = parse_cron(&raw.cron).map_err(|e| format!("invalid cron '{}': {e}", raw.cron))?;
    let timezone = match &raw.timezone {
        None => Tz::UTC,
        Some(name) => name.parse::<Tz>().map_err(|_| {
            format!("unknown timezone '{name}' (an IANA name such as \"Europe/Zagreb\" or \"UTC\")")
        })?,
    };
    let fanout = FANOUTS
        .iter()
        .find(|f| f.job == raw.name && raw.args.iter().any(|a| a == f.all_flag));
    // A fanned-out entry runs as `<name> ... --community <id>`: check that shape.
    let checked = match fanout {
        Some(f) => f.unit_args(&raw.args, "1"),
        None => raw.args.clone(),
    };
    validate(&raw.name, &checked)?;
    let entry = Entry {
        name: raw.name,
        cron_text: raw.cron,
        cron,
        args: raw.args,
        timezone,
        fanout,
    };
    if entry.next_after(Utc::now()).is_none() {
        return Err(format!("cron '{}' never fires again", entry.cron_text));
    }
    Ok(entry)
}
