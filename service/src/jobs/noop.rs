//! A job that does nothing but one statement (and optionally sleeps or fails):
//! it exercises the runner's lock, counting, history and exit codes, and, with
//! `--all`, the scheduler's per-community fan-out.
use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};

use crate::error::JobError;
use crate::registry::{FanOut, Register};
use crate::runner::{Job, JobContext, JobOutput};
use crate::schedule::fanout::Units;

/// The job's name.
pub const NAME: &str = "noop";

/// `sitejobs run noop` flags, and the `[noop]` table of the settings file.
#[derive(clap::Args, serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Sleep this long after the statement [default: 0].
    #[arg(long)]
    pub sleep_ms: Option<u64>,
    /// Fail after sleeping (to see the error path).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail: bool,
    /// Pretend to work on one community (lock key noop:ID), as denormalize-profiles does.
    #[arg(long, conflicts_with = "all")]
    pub community: Option<i64>,
    /// Pretend to work on every community: under the scheduler, one run per community.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

/// The runner's smoke test.
pub struct Noop {
    /// Sleep this long after the statement.
    pub sleep_ms: u64,
    /// Fail after sleeping.
    pub fail: bool,
    /// A community to pretend to work on: the lock key becomes `noop:<id>`.
    pub community: Option<i64>,
}

impl Register for Noop {
    const NAME: &'static str = NAME;
    const ABOUT: &'static str =
        "A no-op job that proves the runner (lock, counts, history); sleeps or fails if asked";
    const BENCH_BY_DEFAULT: bool = false;
    type Settings = Settings;

    fn from_settings(s: Settings) -> Result<Self, JobError> {
        Ok(Self {
            sleep_ms: s.sleep_ms.unwrap_or(0),
            fail: s.fail,
            community: s.community,
        })
    }

    fn fan_out(s: &Settings) -> Option<FanOut<Settings>> {
        s.all.then_some(FanOut {
            units: Units::Communities,
            unit: |s, id| Settings {
                community: Some(id),
                all: false,
                ..s
            },
        })
    }

    async fn bench_cases(
        _db: &sea_orm::DatabaseConnection,
        _scale: crate::scale::Scale,
    ) -> Result<Vec<crate::bench::BenchCase>, JobError> {
        Ok(vec![crate::bench::BenchCase {
            job: NAME,
            label: "one statement".into(),
            args: crate::registry::run_args::<Self>(&Settings::default())?,
            naive: crate::bench::NaivePlan::Full,
            reset_sql: vec![],
            floors: vec![],
        }])
    }
}

impl Job for Noop {
    fn name(&self) -> &'static str {
        NAME
    }

    fn lock_key(&self) -> String {
        match self.community {
            Some(id) => format!("{NAME}:{id}"),
            None => NAME.to_owned(),
        }
    }

    fn params(&self) -> serde_json::Value {
        serde_json::json!({ "sleep_ms": self.sleep_ms, "fail": self.fail, "community": self.community })
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let db = ctx.db();
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT 1",
        ))
        .await?;
        if self.sleep_ms > 0 {
            // Even a zero sleep waits for the timer's next 1 ms tick.
            tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        }
        if self.fail {
            return Err(JobError::Other("noop failed as asked (--fail)".into()));
        }
        Ok(JobOutput::rows(0))
    }
}
