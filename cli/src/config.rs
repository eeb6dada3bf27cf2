//! Global settings from flags, the environment and `.env`, turned into the
//! servers a command needs, and the settings file jobs read theirs from.
use anyhow::Result;
use service::connect::{connect_db, connect_db_warm, connect_redis};
use service::error::JobError;
use service::settings::SettingsFile;
use service::Services;

use crate::Cli;

/// Connections one process needs at most (the runner's lock takes one of its own).
const POOL_SIZE: u32 = 10;

pub async fn database(cli: &Cli) -> Result<sea_orm::DatabaseConnection> {
    Ok(connect_db(database_url(cli)?, POOL_SIZE).await?)
}

fn database_url(cli: &Cli) -> Result<&str> {
    Ok(cli.database_url.as_deref().ok_or_else(|| {
        JobError::Unreachable(
            "no database configured: set DATABASE_URL or --database-url (scripts/dev-services.sh start writes one to .dev/env)".into(),
        )
    })?)
}

pub async fn redis(cli: &Cli) -> Result<service::redis_conn::RedisConn> {
    let url = cli.redis_url.as_deref().ok_or_else(|| {
        JobError::Unreachable(
            "no Redis configured: set REDIS_URL or --redis-url (scripts/dev-services.sh start writes one to .dev/env)".into(),
        )
    })?;
    Ok(connect_redis(url).await?)
}

/// What `job` needs: the database with the connections it uses open
/// ([`service::runner::Job::warm_connections`]), and Redis if it needs it.
pub async fn services(cli: &Cli, job: &dyn service::registry::AnyJob) -> Result<Services> {
    let db = connect_db_warm(database_url(cli)?, POOL_SIZE, job.warm_connections()).await?;
    let redis = if job.needs_redis() {
        Some(redis(cli).await?)
    } else {
        None
    };
    Ok(Services { db, redis })
}

/// The settings file of `--config` / `SITEJOBS_CONFIG`, else `./sitejobs.toml`
/// (absent: no settings). Bad input when a named file is missing or not TOML.
pub fn settings_file(cli: &Cli) -> Result<SettingsFile> {
    Ok(SettingsFile::load(cli.config.as_deref())?)
}
