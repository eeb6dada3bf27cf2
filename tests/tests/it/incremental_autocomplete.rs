//! `refresh-autocomplete --incremental` (contract, section 6): after random
//! title writes, by several writers, some during the run, the set equals a
//! full refresh's; with one trigger disabled the same check fails; a reader
//! sees the set before or after; commands and statements grow with changes.
use entity::video;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, Statement};
use service::jobs::refresh_autocomplete::RefreshAutocomplete;
use service::{run_job, RunOptions, RunReport, RunStatus, Strategy};
use tests::{exec, scalar, TestDb, TestRedis};

use crate::incremental_denormalize::Rng;

/// Pieces titles are made of: shared prefixes are common, case and accents
/// (precomposed and combining) fold or not, spaces trim, CJK and emoji cut on code points.
const PIECES: [&str; 12] = [
    "a", "ab", "B", "é", "e\u{301}", " ", "東", "🎬", "Ä", "x", "ab ", "ß",
];

fn title(rng: &mut Rng) -> String {
    (0..rng.below(6))
        .map(|_| PIECES[rng.below(PIECES.len())])
        .collect()
}

fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

async fn ids(db: &DatabaseConnection) -> Vec<i64> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT id FROM videos ORDER BY id",
    ))
    .await
    .expect("video ids")
    .iter()
    .map(|r| r.try_get_by_index::<i64>(0).expect("id"))
    .collect()
}

/// One random title write: single or bulk, SQL or the ORM's `insert_many`;
/// a video renamed twice, or renamed and deleted, in one transaction; a
/// video given a new id; one deleted and its id reused at once.
async fn random_write(db: &DatabaseConnection, rng: &mut Rng) {
    let videos = ids(db).await;
    let v = rng.pick(&videos);
    match (rng.below(10), v) {
        (0, _) => {
            exec(
                db,
                &format!(
                    "INSERT INTO videos (title) VALUES ({})",
                    quoted(&title(rng))
                ),
            )
            .await
        }
        (1, _) => {
            let models: Vec<_> = (0..3)
                .map(|_| video::ActiveModel {
                    title: Set(title(rng)),
                    ..Default::default()
                })
                .collect();
            video::Entity::insert_many(models)
                .exec(db)
                .await
                .expect("insert_many videos");
        }
        (2, Some(v)) => {
            exec(
                db,
                &format!(
                    "UPDATE videos SET title = {} WHERE id = {v}",
                    quoted(&title(rng))
                ),
            )
            .await
        }
        (3, Some(v)) => exec(db, &format!("DELETE FROM videos WHERE id = {v}")).await,
        (4, _) => {
            exec(
                db,
                "UPDATE videos SET title = upper(title) WHERE id % 3 = 0",
            )
            .await
        }
        (5, _) => {
            exec(
                db,
                "DELETE FROM videos WHERE id % 5 = 1 AND id > (SELECT max(id) - 10 FROM videos)",
            )
            .await
        }
        (6, Some(v)) => video::Entity::delete_by_id(v)
            .exec(db)
            .await
            .map(|_| ())
            .expect("delete video"),
        (7, Some(v)) => {
            let (a, b) = (quoted(&title(rng)), quoted(&title(rng)));
            let then = if rng.below(2) == 0 {
                format!("UPDATE videos SET title = {b} WHERE id = {v}")
            } else {
                format!("DELETE FROM videos WHERE id = {v}")
            };
            exec(
                db,
                &format!("BEGIN; UPDATE videos SET title = {a} WHERE id = {v}; {then}; COMMIT"),
            )
            .await
        }
        (8, Some(v)) => {
            exec(
                db,
                &format!("UPDATE videos SET id = id + 1000000 WHERE id = {v}"),
            )
            .await
        }
        (9, Some(v)) => {
            exec(
                db,
                &format!(
                    "BEGIN; DELETE FROM videos WHERE id = {v}; \
                     INSERT INTO videos (id, title) VALUES ({v}, {}); COMMIT",
                    quoted(&title(rng))
                ),
            )
            .await
        }
        _ => {}
    }
}

