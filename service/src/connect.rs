//! Connecting to PostgreSQL and Redis with short timeouts and one-line errors
//! that say which server failed and how to fix it.
use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::error::JobError;
use crate::redis_conn::{says_cluster, split_urls, RedisConn};
pub use crate::secrets::mask_url;

/// How long a connection attempt may take before it is reported.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A pooled connection idle this long is pinged before it is used again.
const IDLE_PING_AFTER: Duration = Duration::from_secs(30);
/// A Redis reply may take this long (a big `ZADD` or the swap of a large set).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

const DB_HINT: &str = "set DATABASE_URL or --database-url, or start the dev services with scripts/dev-services.sh start";
const REDIS_HINT: &str =
    "set REDIS_URL or --redis-url, or start the dev services with scripts/dev-services.sh start";

/// Opens a pool on `url` and checks that the server answers, with
/// [`WARM`] connections open and idle.
pub async fn connect_db(url: &str, max_connections: u32) -> Result<DatabaseConnection, JobError> {
    connect_db_warm(url, max_connections, WARM).await
}

/// [`connect_db`] with `warm` connections open and idle (at most
/// `max_connections`): a run that needs only its own connection opens one.
pub async fn connect_db_warm(
    url: &str,
    max_connections: u32,
    warm: u32,
) -> Result<DatabaseConnection, JobError> {
    crate::secrets::remember_url(url);
    let shown = mask_url(url);
    probe_db(url, &shown).await?;
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(max_connections)
        .min_connections(0)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(CONNECT_TIMEOUT.saturating_mul(3))
        // sqlx pings a pooled connection on every checkout by default: a
        // round trip per statement. Ping only one idle long enough for the
        // server or a proxy to have dropped it.
        .test_before_acquire_if_idle_for(IDLE_PING_AFTER)
        // Off unless asked for (`SITEJOBS_LOG=sqlx::query=debug`): then every
        // statement is logged, which scripts/lint-migrations.sh captures.
        .sqlx_logging(tracing::enabled!(target: "sqlx::query", tracing::Level::DEBUG))
        .sqlx_logging_level(tracing::log::LevelFilter::Debug);
    let db = tokio::time::timeout(CONNECT_TIMEOUT, Database::connect(opts))
        .await
        .map_err(|_| {
            JobError::Unreachable(format!(
                "cannot connect to PostgreSQL at {shown}: timed out after {}s; {DB_HINT}",
                CONNECT_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| {
            JobError::Unreachable(format!(
                "cannot connect to PostgreSQL at {shown}: {}; {DB_HINT}",
                crate::error::clean_db_message(&e)
            ))
        })?;
    warm_up(&db, max_connections.min(warm)).await;
    Ok(db)
}

/// A run uses three connections, unless its job says otherwise
/// ([`Job::warm_connections`](crate::runner::Job::warm_connections)): its
/// lock and history live on one taken out of the pool (see `runner::lock`),
/// the job's statements go through the pool (or, for a short job, on the
/// lock's: `JobContext::session`). sqlx hands a released connection back to
/// the pool on a task of its own, so a statement that follows another at
/// once often finds none idle and opens a new one: a sequence of statements
/// takes two. Opening all three now, side by side, keeps connection setup
/// (~2 ms each here) out of the run. A failure is left for the first
/// statement to report.
pub const WARM: u32 = 3;

async fn warm_up(db: &DatabaseConnection, connections: u32) {
    let pool = db.get_postgres_connection_pool();
    let held: Vec<_> = futures::future::join_all((0..connections).map(|_| pool.acquire()))
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let opened = held.len();
    drop(held);
    // The same hand-back: give those tasks their turn (they may be queued
    // on another worker thread), or the run's first statement opens a
    // connection of its own after all. Bounded: a connection that failed
    // never comes back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(50);
    while pool.num_idle() < opened && std::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

/// One direct connection first: the pool retries a refused connection until
/// its timeout, which hides the reason (refused, bad password, no such database).
async fn probe_db(url: &str, shown: &str) -> Result<(), JobError> {
    use sea_orm::sqlx::{Connection, PgConnection};
    let conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url))
        .await
        .map_err(|_| {
            JobError::Unreachable(format!(
                "cannot connect to PostgreSQL at {shown}: timed out after {}s; {DB_HINT}",
                CONNECT_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| {
            JobError::Unreachable(format!(
                "cannot connect to PostgreSQL at {shown}: {}; {DB_HINT}",
                crate::secrets::scrub(&crate::error::clean_message(&e.to_string()))
            ))
        })?;
    let _ = conn.close().await;
    Ok(())
}

/// Connects to the Redis at `urls` and checks it with a PING. `urls` is one
/// server, or one or more nodes of a Redis Cluster separated by commas: the
/// first node's `INFO cluster` tells which, and a cluster gets the redis
/// crate's cluster client seeded with every node given.
pub async fn connect_redis(urls: &str) -> Result<RedisConn, JobError> {
    crate::secrets::remember_url(urls);
    let shown = mask_url(urls);
    let unreachable = |why: String| {
        JobError::Unreachable(format!(
            "cannot connect to Redis at {shown}: {}; {REDIS_HINT}",
            crate::secrets::scrub(&why)
        ))
    };
    let nodes = split_urls(urls);
    let Some(first) = nodes.first() else {
        return Err(JobError::bad_input(
            "the Redis URL is empty: set REDIS_URL or --redis-url",
        ));
    };
    let mut conn = connect_single(first).await.map_err(unreachable)?;
    let info: String = redis::cmd("INFO")
        .arg("cluster")
        .query_async(&mut conn)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !says_cluster(&info) {
        if nodes.len() > 1 {
            return Err(JobError::bad_input(format!(
                "the Redis URL names {} servers but {} is not a cluster node (cluster_enabled:0): give one URL, or the nodes of a Redis Cluster",
                nodes.len(),
                mask_url(first)
            )));
        }
        return Ok(RedisConn::Single(conn));
    }
    let cluster = connect_cluster(&nodes).await.map_err(unreachable)?;
    Ok(RedisConn::Cluster(cluster))
}

async fn connect_single(url: &str) -> Result<redis::aio::MultiplexedConnection, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut conn = tokio::time::timeout(
        CONNECT_TIMEOUT,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    .map_err(|_| format!("timed out after {}s", CONNECT_TIMEOUT.as_secs()))?
    .map_err(|e| e.to_string())?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

async fn connect_cluster(
    nodes: &[&str],
) -> Result<redis::cluster_async::ClusterConnection, String> {
    let client = redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_connection())
        .await
        .map_err(|_| format!("timed out after {}s", CONNECT_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// `url` with its database name replaced by `db` (query string kept).
pub fn url_with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_at(url.find('?').unwrap_or(url.len()));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    match base[after_scheme..].find('/') {
        Some(i) => format!("{}/{db}{query}", &base[..after_scheme + i]),
        None => format!("{base}/{db}{query}"),
    }
}

/// The database name of `url` (`sitejobs` in `postgres://u@h:5432/sitejobs`).
pub fn database_name(url: &str) -> Option<String> {
    let base = &url[..url.find('?').unwrap_or(url.len())];
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let path = &base[after_scheme..];
    path.find('/')
        .map(|i| path[i + 1..].to_owned())
        .filter(|s| !s.is_empty())
}
