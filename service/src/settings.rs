//! Job settings, one way for all jobs: each job's settings are one struct that
//! is both its clap arguments and its `[job-name]` table of the settings file,
//! merged flags first, then the file, then the job's defaults (applied when the
//! job turns its settings into options).
//!
//! The file is read with serde and the `toml` crate rather than a layering
//! crate such as figment: it is one TOML file that also holds the schedule, the
//! only layers are "flag over file", and toml's deserializer already gives the
//! exact message for an unknown or mistyped key. The merge is generic: the
//! flags that were given are serialised (absent ones are `None` or `false` and
//! skipped) over the file's table, and the result is deserialised once, with
//! `#[serde(deny_unknown_fields)]` rejecting unknown keys.
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::JobError;

/// The settings file read when none is named: `sitejobs.toml` in the working directory.
pub const DEFAULT_FILE: &str = "sitejobs.toml";

/// What a job's settings struct must be: its flags (clap), its file table
/// (serde), with every field optional (`Option`, or a `bool` that is `false`
/// when absent and skipped when serialised).
pub trait Settings:
    clap::Args
    + clap::FromArgMatches
    + Serialize
    + DeserializeOwned
    + Default
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> Settings for T where
    T: clap::Args
        + clap::FromArgMatches
        + Serialize
        + DeserializeOwned
        + Default
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// The parsed settings file (empty when there is none).
#[derive(Clone, Debug, Default)]
pub struct SettingsFile {
    path: Option<PathBuf>,
    table: toml::Table,
}

impl SettingsFile {
    /// Reads `path`, or `sitejobs.toml` in the working directory when `None`
    /// (a missing default file is an empty one; a named file must exist).
    /// A file that cannot be read or is not TOML is bad input.
    pub fn load(path: Option<&Path>) -> Result<Self, JobError> {
        let (path, named) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_FILE), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if !named && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default())
            }
            Err(e) => {
                return Err(JobError::bad_input(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        Self::parse(&text, path)
    }

    /// Parses `text` as the settings file found at `path`.
    pub fn parse(text: &str, path: PathBuf) -> Result<Self, JobError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            let at = line.map(|l| format!(" at line {l}")).unwrap_or_default();
            JobError::bad_input(format!(
                "{}: not valid TOML{at}: {}",
                path.display(),
                e.message().trim()
            ))
        })?;
        Ok(Self {
            path: Some(path),
            table,
        })
    }

    /// The file's path, when there is a file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The file's path for messages (`sitejobs.toml` when there is none).
    pub fn name(&self) -> String {
        self.path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| DEFAULT_FILE.to_owned())
    }

    /// The whole file (the scheduler reads its `[[job]]` entries).
    pub fn table(&self) -> &toml::Table {
        &self.table
    }

    /// `flags` merged over the `[job]` table: a flag that was given wins, else
    /// the file's value, else the field stays unset for the job's default.
    /// An unknown or mistyped key in the table is bad input naming it.
    pub fn merge<S: Settings>(&self, job: &str, flags: &S) -> Result<S, JobError> {
        let bad = |msg: String| JobError::bad_input(format!("{}: [{job}] {msg}", self.name()));
        let mut merged = match self.table.get(job) {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t.clone(),
            Some(_) => return Err(bad("must be a table".into())),
        };
        merged.extend(serialize(flags)?);
        // serde_path_to_error names the key of a mistyped value (toml's own
        // message names only the type when deserialising from a value).
        serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
            let msg = e.inner().message().trim().replace('\n', " ");
            match e.path().to_string().as_str() {
                "." => bad(msg),
                key => bad(format!("{key}: {msg}")),
            }
        })
    }
}

fn serialize<S: Serialize>(settings: &S) -> Result<toml::Table, JobError> {
    toml::Table::try_from(settings)
        .map_err(|e| JobError::Other(format!("cannot serialise settings: {e}")))
}

/// The flags that reproduce `settings` on a command line (`--community 7`),
/// for runs started as child processes (the scheduler's fan-out, the bench).
/// Flag names are clap's: the field name in kebab case. Lists are joined with
/// commas (the settings' list flags take `value_delimiter = ','`).
pub fn to_args<S: Serialize>(settings: &S) -> Result<Vec<String>, JobError> {
    let mut args = Vec::new();
    for (key, value) in serialize(settings)? {
        let flag = format!("--{}", key.replace('_', "-"));
        match value {
            toml::Value::Boolean(false) => {}
            toml::Value::Boolean(true) => args.push(flag),
            toml::Value::String(s) => args.extend([flag, s]),
            toml::Value::Array(items) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|v| match v {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                args.extend([flag, items.join(",")]);
            }
            other => args.extend([flag, other.to_string()]),
        }
    }
    Ok(args)
}

/// An RFC 3339 instant from a flag (`--now 2026-11-21T03:00:00Z`), for clap's `value_parser`.
pub fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| format!("'{s}' is not an RFC 3339 timestamp ({e}), e.g. 2026-11-21T03:00:00Z"))
}
