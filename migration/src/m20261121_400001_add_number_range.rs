use sea_orm_migration::prelude::*;

/// Step 1 of 4 (online): the nullable `number_range int4range` column. A
/// nullable column without a default is a catalog change only (no table
/// rewrite); the online rule (`crate::online`) gives it a short `lock_timeout`
/// and retries, rather than queue every writer behind a long transaction while
/// it waits for its brief exclusive lock.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("my_numbers")
                    .add_column_if_not_exists(
                        ColumnDef::new("number_range").custom("int4range").null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("my_numbers")
                    .drop_column_if_exists("number_range")
                    .to_owned(),
            )
            .await
    }
}
