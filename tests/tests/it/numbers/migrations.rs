//! The online migrations: down and up on a populated table, an invalid index
//! left by a failed concurrent build, the GiST plan, and writers never blocked.
use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};
use service::numbers::{overlap_query, OverlapStrategy};
use tests::TestDb;

use super::{exec, insert_unranged, scalar, wrong_ranges};

const FIRST: &str = "m20261121_400001_add_number_range";

/// Migrations applied from ours (inclusive) to the end of the list.
fn ours_and_later() -> u32 {
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let first = names
        .iter()
        .position(|n| n == FIRST)
        .expect("our first migration is listed");
    (names.len() - first) as u32
}

const INDEX_VALID: &str = "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relname = 'idx_my_numbers_number_range' AND i.indisvalid";

#[tokio::test]
async fn migrations_down_and_up_on_a_populated_table_keep_the_data() {
    let t = TestDb::new().await;
    insert_unranged(&t.db, 5000).await;
    exec(
        &t.db,
        "UPDATE my_numbers SET number_end = number_end + 1 WHERE id % 2 = 0",
    )
    .await;
    let fingerprint = "SELECT sum(hashint8(id) # hashint4(number_start) # hashint4(number_end))::bigint FROM my_numbers";
    let before = scalar(&t.db, fingerprint).await;
    Migrator::down(&t.db, Some(ours_and_later()))
        .await
        .expect("down");
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'my_numbers' AND column_name = 'number_range'").await,
        0
    );
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'my_numbers_sync_number_range'"
        )
        .await,
        0
    );
    assert_eq!(scalar(&t.db, fingerprint).await, before);
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM my_numbers").await, 5000);
    Migrator::up(&t.db, None).await.expect("up again");
    assert_eq!(scalar(&t.db, fingerprint).await, before);
    assert_eq!(
        wrong_ranges(&t.db).await,
        0,
        "the backfill migration filled every range"
    );
    assert_eq!(scalar(&t.db, INDEX_VALID).await, 1);
}

#[tokio::test]
async fn an_invalid_index_left_by_a_failed_concurrent_build_is_rebuilt() {
    let t = TestDb::new().await;
    insert_unranged(&t.db, 100).await;
    // What a cancelled CREATE INDEX CONCURRENTLY leaves: the index, marked invalid.
    exec(&t.db, "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'idx_my_numbers_number_range'::regclass").await;
    exec(&t.db, "DELETE FROM seaql_migrations WHERE version IN ('m20261121_400003_backfill_number_ranges', 'm20261121_400004_create_number_range_index')").await;
    assert_eq!(scalar(&t.db, INDEX_VALID).await, 0);
    Migrator::up(&t.db, None).await.expect("retry");
    assert_eq!(scalar(&t.db, INDEX_VALID).await, 1);
    assert_eq!(wrong_ranges(&t.db).await, 0);
}

#[tokio::test]
async fn explain_of_the_range_query_uses_the_gist_index() {
    let t = TestDb::new().await;
    insert_unranged(&t.db, 50_000).await;
    exec(&t.db, "UPDATE my_numbers SET number_range = NULL").await; // the trigger fills them
    exec(&t.db, "ANALYZE my_numbers").await;
    let sql = overlap_query(OverlapStrategy::Range, 1000, 1100)
        .expect("query")
        .build(DbBackend::Postgres)
        .to_string();
    // Planner statistics alone pick the index (no enable_seqscan = off needed).
    let plan =
        t.db.query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("EXPLAIN {sql}"),
        ))
        .await
        .expect("explain")
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("plan line"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plan.contains("idx_my_numbers_number_range"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
}

#[tokio::test]
async fn a_single_row_insert_completes_within_a_second_during_backfill_and_index_build() {
    let t = TestDb::new().await;
    // The state before steps 3 and 4: 200k rows without ranges, no GiST index.
    Migrator::down(&t.db, Some(ours_and_later() - 2))
        .await
        .expect("down to step 2");
    insert_unranged(&t.db, 200_000).await;
    let migrating = {
        let db = t.db.clone();
        tokio::spawn(async move { Migrator::up(&db, None).await })
    };
    let (mut worst, mut inserts) = (Duration::ZERO, 0);
    while !migrating.is_finished() {
        let clock = Instant::now();
        exec(
            &t.db,
            "INSERT INTO my_numbers (number_start, number_end) VALUES (7, 9)",
        )
        .await;
        worst = worst.max(clock.elapsed());
        inserts += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    migrating
        .await
        .expect("task")
        .expect("backfill and index migrations");
    eprintln!("{inserts} inserts during the migrations, the slowest took {worst:?}");
    assert!(
        inserts >= 10,
        "only {inserts} inserts ran during the migrations"
    );
    assert!(worst < Duration::from_secs(1), "an insert waited {worst:?}");
    assert_eq!(wrong_ranges(&t.db).await, 0);
    assert_eq!(scalar(&t.db, INDEX_VALID).await, 1);
}