/// What a full refresh writes, computed by PostgreSQL alone.
async fn expected(db: &DatabaseConnection, max: usize) -> Vec<String> {
    let sql = format!(
        "SELECT DISTINCT left(t, n) COLLATE \"C\" AS p
         FROM (SELECT btrim(lower(title)) AS t FROM videos) v, generate_series(1, {max}) n
         WHERE char_length(t) >= n ORDER BY p"
    );
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("oracle")
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("text"))
        .collect()
}

async fn members(redis: &TestRedis, key: &str) -> Vec<String> {
    let mut conn = redis.conn.clone();
    let mut got: Vec<Vec<u8>> = redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .expect("zrange");
    got.sort();
    got.into_iter()
        .map(|m| String::from_utf8(m).expect("utf-8"))
        .collect()
}

fn job(redis: &TestRedis, max_prefix: usize) -> RefreshAutocomplete {
    let mut job = RefreshAutocomplete::new(redis.key("ac"), max_prefix);
    job.incremental = true;
    job
}

async fn run(db: &DatabaseConnection, redis: &TestRedis, job: &RefreshAutocomplete) -> RunReport {
    let opts = RunOptions {
        strategy: Strategy::Optimized,
        quiet: true,
        ..Default::default()
    };
    let services = service::Services {
        db: db.clone(),
        redis: Some(redis.conn.clone()),
    };
    let report = run_job(&services, job, &opts).await.expect("not bad input");
    assert_eq!(report.status, RunStatus::Ok, "{report:?}");
    report
}

/// Rounds of random writes, each followed by an incremental refresh compared
/// with a full refresh; every fourth round has a second writer during the run
/// (the next run must pick up what that one missed). Returns the first difference.
pub(crate) async fn property(
    t: &TestDb,
    redis: &TestRedis,
    seed: u64,
    rounds: usize,
) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let max = 3 + rng.below(4);
    for _ in 0..20 {
        random_write(&t.db, &mut rng).await;
    }
    let job = job(redis, max);
    for round in 0..rounds {
        for _ in 0..1 + rng.below(4) {
            random_write(&t.db, &mut rng).await;
        }
        if round % 4 == 3 {
            let (db, mut writer_rng) = (t.db.clone(), Rng::new(seed ^ round as u64));
            let writer = tokio::spawn(async move {
                for _ in 0..4 {
                    random_write(&db, &mut writer_rng).await;
                }
            });
            run(&t.db, redis, &job).await;
            writer.await.map_err(|e| e.to_string())?;
        }
        let report = run(&t.db, redis, &job).await;
        let (got, want) = (members(redis, &job.key).await, expected(&t.db, max).await);
        if got != want {
            return Err(format!(
                "seed {seed}, round {round}, max {max}: {report:?}\n got {got:?}\nwant {want:?}"
            ));
        }
        if report.rows != want.len() as u64 {
            return Err(format!("rows {} for {} members", report.rows, want.len()));
        }
    }
    Ok(())
}

#[tokio::test]
async fn incremental_refreshes_equal_a_full_refresh_after_random_writes() {
    for seed in [1, 2, 3] {
        let (t, redis) = (TestDb::new().await, TestRedis::new().await);
        property(&t, &redis, seed, 40)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            scalar(&t.db, "SELECT count(*) FROM autocomplete_changes").await,
            0
        );
    }
}

