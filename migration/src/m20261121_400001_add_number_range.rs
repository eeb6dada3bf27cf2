use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Statement;

/// Step 1 of 4 (online): the nullable `number_range int4range` column. A
/// nullable column without a default is a catalog change only (no table
/// rewrite); `lock_timeout` makes it give up rather than queue every writer
/// behind a long transaction while it waits for its brief exclusive lock.
#[derive(DeriveMigrationName)]
pub struct Migration;

pub(crate) async fn set_lock_timeout(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    // SET LOCAL has no builder in sea-query; it lasts until this migration's transaction ends.
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "SET LOCAL lock_timeout = '10s'",
    ))
    .await
    .map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_lock_timeout(manager).await?;
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
        set_lock_timeout(manager).await?;
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
