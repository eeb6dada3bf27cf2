//! A Redis connection that counts the commands it sends, so a job's result can
//! say how many it used (a pipeline of N commands counts N; MULTI/EXEC count too).
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::redis_conn::RedisConn;

/// A [`RedisConn`] (one server or a cluster) that adds every command it sends
/// to a shared counter; its clones share the counter.
#[derive(Clone)]
pub struct CountingRedis {
    inner: RedisConn,
    count: Arc<AtomicU64>,
}

impl CountingRedis {
    /// Wraps `inner`, counting into `count` (one counter per run, shared by its connections).
    pub fn new(inner: RedisConn, count: Arc<AtomicU64>) -> Self {
        Self { inner, count }
    }

    /// Commands counted so far, by this connection and every other sharing its counter.
    pub fn commands(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl ConnectionLike for CountingRedis {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inner.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        // An atomic pipeline also sends MULTI and EXEC, which `offset` and `count` account for.
        let sent = pipeline.len() as u64 + if offset > 0 { 2 } else { 0 };
        self.count.fetch_add(sent, Ordering::Relaxed);
        self.inner.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}