#[tokio::test]
async fn the_property_test_fails_when_a_videos_trigger_is_disabled() {
    for trigger in [
        "autocomplete_log_videos_insert",
        "autocomplete_log_videos_update",
        "autocomplete_log_videos_delete",
    ] {
        let mut failed = false;
        for seed in [1, 2, 3, 4] {
            let (t, redis) = (TestDb::new().await, TestRedis::new().await);
            exec(
                &t.db,
                &format!("ALTER TABLE videos DISABLE TRIGGER {trigger}"),
            )
            .await;
            if property(&t, &redis, seed, 40).await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(
            failed,
            "{trigger} disabled, yet every refresh matched a full one"
        );
    }
}

#[tokio::test]
async fn removing_a_title_keeps_the_prefixes_other_titles_share() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    exec(
        &t.db,
        "INSERT INTO videos (title) VALUES ('Abba'), ('Abc'), ('b')",
    )
    .await;
    let job = job(&redis, 8);
    let first = run(&t.db, &redis, &job).await;
    assert_eq!(first.details["incremental"], false, "{first:?}");
    assert!(first.details["full_reason"].as_str().is_some(), "{first:?}");
    exec(
        &t.db,
        "DELETE FROM videos WHERE title = 'Abba'; UPDATE videos SET title = 'c' WHERE title = 'b'",
    )
    .await;
    let report = run(&t.db, &redis, &job).await;
    assert_eq!(report.details["incremental"], true, "{report:?}");
    assert_eq!(members(&redis, &job.key).await, ["a", "ab", "abc", "c"]);
    assert_eq!((report.rows, report.redis_commands), (4, 1), "one EVAL");
    // Nothing changed: one small read, no Redis command.
    let idle = run(&t.db, &redis, &job).await;
    assert_eq!(
        (idle.db_statements, idle.redis_commands, idle.rows),
        (1, 0, 4)
    );
}

/// Titles the log shows a video holds now need no index probe; the others
/// (gone from a video, or whose video took and left them) are looked up.
#[tokio::test]
async fn only_titles_no_video_is_known_to_hold_are_looked_up() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    exec(&t.db, "INSERT INTO videos (title) VALUES ('Abba'), ('Abc')").await;
    let job = job(&redis, 8);
    run(&t.db, &redis, &job).await;
    let looked = |r: &RunReport| r.details["titles_looked_up"].as_u64();
    // New videos: no probe.
    exec(
        &t.db,
        "INSERT INTO videos (title) VALUES ('Bob'), ('Bobby'), ('  bob ')",
    )
    .await;
    let inserted = run(&t.db, &redis, &job).await;
    assert_eq!(looked(&inserted), Some(0), "{inserted:?}");
    // A rename: the old title only.
    exec(
        &t.db,
        "UPDATE videos SET title = 'Abe' WHERE title = 'Abba'",
    )
    .await;
    let renamed = run(&t.db, &redis, &job).await;
    assert_eq!(looked(&renamed), Some(1), "{renamed:?}");
    // Renamed there and back in one transaction: the video holds its title
    // as before, which the log alone cannot tell from never having left it,
    // and the title it held in between; both are looked up.
    exec(
        &t.db,
        "BEGIN; UPDATE videos SET title = 'Zed' WHERE title = 'Abe'; \
         UPDATE videos SET title = 'Abe' WHERE title = 'Zed'; COMMIT",
    )
    .await;
    let back = run(&t.db, &redis, &job).await;
    assert_eq!(looked(&back), Some(2), "{back:?}");
    // Deleted: looked up.
    exec(&t.db, "DELETE FROM videos WHERE title = 'Bobby'").await;
    let deleted = run(&t.db, &redis, &job).await;
    assert_eq!(looked(&deleted), Some(1), "{deleted:?}");
    assert_eq!(members(&redis, &job.key).await, expected(&t.db, 8).await);
}

