//! The production guard (Rails' protected environments are the model):
//! `migrate up` records `SITEJOBS_ENV` in the database, and while the database
//! is recorded as production the commands that wipe data refuse to run unless
//! `SITEJOBS_ALLOW_DESTRUCTIVE=1` is set.
use migration::environment;
use sea_orm::ConnectionTrait;

use crate::error::JobError;

pub use migration::environment::PRODUCTION;

/// The variable that lets a destructive command past the guard.
pub const ALLOW_VAR: &str = "SITEJOBS_ALLOW_DESTRUCTIVE";

/// Who is asking: the environment this process runs in and whether the
/// operator allowed destructive commands.
#[derive(Clone, Debug)]
pub struct Guard {
    /// `--env` / `SITEJOBS_ENV`.
    pub env: String,
    /// `SITEJOBS_ALLOW_DESTRUCTIVE=1` was set.
    pub allow_destructive: bool,
}

impl Guard {
    /// `env` from `--env`/`SITEJOBS_ENV`; the permission from `SITEJOBS_ALLOW_DESTRUCTIVE=1`.
    pub fn from_env(env: impl Into<String>) -> Self {
        Self {
            env: env.into(),
            allow_destructive: std::env::var(ALLOW_VAR).as_deref() == Ok("1"),
        }
    }

    /// Refuses `command` (it wipes data) on a database recorded as production,
    /// or from a process whose own environment is production: bad input, exit 2.
    pub async fn check_destructive(
        &self,
        db: &impl ConnectionTrait,
        command: &str,
    ) -> Result<(), JobError> {
        if self.allow_destructive {
            return Ok(());
        }
        let recorded = environment::recorded(db).await?;
        let whose = if recorded.as_deref() == Some(PRODUCTION) {
            "the database is recorded as production"
        } else if self.env == PRODUCTION {
            "SITEJOBS_ENV is production"
        } else {
            return Ok(());
        };
        Err(JobError::bad_input(format!(
            "production guard: refusing `{command}` because {whose} and it wipes data; \
             set {ALLOW_VAR}=1 to run it anyway"
        )))
    }

    /// Records this process's environment in the database (`migrate up` does).
    /// A database recorded as production keeps that record against another
    /// environment unless destructive commands are allowed: a developer's
    /// `migrate up` must not quietly lift the guard. Returns what is recorded.
    pub async fn record(&self, db: &impl ConnectionTrait) -> Result<String, JobError> {
        if !environment::exists(db).await? {
            // `migrate up -n N` stopped before the migration that creates it.
            tracing::info!(
                env = %self.env,
                "{} does not exist yet (its migration is pending): nothing recorded",
                environment::TABLE
            );
            return Ok(self.env.clone());
        }
        let recorded = environment::recorded_in_table(db).await?;
        if recorded.as_deref() == Some(PRODUCTION)
            && self.env != PRODUCTION
            && !self.allow_destructive
        {
            tracing::warn!(
                env = %self.env,
                "the database is recorded as production; keeping that record (set {ALLOW_VAR}=1 to record {})",
                self.env
            );
            return Ok(PRODUCTION.to_owned());
        }
        environment::record(db, &self.env).await?;
        Ok(self.env.clone())
    }
}
