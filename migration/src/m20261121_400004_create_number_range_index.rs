use sea_orm_migration::prelude::*;

// squawk-ignore-file require-lock-timeout: CONCURRENTLY's SHARE UPDATE EXCLUSIVE lock never blocks readers or writers
// squawk-ignore-file require-statement-timeout: a concurrent build takes minutes on a big table by design and blocks no one

/// Step 4 of 4: the GiST index on `number_range`, built with `CREATE INDEX
/// CONCURRENTLY` so writers are not blocked while it builds. That statement
/// cannot run inside a transaction, so this migration opts out of the one
/// sea-orm-migration opens on PostgreSQL (`use_transaction = false`).
///
/// A failed build leaves nothing behind, and rerunning is the retry
/// ([`crate::concurrent_index`]).
#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_my_numbers_number_range";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::concurrent_index::create(
            manager,
            INDEX,
            &format!(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON my_numbers USING gist (number_range)"
            ),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::concurrent_index::drop(manager, INDEX).await
    }
}