#[tokio::test]
async fn a_live_set_that_is_not_the_last_refreshs_falls_back_to_a_full_refresh() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    exec(&t.db, "INSERT INTO videos (title) VALUES ('Abba'), ('Abc')").await;
    let job = job(&redis, 8);
    run(&t.db, &redis, &job).await;
    // Redis lost the set (a restart without persistence, say), and a title changed.
    let mut conn = redis.conn.clone();
    let _: i64 = redis::cmd("DEL")
        .arg(&job.key)
        .query_async(&mut conn)
        .await
        .expect("del");
    exec(&t.db, "INSERT INTO videos (title) VALUES ('x')").await;
    let report = run(&t.db, &redis, &job).await;
    let reason = report.details["full_reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("live set holds 0 members"), "{report:?}");
    assert_eq!(members(&redis, &job.key).await, expected(&t.db, 8).await);
    // Another key or max-prefix took the log in between: a full refresh, too.
    let mut other = RefreshAutocomplete::new(redis.key("other"), 8);
    other.incremental = true;
    run(&t.db, &redis, &other).await;
    exec(&t.db, "INSERT INTO videos (title) VALUES ('y')").await;
    let back = run(&t.db, &redis, &job).await;
    assert_eq!(back.details["incremental"], false, "{back:?}");
    assert_eq!(members(&redis, &job.key).await, expected(&t.db, 8).await);
}

#[tokio::test]
async fn more_changes_than_max_changes_refresh_in_full_with_the_swap() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    exec(&t.db, "INSERT INTO videos (title) VALUES ('Abba')").await;
    let mut job = job(&redis, 8);
    run(&t.db, &redis, &job).await;
    exec(
        &t.db,
        "INSERT INTO videos (title) SELECT 'v' || i FROM generate_series(1, 5) i",
    )
    .await;
    job.max_changes = 4;
    let report = run(&t.db, &redis, &job).await;
    let reason = report.details["full_reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("more than 4"), "{report:?}");
    assert!(
        report.details["zadd_commands"].as_u64().is_some(),
        "the full path ran: {report:?}"
    );
    assert_eq!(members(&redis, &job.key).await, expected(&t.db, 8).await);
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM autocomplete_changes").await,
        0
    );
}

/// 300 or 3,000 titles, 5 or 50 changed: the same two statements (one decides,
/// reads the log and probes its titles' neighbours; one deletes the entries
/// applied and records the size) and one EVAL.
#[tokio::test]
async fn incremental_commands_grow_with_changes_not_with_the_titles() {
    let mut seen = Vec::new();
    for (titles, changes) in [(300, 5), (3000, 5), (3000, 50)] {
        let (t, redis) = (TestDb::new().await, TestRedis::new().await);
        exec(&t.db, &format!("INSERT INTO videos (title) SELECT 'title ' || i FROM generate_series(1, {titles}) i")).await;
        let job = job(&redis, 8);
        run(&t.db, &redis, &job).await;
        exec(
            &t.db,
            &format!("UPDATE videos SET title = 'changed ' || id WHERE id <= {changes}"),
        )
        .await;
        let report = run(&t.db, &redis, &job).await;
        assert_eq!(
            report.details["changes"],
            2 * changes,
            "old and new title of each"
        );
        assert_eq!(members(&redis, &job.key).await, expected(&t.db, 8).await);
        seen.push((report.db_statements, report.redis_commands));
    }
    assert_eq!(seen, [(2, 1), (2, 1), (2, 1)]);
}

/// A reader polling during incremental runs sees the old set or the new one.
#[tokio::test]
async fn a_reader_sees_the_set_before_or_after_an_incremental_run() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    exec(
        &t.db,
        "INSERT INTO videos (title) SELECT 'title ' || i FROM generate_series(1, 2000) i",
    )
    .await;
    let job = job(&redis, 8);
    run(&t.db, &redis, &job).await;
    let before = members(&redis, &job.key).await;
    exec(&t.db, "DELETE FROM videos WHERE id % 2 = 0; INSERT INTO videos (title) SELECT 'other ' || i FROM generate_series(1, 500) i").await;
    let after = expected(&t.db, 8).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (reader_redis, key, flag) = (redis.conn.clone(), job.key.clone(), stop.clone());
    let reader = tokio::spawn(async move {
        let mut conn = reader_redis;
        let mut sizes = Vec::new();
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let n: u64 = redis::cmd("ZCARD")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .expect("zcard");
            sizes.push(n);
            tokio::task::yield_now().await;
        }
        sizes
    });
    let report = run(&t.db, &redis, &job).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sizes = reader.await.expect("reader");
    assert_eq!(report.details["incremental"], true, "{report:?}");
    assert_eq!(members(&redis, &job.key).await, after);
    for n in sizes {
        assert!(
            n == before.len() as u64 || n == after.len() as u64,
            "saw {n} members"
        );
    }
}

