use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Statement;

// squawk-ignore-file require-lock-timeout: CONCURRENTLY's SHARE UPDATE EXCLUSIVE lock never blocks readers or writers
// squawk-ignore-file require-statement-timeout: a concurrent build takes minutes on a big table by design and blocks no one

/// Step 4 of 4: the GiST index on `number_range`, built with `CREATE INDEX
/// CONCURRENTLY` so writers are not blocked while it builds. That statement
/// cannot run inside a transaction, so this migration opts out of the one
/// sea-orm-migration opens on PostgreSQL (`use_transaction = false`).
///
/// A concurrent build that fails (cancelled, deadlock, a server restart)
/// leaves an INVALID index behind, which `IF NOT EXISTS` would then mistake
/// for a finished one: the migration drops it when its build fails, and drops
/// any such leftover (concurrently) before building, so rerunning is the retry.
#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_my_numbers_number_range";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Raw SQL: the catalog lookup and CONCURRENTLY have no sea-query builder.
        let invalid = db
            .query_one_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace
                   AND NOT i.indisvalid",
                [INDEX.into()],
            ))
            .await?
            .is_some();
        if invalid {
            tracing::warn!(
                index = INDEX,
                "dropping an invalid index left by a failed build"
            );
            db.execute_unprepared(&format!("DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"))
                .await?;
        }
        let built = db
            .execute_unprepared(&format!(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON my_numbers USING gist (number_range)"
            ))
            .await;
        if let Err(e) = built {
            // A failed concurrent build leaves an INVALID index: drop it so the
            // schema is as the previous migration left it, then report the failure.
            let _ = db
                .execute_unprepared(&format!("DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"))
                .await;
            return Err(e);
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // CONCURRENTLY: dropping must not block readers and writers either.
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"))
            .await
            .map(|_| ())
    }
}
