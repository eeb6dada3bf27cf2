//! Typed errors of the service crate. The CLI maps them to exit codes:
//! [`JobError::BadInput`] is 2, everything else is 1 (a held lock is not an error: see the runner).
use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The caller asked for something impossible: nothing was written.
    #[error("{0}")]
    BadInput(String),
    #[error("database: {}", clean_db_message(.0))]
    Db(#[from] DbErr),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A server could not be reached at all (connect or handshake failed).
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Other(String),
}

impl JobError {
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Self::BadInput(msg.into())
    }

    pub fn is_bad_input(&self) -> bool {
        matches!(self, Self::BadInput(_))
    }
}

impl From<sea_orm::sqlx::Error> for JobError {
    fn from(e: sea_orm::sqlx::Error) -> Self {
        Self::Db(DbErr::Custom(e.to_string()))
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
