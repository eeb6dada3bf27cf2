//! `refresh-autocomplete` and `autocomplete suggest` against real PostgreSQL and Redis.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use entity::video;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, Statement};
use service::jobs::refresh_autocomplete::{swap, RefreshAutocomplete};
use service::{run_job, RunOptions, RunReport, RunStatus, Strategy};
use tests::{json_line, stderr, stdout, TestDb, TestRedis};

/// Titles that exercise the normalisation: case beyond ASCII, accents (precomposed
/// and combining), CJK, emoji, spaces around and inside, tabs (btrim keeps them),
/// empty and all-space titles, titles shorter than the maximum, duplicates.
pub(crate) const TRICKY: &[&str] = &[
    "  Hello World  ",
    "hello world",
    "HELLO there",
    "Crème Brûlée recipe",
    "Cre\u{0301}me with a combining accent",
    "ΣΟΦΙΑ and Σ",
    "İstanbul night",
    "東京タワーの夜景 4K",
    "東京",
    "🎬🍿 movie night",
    "👩‍👩‍👧 family",
    "\tTabbed title\t",
    "",
    "     ",
    "a",
    "Ab",
    "STRAßE",
    "ÉCOLE",
];

pub(crate) async fn insert_titles(db: &DatabaseConnection, titles: &[String]) {
    for chunk in titles.chunks(10_000) {
        let models = chunk.iter().map(|t| video::ActiveModel {
            title: Set(t.clone()),
            ..Default::default()
        });
        video::Entity::insert_many(models)
            .exec(db)
            .await
            .expect("insert videos");
    }
}

pub(crate) fn owned(titles: &[&str]) -> Vec<String> {
    titles.iter().map(|t| (*t).to_owned()).collect()
}

/// Hex-ish titles with many distinct prefixes.
pub(crate) fn generated(from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| {
            format!(
                "{:08x} Vidéo {i}",
                (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
            )
        })
        .collect()
}

/// The contract computed by PostgreSQL alone: every `left(btrim(lower(title)), n)`,
/// n from 1 to `max`, in byte order.
pub(crate) async fn oracle(db: &DatabaseConnection, max: usize) -> Vec<String> {
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

/// Members of `key` in byte order, asserting every score is 0.
pub(crate) async fn members(redis: &TestRedis, key: &str) -> Vec<String> {
    let mut conn = redis.conn.clone();
    let with_scores: Vec<(Vec<u8>, f64)> = redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .expect("zrange");
    with_scores
        .into_iter()
        .map(|(m, score)| {
            assert_eq!(score, 0.0);
            String::from_utf8(m).expect("utf-8 member")
        })
        .collect()
}

async fn redis_int(redis: &TestRedis, cmd: &str, key: &str) -> i64 {
    let mut conn = redis.conn.clone();
    redis::cmd(cmd)
        .arg(key)
        .query_async(&mut conn)
        .await
        .expect(cmd)
}

async fn keys(redis: &TestRedis, pattern: &str) -> Vec<String> {
    let mut conn = redis.conn.clone();
    redis::cmd("KEYS")
        .arg(redis.key(pattern))
        .query_async(&mut conn)
        .await
        .expect("keys")
}

async fn refresh(
    t: &TestDb,
    redis: &TestRedis,
    job: &RefreshAutocomplete,
    strategy: Strategy,
) -> RunReport {
    let opts = RunOptions {
        strategy,
        quiet: true,
        ..Default::default()
    };
    run_job(&t.services(Some(redis)), job, &opts)
        .await
        .expect("not bad input")
}

pub(crate) async fn refresh_ok(
    t: &TestDb,
    redis: &TestRedis,
    job: &RefreshAutocomplete,
    strategy: Strategy,
) -> RunReport {
    let report = refresh(t, redis, job, strategy).await;
    assert_eq!(report.status, RunStatus::Ok, "{report:?}");
    report
}

#[tokio::test]
async fn both_strategies_write_exactly_the_prefixes_postgresql_defines() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    insert_titles(&t.db, &owned(TRICKY)).await;
    let want = oracle(&t.db, 8).await;
    for (strategy, name) in [(Strategy::Optimized, "opt"), (Strategy::Naive, "naive")] {
        let key = redis.key(name);
        let report = refresh_ok(&t, &redis, &RefreshAutocomplete::new(&key, 8), strategy).await;
        let got = members(&redis, &key).await;
        assert_eq!(got, want, "{strategy}");
        assert_eq!(report.rows, got.len() as u64, "rows = distinct members");
        assert_eq!(
            report.db_statements, 3,
            "take the change log, one SELECT, record the state"
        );
        // The live key keeps no expiry from its temporary life, and no temporary key is left.
        assert_eq!(redis_int(&redis, "TTL", &key).await, -1);
    }
    assert!(keys(&redis, "*:tmp:*").await.is_empty());
    // A few spelled out, independent of the oracle.
    let got = members(&redis, &redis.key("opt")).await;
    for m in [
        "h",
        "hello w",
        "hello t",
        "a",
        "ab",
        "東京",
        "東京タワーの夜景",
        "🎬🍿 movie",
        "\ttabbed ",
        "straße",
        "école",
        "σοφια an",
        "cre\u{301}me w",
    ] {
        assert!(got.iter().any(|g| g == m), "{m:?} missing");
    }
    for m in ["", " ", "hello wo ", "Hello", "\ttabbed t"] {
        assert!(!got.iter().any(|g| g == m), "{m:?} should not be there");
    }
    // Combining marks are code points of their own: "e" then "e\u{301}" are both prefixes.
    assert!(got.iter().any(|g| g == "cre") && got.iter().any(|g| g == "cre\u{301}"));
    // Code points, never bytes: no member is cut inside a character and none exceeds 8.
    assert!(got.iter().all(|g| (1..=8).contains(&g.chars().count())));
}

