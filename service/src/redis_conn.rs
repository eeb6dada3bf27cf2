//! One Redis connection type for a single server and for a Redis Cluster
//! (CONTRACT §7), so every job and `autocomplete suggest` run unchanged on both.
//! The cluster side is the redis crate's own `cluster-async` client: it keeps
//! the slot map, follows `MOVED`/`ASK` redirects and routes each command (and
//! each single-slot pipeline) to the node that owns its key, which a
//! hand-written router would have to re-learn the hard way.
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// A connection to one Redis server or to a cluster; cheap to clone (both
/// variants multiplex one socket per node).
#[derive(Clone)]
pub enum RedisConn {
    /// One server (or a replica set's primary), one multiplexed socket.
    Single(MultiplexedConnection),
    /// A Redis Cluster: the crate's client routes by hash slot.
    Cluster(ClusterConnection),
}

impl RedisConn {
    /// Whether this is a cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// The URLs of a `REDIS_URL` that may name several cluster nodes
/// (`redis://a:7000,redis://b:7000`), blanks dropped.
pub fn split_urls(urls: &str) -> Vec<&str> {
    crate::secrets::split_urls(urls)
        .into_iter()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

/// Whether an `INFO cluster` reply says the server runs in cluster mode.
pub fn says_cluster(info: &str) -> bool {
    info.lines().any(|l| l.trim() == "cluster_enabled:1")
}

/// The Redis Cluster hash slot of `key`: CRC16 (XMODEM) of its hash tag (the
/// text between the first `{` and the next `}`, when not empty) or of the whole key.
pub fn slot(key: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(hash_tag(key).unwrap_or(key)) % 16384
}

/// The hash tag of `key`, if it has one.
pub fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let len = key[open + 1..].iter().position(|&b| b == b'}')?;
    (len > 0).then(|| &key[open + 1..open + 1 + len])
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn hash_tags_follow_the_cluster_spec() {
        assert_eq!(hash_tag(b"{user1000}.following"), Some(&b"user1000"[..]));
        assert_eq!(hash_tag(b"foo{}{bar}"), None);
        assert_eq!(hash_tag(b"foo{{bar}}zap"), Some(&b"{bar"[..]));
        assert_eq!(hash_tag(b"foo{bar}{zap}"), Some(&b"bar"[..]));
        assert_eq!(hash_tag(b"autocomplete"), None);
        // Known slots from the cluster specification's examples.
        assert_eq!(slot(b"123456789"), 0x31C3);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
    }

    #[test]
    fn urls_split_on_commas_and_info_is_read() {
        assert_eq!(
            split_urls("redis://a:1, redis://b:2,"),
            ["redis://a:1", "redis://b:2"]
        );
        assert!(says_cluster("# Cluster\r\ncluster_enabled:1\r\n"));
        assert!(!says_cluster("# Cluster\r\ncluster_enabled:0\r\n"));
    }
}
