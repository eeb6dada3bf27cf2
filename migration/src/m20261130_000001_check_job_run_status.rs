use sea_orm_migration::prelude::*;

/// `job_runs.status` holds only the runner's statuses. A check constraint
/// rather than a PostgreSQL enum type: adding a status later is a constraint
/// swap, not an `ALTER TYPE` that cannot run inside a transaction on older servers.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // sea-query has no ALTER TABLE ... ADD CONSTRAINT ... CHECK; job_runs is
        // small and the runner's own table, so a plain validated constraint is fine.
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE job_runs ADD CONSTRAINT job_runs_status_check \
                 CHECK (status IN ('running', 'ok', 'error', 'locked'))",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE job_runs DROP CONSTRAINT job_runs_status_check")
            .await?;
        Ok(())
    }
}
