//! Typed errors of the service crate, for callers to match on. Their messages
//! are one line each; the CLI maps [`JobError::BadInput`] to exit code 2 and
//! everything else to 1 (a held lock is a run status, not an error: see the runner).
use sea_orm::DbErr;

/// Everything that can go wrong in a job, a command of the service crate, or the runner.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The caller asked for something impossible: nothing was written.
    #[error("{0}")]
    BadInput(String),
    /// The database answered with an error.
    #[error("database: {}", clean_db_message(.0))]
    Db(#[from] DbErr),
    /// Redis answered with an error, or the connection broke.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A server could not be reached at all (connect or handshake failed).
    #[error("{0}")]
    Unreachable(String),
    /// The job needs Redis and none is configured.
    #[error("this job needs Redis: set REDIS_URL or --redis-url")]
    NoRedis,
    /// Another run holds the job's lock key.
    #[error("{job} is already running elsewhere (lock '{key}'); consider --wait")]
    Locked {
        /// The job's name.
        job: String,
        /// The lock key that is held.
        key: String,
    },
    /// Another scheduler's run already claimed this schedule tick.
    #[error("tick {0} was already claimed by another run")]
    TickClaimed(String),
    /// A signal stopped the run; its open transaction was rolled back.
    #[error("interrupted by {0}; the run's changes were rolled back")]
    Interrupted(String),
    /// Anything else, as a one-line message.
    #[error("{0}")]
    Other(String),
}

impl JobError {
    /// A [`JobError::BadInput`] with this message.
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Self::BadInput(msg.into())
    }

    /// Whether this is bad input (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Self::BadInput(_))
    }
}

impl From<sea_orm::sqlx::Error> for JobError {
    fn from(e: sea_orm::sqlx::Error) -> Self {
        Self::Db(DbErr::Query(sea_orm::RuntimeErr::SqlxError(e.into())))
    }
}

/// `DbErr`'s message ends with the server's source line ("at line 664") and
/// repeats its wrappers; keep only what a user can act on, on one line.
pub fn clean_db_message(e: &DbErr) -> String {
    clean_message(&e.to_string())
}

/// Drops PostgreSQL's " at line N" source markers and folds the text onto one line.
pub fn clean_message(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" at line ") {
        let digits = rest[i + 9..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        out.push_str(&rest[..i]);
        if digits == 0 {
            out.push_str(" at line ");
        }
        rest = &rest[i + 9 + digits..];
    }
    out.push_str(rest);
    out.replace('\n', " ")
}
