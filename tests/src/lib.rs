//! Test helpers: a real PostgreSQL database and a real Redis key space per test.
//!
//! [`TestDb::new`] clones a migrated template database (built once per
//! migration set, under an advisory lock, so parallel tests and processes
//! share it) into a fresh database that is dropped when the test ends.
//! [`TestRedis::new`] gives a unique key prefix whose keys are deleted at the end.
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::{self, Connection, PgConnection};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use service::Services;

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is not set: run the tests with scripts/test.sh, which starts the dev services")
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").expect(
        "REDIS_URL is not set: run the tests with scripts/test.sh, which starts the dev services",
    )
}

/// `url` with its database name replaced by `db`.
pub fn url_for(url: &str, db: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let slash = base.rfind('/').expect("a database URL has a path");
    format!("{}/{}{}", &base[..slash], db, query)
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// A stable hash of the migration sources: a new template whenever they change.
fn migrations_fingerprint() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migration/src");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migration/src is readable")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    // FNV-1a: tiny and stable across Rust versions (DefaultHasher is not).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for b in f
            .file_name()
            .map(|n| n.as_encoded_bytes().to_vec())
            .unwrap_or_default()
            .iter()
            .chain(bytes.iter())
        {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

async fn admin() -> PgConnection {
    PgConnection::connect(&database_url())
        .await
        .expect("connect to the admin database (is the dev PostgreSQL running? scripts/dev-services.sh start)")
}

/// Builds the migrated template once per migration set; returns its name.
async fn ensure_template() -> String {
    let name = format!("sitejobs_tpl_{}", migrations_fingerprint());
    let mut conn = admin().await;
    sqlx::query("SELECT pg_advisory_lock(hashtextextended('sitejobs-test-template', 0))")
        .execute(&mut conn)
        .await
        .expect("template lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .expect("look up template");
    if !exists {
        let building = format!("{name}_build");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {building} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .expect("drop stale template build");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .execute(&mut conn)
            .await
            .expect("create template build");
        {
            let db = service::connect::connect_db(&url_for(&database_url(), &building), 2)
                .await
                .expect("connect to template build");
            Migrator::up(&db, None).await.expect("migrate the template");
            db.close().await.expect("close template connection");
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {building} RENAME TO {name}"
        )))
        .execute(&mut conn)
        .await
        .expect("publish template");
    }
    let _ = conn.close().await;
    name
}

