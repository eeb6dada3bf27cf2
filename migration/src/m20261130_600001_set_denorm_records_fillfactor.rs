use sea_orm_migration::prelude::*;

/// `denorm_profile_records` keeps a tenth of each page free (`fillfactor =
/// 90`). An incremental run of `denormalize-profiles` updates records in
/// place; with room on the page PostgreSQL writes the new version there as a
/// heap-only tuple and leaves the table's three indexes alone. On full pages
/// every update inserted into all three: for 1,000 changed profiles of a
/// 200k community that part of the apply statement took 10.4–11.1 ms, and
/// 6.5 ms with the free space. The full rebuild measured the same either
/// way (1.51–1.58 s). Only pages written from now on keep the space: the
/// next full rebuild of a community rewrites its records.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // Raw SQL: sea-query's ALTER TABLE has no storage parameters. The lock
    // (SHARE UPDATE EXCLUSIVE) blocks neither readers nor writers; the
    // online rule still bounds the wait for it.
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE denorm_profile_records SET (fillfactor = 90)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE denorm_profile_records RESET (fillfactor)")
            .await?;
        Ok(())
    }
}