/// Keeps the Redis server busy for about a second (a script runs alone).
const BUSY_SCRIPT: &str = r"
local t0 = redis.call('TIME')
while true do
  local t = redis.call('TIME')
  if (tonumber(t[1]) - tonumber(t0[1])) * 1000000 + tonumber(t[2]) - tonumber(t0[2]) > 1000000 then
    return 1
  end
end
";

/// A run reads the log, applies it in Redis, then deletes the entries it
/// read. A title written in between (here while Redis is busy and the run
/// waits for its `EVAL`) is not lost with them: the next run applies it.
#[tokio::test]
async fn a_title_written_while_the_run_waits_for_redis_is_applied_by_the_next_run() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    exec(&t.db, "INSERT INTO videos (title) VALUES ('Abba'), ('Abc')").await;
    let job = job(&redis, 8);
    run(&t.db, &redis, &job).await;
    exec(
        &t.db,
        "UPDATE videos SET title = 'Bob' WHERE title = 'Abba'",
    )
    .await;
    let busy = async {
        let mut conn = redis.conn.clone();
        redis::cmd("EVAL")
            .arg(BUSY_SCRIPT)
            .arg(0)
            .query_async::<i64>(&mut conn)
            .await
            .expect("busy script");
    };
    let incremental = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        run(&t.db, &redis, &job).await
    };
    let writer = async {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        exec(&t.db, "INSERT INTO videos (title) VALUES ('Zed')").await;
    };
    let ((), first, ()) = tokio::join!(busy, incremental, writer);
    assert_eq!(first.details["incremental"], true, "{first:?}");
    let second = run(&t.db, &redis, &job).await;
    assert_eq!(second.details["incremental"], true, "{second:?}");
    assert_eq!(members(&redis, &job.key).await, expected(&t.db, 8).await);
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM autocomplete_changes").await,
        0
    );
}

/// `sitejobs run refresh-autocomplete --incremental` opens two database
/// connections: the check that the server answers, and the run's own, where
/// all its statements go. A full refresh also opens the pool's two.
#[tokio::test]
async fn an_incremental_run_opens_only_its_own_connection() {
    use sea_orm::sqlx::{Connection, PgConnection, Row};
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    exec(
        &t.db,
        "INSERT INTO videos (title) SELECT 'title ' || i FROM generate_series(1, 50) i",
    )
    .await;
    let key = redis.key("ac");
    // One connection of our own for every look, opened before the first.
    let mut watch = PgConnection::connect(&t.url).await.expect("connect");
    async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
        sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(sql))
            .fetch_one(conn)
            .await
            .expect("query")
            .get::<i64, _>(0)
    }
    let sessions = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()";
    // Other than the test's pool and this one, nobody is connected.
    let others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                  AND backend_type = 'client backend' AND pid <> pg_backend_pid()";
    let idle = count(&mut watch, others).await;
    let mut opened = Vec::new();
    for incremental in [false, true] {
        let before = count(&mut watch, sessions).await;
        let mut args = vec!["run", "refresh-autocomplete", "--key", &key];
        if incremental {
            args.push("--incremental");
        }
        let out = t.cli(Some(&redis), &args);
        assert_eq!(out.status.code(), Some(0), "{}", tests::stderr(&out));
        // The run's server processes report as they exit.
        let start = std::time::Instant::now();
        while count(&mut watch, others).await > idle {
            assert!(start.elapsed() < std::time::Duration::from_secs(10));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        opened.push(count(&mut watch, sessions).await - before);
        exec(
            &t.db,
            "UPDATE videos SET title = 'changed ' || id WHERE id <= 3",
        )
        .await;
    }
    assert_eq!(opened, [4, 2], "full, then incremental");
}
