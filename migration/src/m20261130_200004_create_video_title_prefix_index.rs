use sea_orm_migration::prelude::*;

// squawk-ignore-file require-lock-timeout: CONCURRENTLY's SHARE UPDATE EXCLUSIVE lock never blocks readers or writers
// squawk-ignore-file require-statement-timeout: a concurrent build takes minutes on a big table by design and blocks no one

/// `refresh-autocomplete --incremental` asks, for each prefix a changed title
/// touched, whether any title still starts with it: one probe of this index
/// (the smallest normalised title at or after the prefix, in byte order).
#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_videos_title_normalized";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // CONCURRENTLY (writers keep writing to videos while it builds) cannot run in a transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // An expression index with a collation: sea-query's index builder takes columns only.
        crate::concurrent_index::create(
            manager,
            INDEX,
            &format!(
                r#"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX}
                   ON videos ((btrim(lower(title)) COLLATE "C"))"#
            ),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::concurrent_index::drop(manager, INDEX).await
    }
}
