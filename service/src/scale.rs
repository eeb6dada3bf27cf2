//! The sizes `seed` and `bench` work at.
use std::str::FromStr;

use serde::Serialize;

use crate::error::JobError;

/// How much data `seed` writes and `bench` measures (`--scale`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Seconds: for tests and a first look.
    Tiny,
    /// The demo: every job's shape, in about a minute.
    #[default]
    Small,
    /// The issues' benchmark sizes where they fit in a few minutes.
    Medium,
    /// Millions of rows: the write-ups' production sizes.
    Large,
}

impl Scale {
    /// The name as given to `--scale` (`small`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tiny => "tiny",
            Self::Small => "small",
            Self::Medium => "medium",
            Self::Large => "large",
        }
    }
}

impl FromStr for Scale {
    type Err = JobError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tiny" => Ok(Self::Tiny),
            "small" => Ok(Self::Small),
            "medium" => Ok(Self::Medium),
            "large" => Ok(Self::Large),
            other => Err(JobError::bad_input(format!(
                "unknown scale '{other}': use tiny, small, medium or large"
            ))),
        }
    }
}

impl std::fmt::Display for Scale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
