//! A rehearsal at scale (run by hand, too slow for CI):
//!
//! ```text
//! REHEARSAL_ROWS=1000000 cargo test -p tests --release -- --ignored rehearsal --nocapture
//! ```
//!
//! The whole range evolution (add column, trigger, backfill, concurrent GiST
//! index) runs, through the same code as `sitejobs migrate up`, on a populated
//! `my_numbers` while another connection keeps writing single rows (inserts and
//! updates, alternately). None of its writes may fail and the slowest must stay
//! under a second; it prints each step's time and the writer's p50/p99/max.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::sqlx::{self, Connection, PgConnection};
use tests::{exec, scalar, TestDb};

const FIRST_RANGE_STEP: &str = "m20261121_400001_add_number_range";

struct Writes {
    latencies: Vec<Duration>,
    failures: Vec<String>,
}

async fn writer(url: String, rows: i64, stop: Arc<AtomicBool>) -> Writes {
    let mut conn = PgConnection::connect(&url).await.expect("writer connects");
    let mut w = Writes {
        latencies: Vec::new(),
        failures: Vec::new(),
    };
    let mut i: i64 = 0;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        // Spread the updates over the table with a multiplicative hash of i.
        let id = (i.wrapping_mul(2_654_435_761) % rows).abs() + 1;
        let started = Instant::now();
        let result = if i % 2 == 0 {
            sqlx::query("INSERT INTO my_numbers (number_start, number_end) VALUES ($1, $1 + 10)")
                .bind((i % 1_000_000) as i32)
                .execute(&mut conn)
                .await
        } else {
            sqlx::query("UPDATE my_numbers SET number_end = number_end + 1 WHERE id = $1")
                .bind(id)
                .execute(&mut conn)
                .await
        };
        w.latencies.push(started.elapsed());
        if let Err(e) = result {
            w.failures.push(e.to_string());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    w
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test]
#[ignore = "a rehearsal at scale: minutes; run by hand (see the module docs)"]
async fn rehearsal_the_range_evolution_on_a_populated_table_under_a_live_writer() {
    let rows: i64 = std::env::var("REHEARSAL_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let t = TestDb::new().await;
    // Back to the schema before the range evolution.
    let names: Vec<String> = service::deploy::status(&t.db)
        .await
        .expect("status")
        .into_iter()
        .map(|m| m.name)
        .collect();
    let first = names
        .iter()
        .position(|n| n == FIRST_RANGE_STEP)
        .expect("the range evolution is listed");
    service::deploy::down(&t.db, Some((names.len() - first) as u32))
        .await
        .expect("migrate down to before the range evolution");
    exec(
        &t.db,
        &format!(
            "INSERT INTO my_numbers (number_start, number_end)
             SELECT s, s + (hashint8(g) & 1023) % 1000
             FROM (SELECT g, (hashint8(g * 7919) & 2147483647) % 100000000 AS s
                   FROM generate_series(1::bigint, {rows}::bigint) g) x"
        ),
    )
    .await;
    exec(&t.db, "VACUUM ANALYZE my_numbers").await;

    let stop = Arc::new(AtomicBool::new(false));
    let writing = tokio::spawn(writer(t.url.clone(), rows, stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut steps = Vec::new();
    let whole = Instant::now();
    for name in &names[first..] {
        let started = Instant::now();
        let applied = service::deploy::up(&t.db, Some(1))
            .await
            .expect("migrate up");
        assert_eq!(applied.as_slice(), std::slice::from_ref(name));
        steps.push((name.clone(), started.elapsed()));
    }
    let total = whole.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut w = writing.await.expect("join the writer");

    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM my_numbers
             WHERE number_range IS DISTINCT FROM int4range(number_start, number_end, '[]')"
        )
        .await,
        0
    );
    w.latencies.sort();
    let max = w.latencies.last().copied().unwrap_or_default();
    println!("rehearsal: {rows} rows in my_numbers, a writer alternating single-row INSERT/UPDATE");
    println!("| step | time |\n|---|---|");
    for (name, took) in &steps {
        println!("| {name} | {:.2} s |", took.as_secs_f64());
    }
    println!("| all steps | {:.2} s |", total.as_secs_f64());
    println!(
        "writer: {} writes, {} failed; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        w.latencies.len(),
        w.failures.len(),
        percentile(&w.latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&w.latencies, 0.99).as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    assert!(w.failures.is_empty(), "writes failed: {:?}", w.failures);
    assert!(!w.latencies.is_empty());
    assert!(max < Duration::from_secs(1), "slowest write {max:?}");
}
