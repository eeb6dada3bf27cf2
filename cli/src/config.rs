//! Connection settings from flags, the environment and `.env`, turned into the
//! servers a command needs. Job settings may also come from `sitejobs.toml`.
use anyhow::Result;
use service::connect::{connect_db, connect_redis};
use service::error::JobError;
use service::Services;

use crate::Cli;

/// The optional settings file, read from the working directory.
pub const CONFIG_FILE: &str = "sitejobs.toml";

/// Connections one process needs at most (the runner's lock takes one of its own).
const POOL_SIZE: u32 = 10;

pub async fn database(cli: &Cli) -> Result<sea_orm::DatabaseConnection> {
    let url = cli.database_url.as_deref().ok_or_else(|| {
        JobError::Unreachable(
            "no database configured: set DATABASE_URL or --database-url (scripts/dev-services.sh start writes one to .dev/env)".into(),
        )
    })?;
    Ok(connect_db(url, POOL_SIZE).await?)
}

pub async fn redis(cli: &Cli) -> Result<service::redis_conn::RedisConn> {
    let url = cli.redis_url.as_deref().ok_or_else(|| {
        JobError::Unreachable(
            "no Redis configured: set REDIS_URL or --redis-url (scripts/dev-services.sh start writes one to .dev/env)".into(),
        )
    })?;
    Ok(connect_redis(url).await?)
}

/// The database, and Redis when the command needs it.
pub async fn services(cli: &Cli, needs_redis: bool) -> Result<Services> {
    let db = database(cli).await?;
    let redis = if needs_redis {
        Some(redis(cli).await?)
    } else {
        None
    };
    Ok(Services { db, redis })
}

/// The `[job-name]` table of `sitejobs.toml` (empty when the file or table is
/// absent), for settings a job may take from the file as well as from flags:
///
/// ```toml
/// [denormalize-profiles]
/// precedence = ["staff", "moderator", "creator", "member"]
/// ```
///
/// Flags win over the file. A malformed file is bad input (exit 2).
pub fn job_section(job: &str) -> Result<toml::Table> {
    let text = match std::fs::read_to_string(CONFIG_FILE) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(toml::Table::new()),
        Err(e) => {
            return Err(JobError::bad_input(format!("cannot read {CONFIG_FILE}: {e}")).into())
        }
    };
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        JobError::bad_input(format!("{CONFIG_FILE} is not valid TOML: {}", e.message()))
    })?;
    match table.remove(job) {
        None => Ok(toml::Table::new()),
        Some(toml::Value::Table(t)) => Ok(t),
        Some(_) => {
            Err(JobError::bad_input(format!("{CONFIG_FILE}: [{job}] must be a table")).into())
        }
    }
}