/// A freshly migrated database of one's own, dropped at the end of the test.
pub struct TestDb {
    pub db: DatabaseConnection,
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let template = ensure_template().await;
        let name = format!("sitejobs_test_{}", unique_suffix());
        let mut conn = admin().await;
        let mut tries = 0;
        // Cloning fails while another session is connected to the template; retry briefly.
        while let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name} TEMPLATE {template}"
        )))
        .execute(&mut conn)
        .await
        {
            tries += 1;
            assert!(tries < 50, "create test database: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = conn.close().await;
        let url = url_for(&database_url(), &name);
        let db = service::connect::connect_db(&url, 8)
            .await
            .expect("connect to test database");
        Self { db, name, url }
    }

    /// An empty (unmigrated) database of one's own, for migration tests.
    pub async fn empty() -> Self {
        let name = format!("sitejobs_test_{}", unique_suffix());
        let mut conn = admin().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create empty test database");
        let _ = conn.close().await;
        let url = url_for(&database_url(), &name);
        let db = service::connect::connect_db(&url, 8)
            .await
            .expect("connect to test database");
        Self { db, name, url }
    }

    /// The services a job needs: this database and, if given, Redis.
    pub fn services(&self, redis: Option<&TestRedis>) -> Services {
        Services {
            db: self.db.clone(),
            redis: redis.map(|r| r.conn.clone()),
        }
    }

    /// Runs the built `sitejobs` binary against this database (and Redis if given).
    pub fn cli(&self, redis: Option<&TestRedis>, args: &[&str]) -> Output {
        self.command(redis, args)
            .output()
            .expect("run the sitejobs binary")
    }

    /// The `sitejobs` command [`TestDb::cli`] runs, to add variables or spawn it.
    /// The deploy settings of the developer's shell are not inherited.
    pub fn command(&self, redis: Option<&TestRedis>, args: &[&str]) -> Command {
        let mut cmd = Command::new(sitejobs_bin());
        cmd.args(args)
            .env("DATABASE_URL", &self.url)
            .env("SITEJOBS_LOG", "warn")
            .env_remove("REDIS_URL")
            .env_remove("SITEJOBS_ENV")
            .env_remove("SITEJOBS_ALLOW_DESTRUCTIVE");
        if let Some(r) = redis {
            cmd.env("REDIS_URL", &r.url);
        }
        cmd
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any runtime we can block on: use a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&database_url()).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// The `sitejobs` binary built by `cargo build -p sitejobs` (scripts/test.sh does it).
pub fn sitejobs_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SITEJOBS_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/sitejobs");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p sitejobs` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// The nodes of the test Redis Cluster (scripts/redis-cluster.sh, started by scripts/test.sh).
pub fn redis_cluster_url() -> String {
    std::env::var("REDIS_CLUSTER_URL").expect(
        "REDIS_CLUSTER_URL is not set: run the tests with scripts/test.sh, which starts scripts/redis-cluster.sh",
    )
}

/// A Redis key space of one's own: every key starts with `prefix`, whose hash
/// tag (`test:{<unique>}:`) keeps all of a test's keys in one cluster slot;
/// every key naming the unique part is deleted at the end.
pub struct TestRedis {
    pub conn: service::redis_conn::RedisConn,
    pub url: String,
    pub prefix: String,
    unique: String,
}

impl TestRedis {
    /// On the single Redis of `REDIS_URL`.
    pub async fn new() -> Self {
        Self::at(redis_url()).await
    }

    /// On the Redis Cluster of `REDIS_CLUSTER_URL`.
    pub async fn cluster() -> Self {
        let redis = Self::at(redis_cluster_url()).await;
        assert!(redis.conn.is_cluster(), "{} is not a cluster", redis.url);
        redis
    }

    async fn at(url: String) -> Self {
        let conn = service::connect::connect_redis(&url)
            .await
            .expect("connect to Redis");
        let unique = unique_suffix();
        Self {
            conn,
            url,
            prefix: format!("test:{{{unique}}}:"),
            unique,
        }
    }

    /// A key without a hash tag that is still cleaned up at the end.
    pub fn untagged_key(&self, name: &str) -> String {
        format!("{name}:{}", self.unique)
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let (url, pattern) = (self.url.clone(), format!("*{}*", self.unique));
        // Drop cannot await, and the test's runtime (which drives `self.conn`) is
        // blocked here: clean up with a new connection on a runtime of its own thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(mut conn) = service::connect::connect_redis(&url).await else {
                    return;
                };
                // On a cluster KEYS asks every node; keys of different slots go one DEL each.
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(&pattern)
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                for key in keys {
                    let _: redis::RedisResult<()> =
                        redis::cmd("DEL").arg(key).query_async(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// stdout of a CLI run as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr of a CLI run as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one JSON line a `run` prints.
pub fn json_line(out: &Output) -> serde_json::Value {
    let text = stdout(out);
    let line = text
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no JSON line; stderr: {}", stderr(out)));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// Runs SQL (one or more statements) on a test database, panicking with it on failure.
pub async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The first column of the first row of `sql`, as a bigint (`SELECT count(*) ...`).
pub async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no row"))
        .try_get_by_index::<i64>(0)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Polls `sql` (a count) until it reaches `n`; panics after 60 s.
pub async fn wait_for_count(db: &DatabaseConnection, sql: &str, n: i64) {
    let start = std::time::Instant::now();
    while scalar(db, sql).await < n {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "never reached {n}: {sql}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
