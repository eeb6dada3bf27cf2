//! What a job sees while it runs: connections that count every statement and
//! command sent through them, and a progress reporter.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sea_orm::sqlx::PgConnection;
use sea_orm::DatabaseConnection;
use tokio::sync::Mutex;

use super::session::Session;

use super::Strategy;
use crate::error::JobError;
use crate::progress::Progress;
use crate::redis_count::CountingRedis;

/// The servers a run may use. Redis is optional: only jobs that need it connect.
#[derive(Clone)]
pub struct Services {
    /// The database pool.
    pub db: DatabaseConnection,
    /// A Redis connection, when one is configured and the job needs it.
    pub redis: Option<crate::redis_conn::RedisConn>,
}

/// What a job sees while it runs: counting connections and a progress reporter.
pub struct JobContext {
    db: DatabaseConnection,
    redis: Option<CountingRedis>,
    db_statements: Arc<AtomicU64>,
    redis_commands: Arc<AtomicU64>,
    session: Arc<Mutex<PgConnection>>,
    /// Statements a job left for the run's last message ([`Session::commit_with_run`]).
    with_run: std::sync::Mutex<Vec<String>>,
    /// The strategy this run uses.
    pub strategy: Strategy,
    quiet: bool,
}

impl JobContext {
    /// A context whose connections count every statement and command sent
    /// through them; `session` is the run's own connection (its lock's).
    pub(crate) fn new(
        services: &Services,
        strategy: Strategy,
        session: Arc<Mutex<PgConnection>>,
    ) -> Self {
        let db_statements = Arc::new(AtomicU64::new(0));
        let redis_commands = Arc::new(AtomicU64::new(0));
        // A clone with its own callback shares the pool but counts only its own statements.
        let mut db = services.db.clone();
        let counter = db_statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let redis = services
            .redis
            .clone()
            .map(|conn| CountingRedis::new(conn, redis_commands.clone()));
        Self {
            db,
            redis,
            db_statements,
            redis_commands,
            session,
            with_run: std::sync::Mutex::new(Vec::new()),
            strategy,
            quiet: false,
        }
    }

    /// Hide progress output (tests, benchmarks' children keep their logs).
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// The counting database connection: every statement sent through it (or a
    /// transaction begun on it) is counted.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The run's own connection, counted like [`db`](Self::db): the one that
    /// holds the run's lock and writes its history, idle while the job runs.
    /// A short job of a few statements sends them here to have them all on
    /// one server process, which loads each table's catalog once, in one
    /// round trip each; see [`Session`]. One at a time: a second call waits
    /// until the first session is dropped.
    pub async fn session(&self) -> Session<'_> {
        Session::new(
            self.session.lock().await,
            &self.db_statements,
            &self.with_run,
        )
    }

    /// The statements left by [`Session::commit_with_run`], in order, for
    /// the runner to send with the run's last write.
    pub(crate) fn take_commit_with_run(&self) -> Vec<String> {
        std::mem::take(&mut *self.with_run.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A counting Redis connection (cheap to clone), or an error when none is configured.
    pub fn redis(&self) -> Result<CountingRedis, JobError> {
        self.redis.clone().ok_or(JobError::NoRedis)
    }

    /// Counts statements sent outside SeaORM (a raw `COPY` on the sqlx pool).
    pub fn count_statements(&self, n: u64) {
        self.db_statements.fetch_add(n, Ordering::Relaxed);
    }

    /// SQL statements sent so far.
    pub fn db_statements(&self) -> u64 {
        self.db_statements.load(Ordering::Relaxed)
    }

    /// Redis commands sent so far (a pipeline of N counts N).
    pub fn redis_commands(&self) -> u64 {
        self.redis_commands.load(Ordering::Relaxed)
    }

    /// A progress reporter for `total` units (bar on a terminal, log lines otherwise).
    pub fn progress(&self, label: &str, total: Option<u64>) -> Progress {
        if self.quiet {
            Progress::hidden(label)
        } else {
            Progress::new(label, total)
        }
    }
}
