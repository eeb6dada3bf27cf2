use sea_orm_migration::prelude::*;

use crate::m20261121_400001_add_number_range::set_lock_timeout;

/// `refresh-autocomplete --incremental` asks, for each prefix a changed title
/// touched, whether any title still starts with it: one probe of this index
/// (the smallest normalised title at or after the prefix, in byte order).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_lock_timeout(manager).await?;
        // An expression index with a collation: sea-query's index builder takes columns only.
        manager
            .get_connection()
            .execute_unprepared(
                r#"CREATE INDEX IF NOT EXISTS idx_videos_title_normalized
                   ON videos ((btrim(lower(title)) COLLATE "C"))"#,
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_videos_title_normalized")
                    .table("videos")
                    .to_owned(),
            )
            .await
    }
}