#[tokio::test]
async fn max_prefix_other_than_8_is_honoured() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    insert_titles(&t.db, &owned(TRICKY)).await;
    for max in [1, 3, 12] {
        let key = redis.key(&format!("m{max}"));
        let out = t.cli(
            Some(&redis),
            &[
                "run",
                "refresh-autocomplete",
                "--key",
                &key,
                "--max-prefix",
                &max.to_string(),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let line = json_line(&out);
        assert_eq!(line["params"]["max_prefix"], max);
        let got = members(&redis, &key).await;
        assert_eq!(got, oracle(&t.db, max).await, "max {max}");
        assert_eq!(line["rows"], got.len());
        let naive = redis.key(&format!("n{max}"));
        let mut job = RefreshAutocomplete::new(&naive, max);
        job.chunk_members = 5;
        refresh_ok(&t, &redis, &job, Strategy::Naive).await;
        assert_eq!(members(&redis, &naive).await, got);
    }
    let out = t.cli(
        Some(&redis),
        &[
            "run",
            "refresh-autocomplete",
            "--key",
            &redis.key("x"),
            "--max-prefix",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).is_empty() && stderr(&out).contains("max-prefix"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_never_sees_the_set_missing_or_smaller_during_a_refresh() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    let key = redis.key("live");
    insert_titles(&t.db, &generated(0, 1500)).await;
    let job = RefreshAutocomplete::new(&key, 8);
    let mut old = refresh_ok(&t, &redis, &job, Strategy::Optimized).await.rows as i64;
    let mut from = 1500;
    for strategy in [Strategy::Naive, Strategy::Optimized] {
        insert_titles(&t.db, &generated(from, 1500)).await;
        from += 1500;
        let stop = Arc::new(AtomicBool::new(false));
        // The reader says when it is connected: the refresh starts only then,
        // so its polls cover the whole refresh, however fast that is.
        let (ready, connected) = tokio::sync::oneshot::channel();
        let reader = {
            let (stop, key, url) = (stop.clone(), key.clone(), redis.url.clone());
            tokio::spawn(async move {
                // A client of its own, like a web server answering keystrokes.
                let mut conn = service::connect::connect_redis(&url).await.expect("reader");
                let _ = ready.send(());
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let n: i64 = redis::cmd("ZCARD")
                        .arg(&key)
                        .query_async(&mut conn)
                        .await
                        .expect("zcard");
                    seen.push(n);
                }
                seen
            })
        };
        connected.await.expect("reader connected");
        let mut job = RefreshAutocomplete::new(&key, 8);
        job.chunk_members = 200;
        let new = refresh_ok(&t, &redis, &job, strategy).await.rows as i64;
        stop.store(true, Ordering::Relaxed);
        let seen = reader.await.expect("reader task");
        assert!(new > old);
        assert!(
            seen.len() > 10,
            "{strategy}: the reader polled only {} times",
            seen.len()
        );
        let bad: Vec<_> = seen.iter().filter(|&&n| n != old && n != new).collect();
        assert!(
            bad.is_empty(),
            "{strategy}: saw sizes {bad:?}, old {old}, new {new}"
        );
        assert!(
            seen.contains(&old),
            "{strategy}: the reader never saw the old set"
        );
        old = new;
    }
}

#[tokio::test]
async fn optimized_command_count_grows_only_by_the_chunk_count() {
    let mut seen = Vec::new();
    for n in [300, 3000] {
        let (t, redis) = (TestDb::new().await, TestRedis::new().await);
        insert_titles(&t.db, &generated(0, n)).await;
        let mut job = RefreshAutocomplete::new(redis.key("ac"), 8);
        job.chunk_members = 500;
        let report = refresh_ok(&t, &redis, &job, Strategy::Optimized).await;
        let chunks = report.rows.div_ceil(500);
        // The ZADD chunks, one EXPIRE on the temporary key, one EVAL for the swap.
        assert_eq!(report.redis_commands, chunks + 2, "{n} titles");
        assert_eq!(report.db_statements, 3);
        seen.push((report.rows, chunks));
        // Naive, for contrast: one command per prefix of every title.
        let naive = refresh_ok(&t, &redis, &job, Strategy::Naive).await;
        assert_eq!(naive.rows, report.rows);
        assert!(naive.redis_commands > 4 * n as u64);
    }
    assert!(
        seen[1].0 > 5 * seen[0].0 && seen[1].1 > seen[0].1,
        "{seen:?}"
    );
}

#[tokio::test]
async fn unreachable_redis_exits_1_with_one_line_and_leaves_the_old_set() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    let key = redis.key("ac");
    insert_titles(&t.db, &owned(&["old title"])).await;
    refresh_ok(
        &t,
        &redis,
        &RefreshAutocomplete::new(&key, 8),
        Strategy::Optimized,
    )
    .await;
    let before = members(&redis, &key).await;
    insert_titles(&t.db, &owned(&["new title"])).await;
    for strategy in ["naive", "optimized"] {
        let out = t.cli(
            Some(&redis),
            &[
                "--redis-url",
                "redis://127.0.0.1:1/",
                "run",
                "refresh-autocomplete",
                "--key",
                &key,
                "--strategy",
                strategy,
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("Redis") && !err.contains("panicked"), "{err}");
    }
    assert_eq!(members(&redis, &key).await, before);
}

/// Sabotage from another client while the naive refresh is writing: the
/// temporary key is found with SCAN and then broken.
async fn sabotage_refresh(sabotage: &'static [&'static str], error: &str) {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    let key = redis.key("ac");
    insert_titles(&t.db, &generated(0, 300)).await;
    refresh_ok(
        &t,
        &redis,
        &RefreshAutocomplete::new(&key, 8),
        Strategy::Optimized,
    )
    .await;
    let before = members(&redis, &key).await;
    insert_titles(&t.db, &generated(300, 700)).await;
    let saboteur = {
        let (pattern, url) = (format!("{key}:tmp:*"), redis.url.clone());
        tokio::spawn(async move {
            let mut conn = service::connect::connect_redis(&url)
                .await
                .expect("saboteur");
            loop {
                let found: Vec<String> = redis::cmd("KEYS")
                    .arg(&pattern)
                    .query_async(&mut conn)
                    .await
                    .expect("keys");
                if let Some(temp) = found.first() {
                    let mut cmd = redis::cmd(sabotage[0]);
                    cmd.arg(temp).arg(&sabotage[1..]);
                    let _: redis::Value = cmd.query_async(&mut conn).await.expect("sabotage");
                    return;
                }
            }
        })
    };
    let report = refresh(
        &t,
        &redis,
        &RefreshAutocomplete::new(&key, 8),
        Strategy::Naive,
    )
    .await;
    saboteur.await.expect("saboteur task");
    assert_eq!(report.status, RunStatus::Error, "{report:?}");
    let message = report.error.as_deref().unwrap_or_default();
    assert!(message.contains(error), "{message}");
    assert_eq!(report.exit_code(), 1);
    assert_eq!(members(&redis, &key).await, before, "the live set changed");
    assert!(
        keys(&redis, "*:tmp:*").await.is_empty(),
        "temporary key left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_error_mid_refresh_leaves_the_old_set_and_no_temporary_key() {
    // SET turns the temporary sorted set into a string: the next ZADD fails (WRONGTYPE).
    sabotage_refresh(&["SET", "x"], "WRONGTYPE").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_set_lost_mid_refresh_is_never_published() {
    // As if it had expired: later ZADDs recreate it with only part of the members.
    sabotage_refresh(&["DEL"], "live set left as it was").await;
}

#[tokio::test]
async fn the_swap_refuses_an_incomplete_temporary_set() {
    let redis = TestRedis::new().await;
    let (temp, live) = (redis.key("tmp"), redis.key("live"));
    let mut conn = redis.conn.clone();
    let _: () = redis::cmd("ZADD")
        .arg(&live)
        .arg(0)
        .arg("old")
        .query_async(&mut conn)
        .await
        .expect("zadd");
    let _: () = redis::cmd("ZADD")
        .arg(&temp)
        .arg(0)
        .arg("a")
        .arg(0)
        .arg("b")
        .query_async(&mut conn)
        .await
        .expect("zadd");
    let err = swap(&mut conn, &temp, &live, 3)
        .await
        .expect_err("2 members, 3 expected");
    assert!(err.to_string().contains("expected 3"), "{err}");
    assert_eq!(members(&redis, &live).await, ["old"]);
    swap(&mut conn, &temp, &live, 2)
        .await
        .expect("complete set");
    assert_eq!(members(&redis, &live).await, ["a", "b"]);
    assert_eq!(redis_int(&redis, "EXISTS", &temp).await, 0);
}

#[tokio::test]
async fn only_empty_titles_leave_no_set_at_all() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    let key = redis.key("ac");
    insert_titles(&t.db, &owned(&["was here"])).await;
    refresh_ok(
        &t,
        &redis,
        &RefreshAutocomplete::new(&key, 8),
        Strategy::Optimized,
    )
    .await;
    t.db.execute_raw(Statement::from_string(
        t.db.get_database_backend(),
        "UPDATE videos SET title = '   '",
    ))
    .await
    .expect("blank titles");
    insert_titles(&t.db, &owned(&[""])).await;
    for strategy in [Strategy::Naive, Strategy::Optimized] {
        let report = refresh_ok(&t, &redis, &RefreshAutocomplete::new(&key, 8), strategy).await;
        assert_eq!(report.rows, 0);
        assert_eq!(redis_int(&redis, "EXISTS", &key).await, 0, "{strategy}");
    }
}

fn suggest(t: &TestDb, redis: &TestRedis, key: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["autocomplete", "suggest", "--key", key];
    all.extend_from_slice(args);
    t.cli(Some(redis), &all)
}

fn lines(out: &std::process::Output) -> Vec<String> {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    stdout(out).lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn suggest_returns_matching_members_in_byte_order() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    let key = redis.key("ac");
    insert_titles(
        &t.db,
        &owned(&[
            "Hello",
            "HELP me",
            "hé",
            "Hz",
            "h東",
            "h🎬",
            "Hal",
            "ÉCOLE",
            "Σοφία",
            "other",
        ]),
    )
    .await;
    refresh_ok(
        &t,
        &redis,
        &RefreshAutocomplete::new(&key, 8),
        Strategy::Optimized,
    )
    .await;
    // Lowercased and trimmed by PostgreSQL, like the titles; byte order puts ASCII
    // before é (0xC3), 東 (0xE6) and 🎬 (0xF0).
    let got = lines(&suggest(&t, &redis, &key, &["  H  ", "--limit", "100"]));
    assert_eq!(
        got,
        [
            "h", "ha", "hal", "he", "hel", "hell", "hello", "help", "help ", "help m", "help me",
            "hz", "hé", "h東", "h🎬"
        ]
    );
    assert_eq!(
        lines(&suggest(&t, &redis, &key, &["HEL"])),
        ["hel", "hell", "hello", "help", "help ", "help m", "help me"]
    );
    assert_eq!(
        lines(&suggest(&t, &redis, &key, &["É"])),
        ["é", "éc", "éco", "écol", "école"]
    );
    assert_eq!(
        lines(&suggest(&t, &redis, &key, &["ΣΟΦ"])),
        ["σοφ", "σοφί", "σοφία"]
    );
    assert!(lines(&suggest(&t, &redis, &key, &["x"])).is_empty());
    // --json: one object.
    let out = suggest(&t, &redis, &key, &["Hel", "--json", "--limit", "2"]);
    let json = json_line(&out);
    assert_eq!(json["prefix"], "hel");
    assert_eq!(json["truncated"], false);
    assert_eq!(json["members"], serde_json::json!(["hel", "hell"]));
}

#[tokio::test]
async fn suggest_respects_limit() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    let key = redis.key("ac");
    insert_titles(&t.db, &generated(0, 200)).await;
    refresh_ok(
        &t,
        &redis,
        &RefreshAutocomplete::new(&key, 8),
        Strategy::Optimized,
    )
    .await;
    let all = lines(&suggest(&t, &redis, &key, &["0", "--limit", "100000"]));
    assert!(all.len() > 20);
    assert!(all.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
    assert_eq!(lines(&suggest(&t, &redis, &key, &["0"])), all[..10]);
    assert_eq!(
        lines(&suggest(&t, &redis, &key, &["0", "--limit", "3"])),
        all[..3]
    );
    assert!(lines(&suggest(&t, &redis, &key, &["0", "--limit", "0"])).is_empty());
    assert_eq!(
        lines(&suggest(
            &t,
            &redis,
            &key,
            &["0", "--limit", &u64::MAX.to_string()]
        )),
        all
    );
}

#[tokio::test]
async fn suggest_cuts_a_prefix_longer_than_the_maximum() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    let key = redis.key("ac");
    insert_titles(
        &t.db,
        &owned(&["Introduction to Rust", "東京タワーの夜景と富士山"]),
    )
    .await;
    refresh_ok(
        &t,
        &redis,
        &RefreshAutocomplete::new(&key, 8),
        Strategy::Optimized,
    )
    .await;
    // The set holds prefixes of at most 8 characters: the typed text is cut to 8
    // and still finds its completion, flagged as truncated.
    assert_eq!(
        lines(&suggest(&t, &redis, &key, &["Introduction to R"])),
        ["introduc"]
    );
    let json = json_line(&suggest(
        &t,
        &redis,
        &key,
        &["東京タワーの夜景と富", "--json"],
    ));
    assert_eq!(json["prefix"], "東京タワーの夜景");
    assert_eq!(json["truncated"], true);
    assert_eq!(json["members"], serde_json::json!(["東京タワーの夜景"]));
    // The cut happens after normalisation (spaces trimmed first), at --max-prefix.
    let json = json_line(&suggest(
        &t,
        &redis,
        &key,
        &["  INTRO  ", "--max-prefix", "3", "--json", "--limit", "2"],
    ));
    assert_eq!(json["prefix"], "int");
    assert_eq!(json["truncated"], true);
    assert_eq!(json["members"], serde_json::json!(["int", "intr"]));
    // Nothing to complete is bad input.
    let out = suggest(&t, &redis, &key, &["   "]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("prefix is empty"), "{}", stderr(&out));
}

#[tokio::test]
async fn settings_come_from_sitejobs_toml_and_flags_win() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    insert_titles(&t.db, &owned(&["Configurable"])).await;
    let dir = std::env::temp_dir().join(format!("sitejobs-ac-{}", redis.prefix.replace(':', "_")));
    std::fs::create_dir_all(&dir).expect("dir");
    let from_file = redis.key("from-file");
    std::fs::write(
        dir.join("sitejobs.toml"),
        format!("[refresh-autocomplete]\nkey = \"{from_file}\"\nmax_prefix = 3\n"),
    )
    .expect("toml");
    let cli = |args: &[&str]| {
        std::process::Command::new(tests::sitejobs_bin())
            .args(args)
            .current_dir(&dir)
            .env("DATABASE_URL", &t.url)
            .env("REDIS_URL", &redis.url)
            .env("SITEJOBS_LOG", "warn")
            .output()
            .expect("run sitejobs")
    };
    let out = cli(&["run", "refresh-autocomplete"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(members(&redis, &from_file).await, ["c", "co", "con"]);
    assert_eq!(
        lines(&cli(&["autocomplete", "suggest", "Configurable"])),
        ["con"]
    );
    let out = cli(&["run", "refresh-autocomplete", "--max-prefix", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        members(&redis, &from_file).await,
        ["c", "co", "con", "conf", "confi"]
    );
    let flag_key = redis.key("flag");
    assert_eq!(
        lines(&cli(&["run", "refresh-autocomplete", "--key", &flag_key])).len(),
        1
    );
    assert_eq!(members(&redis, &flag_key).await, ["c", "co", "con"]);
    std::fs::write(
        dir.join("sitejobs.toml"),
        "[refresh-autocomplete]\nmax_prefix = \"eight\"\n",
    )
    .expect("toml");
    let out = cli(&["run", "refresh-autocomplete"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("max_prefix"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bench_cases_prepare_their_titles_and_the_floor_file() {
    use service::jobs::refresh_autocomplete::bench;
    let t = TestDb::new().await;
    let cases = bench::cases(&t.db, service::scale::Scale::Tiny)
        .await
        .expect("cases");
    let count = |db: DatabaseConnection| async move {
        db.query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) FROM videos",
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get_by_index::<i64>(0)
        .expect("bigint")
    };
    assert_eq!(count(t.db.clone()).await, 2_000);
    // Idempotent: a second call reuses the titles.
    bench::cases(&t.db, service::scale::Scale::Tiny)
        .await
        .expect("cases again");
    assert_eq!(count(t.db.clone()).await, 2_000);
    let case = &cases[0];
    assert_eq!(
        case.args[..3],
        ["refresh-autocomplete", "--key", bench::BENCH_KEY]
    );
    assert_eq!(case.floors.len(), 2);
    // The generated titles carry what the job must handle.
    let odd = oracle(&t.db, 8).await;
    assert!(
        odd.iter().any(|m| m.chars().any(|c| c > '\u{2E80}')),
        "no CJK or emoji"
    );
    assert!(
        odd.iter().any(|m| m.contains('\u{301}')),
        "no combining mark"
    );
}

#[tokio::test]
async fn limit_videos_reads_only_the_first_videos_by_id() {
    let (t, redis) = (TestDb::new().await, TestRedis::new().await);
    insert_titles(&t.db, &owned(&["Zeta", "alpha", "Beta", "gamma"])).await;
    for strategy in [Strategy::Naive, Strategy::Optimized] {
        let key = redis.key(strategy.as_str());
        let mut job = RefreshAutocomplete::new(&key, 2);
        job.limit_videos = Some(2);
        let report = refresh_ok(&t, &redis, &job, strategy).await;
        assert_eq!(
            members(&redis, &key).await,
            ["a", "al", "z", "ze"],
            "{strategy}"
        );
        assert_eq!(report.params["limit_videos"], 2);
    }
}
