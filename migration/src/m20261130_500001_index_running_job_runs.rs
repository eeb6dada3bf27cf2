use sea_orm_migration::prelude::*;

// squawk-ignore-file require-lock-timeout: CONCURRENTLY's SHARE UPDATE EXCLUSIVE lock never blocks readers or writers
// squawk-ignore-file require-statement-timeout: a concurrent build on a long history takes as long as it takes and blocks no one

/// Every run, once it holds its lock, closes the `running` rows its lock key
/// left behind (runs whose process died). Without an index that check reads
/// the whole history on every run (a million rows after a few weeks of
/// hourly fan-outs); this partial index holds only the rows still `running`,
/// a handful, so the check costs one probe whatever the history's size.
#[derive(DeriveMigrationName)]
pub struct Migration;

pub(crate) const INDEX: &str = "idx_job_runs_running_lock_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // CONCURRENTLY (runs keep writing job_runs while it builds) cannot run in a transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A partial index: sea-query's index builder has no WHERE clause.
        crate::concurrent_index::create(
            manager,
            INDEX,
            &format!(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} \
                 ON job_runs (lock_key) WHERE status = 'running'"
            ),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::concurrent_index::drop(manager, INDEX).await
    }
}
