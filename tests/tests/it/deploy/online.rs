//! The online-safe rule: a migration that cannot get its lock gives up after a
//! short `lock_timeout`, lets the writers queued behind it through, and retries
//! with backoff until the long transaction in its way ends.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use migration::online::Online;
use migration::{DbErr, MigrationName, MigrationTrait, MigratorTrait, SchemaManager};
use sea_orm::DynIden;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use tests::{scalar, TestDb};

/// Adds a column to `my_numbers` (an ACCESS EXCLUSIVE lock), counting attempts.
struct AddProbeColumn {
    attempts: Arc<AtomicUsize>,
}

impl MigrationName for AddProbeColumn {
    fn name(&self) -> &str {
        "m20990101_000001_add_probe_column"
    }
}

#[migration::async_trait::async_trait]
impl MigrationTrait for AddProbeColumn {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE my_numbers ADD COLUMN probe integer")
            .await
            .map(|_| ())
    }
}

static ATTEMPTS: std::sync::OnceLock<Arc<AtomicUsize>> = std::sync::OnceLock::new();

/// A migrator of its own (with its own history table) holding only the probe.
struct ProbeMigrator;

impl MigratorTrait for ProbeMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let attempts = ATTEMPTS.get_or_init(Default::default).clone();
        vec![Box::new(
            Online::new(Box::new(AddProbeColumn { attempts }))
                .with_timing(Duration::from_millis(100), Duration::from_millis(50)),
        )]
    }

    fn migration_table_name() -> DynIden {
        use sea_orm::sea_query::IntoIden;
        "probe_migrations".into_iden()
    }
}

#[tokio::test]
async fn a_migration_behind_a_long_transaction_retries_until_it_ends_and_writers_keep_writing() {
    let t = TestDb::new().await;
    let attempts = ATTEMPTS.get_or_init(Default::default).clone();

    // A long transaction that has read my_numbers: its ACCESS SHARE lock stands
    // in the way of ALTER TABLE's ACCESS EXCLUSIVE until it ends.
    let long = t.db.begin().await.expect("begin");
    long.execute_raw(Statement::from_string(
        long.get_database_backend(),
        "SELECT count(*) FROM my_numbers",
    ))
    .await
    .expect("read my_numbers");

    // A writer of single rows for the whole time.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let db = t.db.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0_u64, Vec::new());
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let sql = format!(
                    "INSERT INTO my_numbers (number_start, number_end) VALUES ({i}, {i} + 5)"
                );
                match db.execute_unprepared(&sql).await {
                    Ok(_) => ok += 1,
                    Err(e) => failed.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (ok, failed)
        })
    };

    let migrating = {
        let db = t.db.clone();
        tokio::spawn(async move { ProbeMigrator::up(&db, None).await })
    };
    // Let the migration time out on its lock at least twice, then end the transaction.
    let start = std::time::Instant::now();
    while attempts.load(Ordering::SeqCst) < 3 {
        assert!(start.elapsed() < Duration::from_secs(30), "no retries seen");
        assert!(
            !migrating.is_finished(),
            "the migration ended while the lock was held"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    long.commit().await.expect("end the long transaction");

    migrating
        .await
        .expect("join")
        .expect("the migration succeeds once the lock is free");
    stop.store(true, Ordering::SeqCst);
    let (ok, failed) = writer.await.expect("join writer");
    assert!(failed.is_empty(), "writes failed: {failed:?}");
    assert!(ok > 0);
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM information_schema.columns
             WHERE table_name = 'my_numbers' AND column_name = 'probe'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(&t.db, "SELECT count(*) FROM probe_migrations").await,
        1
    );
}
