//! Every Redis-using command against a real three-master Redis Cluster
//! (scripts/redis-cluster.sh, `REDIS_CLUSTER_URL`), CONTRACT §7.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use service::jobs::refresh_autocomplete::RefreshAutocomplete;
use service::Strategy;
use tests::{json_line, stderr, stdout, TestDb, TestRedis};

use crate::refresh_autocomplete::{
    generated, insert_titles, members, oracle, owned, refresh_ok, TRICKY,
};

/// Every key of the test's Redis whose name contains `part` (KEYS asks every node).
async fn keys_like(redis: &TestRedis, part: &str) -> Vec<String> {
    let mut conn = redis.conn.clone();
    redis::cmd("KEYS")
        .arg(format!("*{part}*"))
        .query_async(&mut conn)
        .await
        .expect("keys")
}

#[tokio::test]
async fn both_strategies_fill_the_set_on_a_cluster_with_and_without_a_hash_tag() {
    let (t, redis) = (TestDb::new().await, TestRedis::cluster().await);
    let mut titles = owned(TRICKY);
    titles.extend(generated(0, 800));
    insert_titles(&t.db, &titles).await;
    let want = oracle(&t.db, 8).await;
    // `test:{...}:x` has a hash tag; `x:<unique>` has none, so its temporary key gets one.
    let tagged = [redis.key("opt"), redis.key("naive")];
    let untagged = [redis.untagged_key("opt"), redis.untagged_key("naive")];
    for [opt, naive] in [tagged, untagged] {
        for (key, strategy) in [(&opt, Strategy::Optimized), (&naive, Strategy::Naive)] {
            let mut job = RefreshAutocomplete::new(key, 8);
            job.chunk_members = 300;
            let report = refresh_ok(&t, &redis, &job, strategy).await;
            assert_eq!(members(&redis, key).await, want, "{key} {strategy}");
            assert_eq!(report.rows, want.len() as u64);
            // Refreshing over an existing set replaces it in place.
            refresh_ok(&t, &redis, &job, strategy).await;
            assert_eq!(members(&redis, key).await, want, "{key} {strategy} again");
        }
    }
    // No temporary key of this test is left (other tests run beside it).
    let unique = redis.untagged_key("");
    let left: Vec<String> = keys_like(&redis, ":tmp:")
        .await
        .into_iter()
        .filter(|k| k.contains(&unique) || k.starts_with(&redis.prefix))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn cli_run_and_suggest_work_given_every_node_or_just_one() {
    let (t, redis) = (TestDb::new().await, TestRedis::cluster().await);
    insert_titles(&t.db, &owned(TRICKY)).await;
    let key = redis.untagged_key("ac");
    for strategy in ["naive", "optimized"] {
        let out = t.cli(
            Some(&redis),
            &[
                "run",
                "refresh-autocomplete",
                "--key",
                &key,
                "--strategy",
                strategy,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(json_line(&out)["rows"], oracle(&t.db, 8).await.len());
    }
    assert_eq!(members(&redis, &key).await, oracle(&t.db, 8).await);
    // Each node alone is enough: the client learns the rest of the cluster from it.
    for node in tests::redis_cluster_url().split(',') {
        let out = t.cli(
            Some(&redis),
            &[
                "autocomplete",
                "suggest",
                "  HEL",
                "--key",
                &key,
                "--redis-url",
                node,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{node}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "hel\nhell\nhello\nhello \nhello t\nhello th\nhello w\nhello wo\n",
            "{node}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_on_a_cluster_never_sees_a_partial_set_and_temp_keys_keep_the_tag() {
    let (t, redis) = (TestDb::new().await, TestRedis::cluster().await);
    let key = redis.key("{live}");
    insert_titles(&t.db, &generated(0, 1000)).await;
    let job = RefreshAutocomplete::new(&key, 8);
    let mut old = refresh_ok(&t, &redis, &job, Strategy::Optimized).await.rows as i64;
    let mut from = 1000;
    for strategy in [Strategy::Naive, Strategy::Optimized] {
        insert_titles(&t.db, &generated(from, 1000)).await;
        from += 1000;
        let stop = Arc::new(AtomicBool::new(false));
        // The reader says when it is connected: the refresh starts only then,
        // so its polls cover the whole refresh, however fast that is.
        let (ready, connected) = tokio::sync::oneshot::channel();
        let reader = {
            let (stop, key, url) = (stop.clone(), key.clone(), redis.url.clone());
            tokio::spawn(async move {
                let mut conn = service::connect::connect_redis(&url).await.expect("reader");
                let _ = ready.send(());
                let (mut sizes, mut temps) = (Vec::new(), Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let n: i64 = redis::cmd("ZCARD")
                        .arg(&key)
                        .query_async(&mut conn)
                        .await
                        .expect("zcard");
                    sizes.push(n);
                    let found: Vec<String> = redis::cmd("KEYS")
                        .arg(format!("{key}*:tmp:*"))
                        .query_async(&mut conn)
                        .await
                        .expect("keys");
                    temps.extend(found);
                }
                (sizes, temps)
            })
        };
        connected.await.expect("reader connected");
        let mut job = RefreshAutocomplete::new(&key, 8);
        job.chunk_members = 200;
        let new = refresh_ok(&t, &redis, &job, strategy).await.rows as i64;
        stop.store(true, Ordering::Relaxed);
        let (sizes, temps) = reader.await.expect("reader task");
        assert!(new > old);
        assert!(
            sizes.len() > 10,
            "{strategy}: polled only {} times",
            sizes.len()
        );
        let bad: Vec<_> = sizes.iter().filter(|&&n| n != old && n != new).collect();
        assert!(
            bad.is_empty(),
            "{strategy}: saw {bad:?}, old {old}, new {new}"
        );
        assert!(sizes.contains(&old), "{strategy}: never saw the old set");
        if strategy == Strategy::Naive {
            assert!(
                !temps.is_empty(),
                "the slow naive run should show its temporary key"
            );
        }
        // The live key's own tag `{` ... `}` (the prefix's) stays first in the temporary key.
        assert!(
            temps.iter().all(|k| k.starts_with(&format!("{key}:tmp:"))),
            "{temps:?}"
        );
        old = new;
    }
}

#[tokio::test]
async fn incremental_refreshes_on_a_cluster_equal_a_full_refresh() {
    let (t, redis) = (TestDb::new().await, TestRedis::cluster().await);
    crate::incremental_autocomplete::property(&t, &redis, 7, 12)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}
