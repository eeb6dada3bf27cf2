//! `CREATE INDEX CONCURRENTLY` as a migration step that can be retried: a
//! concurrent build that fails (cancelled, a deadlock, a server restart)
//! leaves an INVALID index behind, which `IF NOT EXISTS` would then mistake
//! for a finished one. So a leftover is dropped (concurrently) before the
//! build, and a failed build drops its own, leaving the schema as the
//! previous migration left it. The migration must opt out of the transaction
//! (`use_transaction = Some(false)`).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Statement;

/// Builds index `name` with `create` (a `CREATE INDEX CONCURRENTLY IF NOT
/// EXISTS name ...` statement), first dropping an invalid leftover of it.
pub async fn create(manager: &SchemaManager<'_>, name: &str, create: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    // Raw SQL: the catalog lookup and CONCURRENTLY have no sea-query builder.
    let invalid = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace
               AND NOT i.indisvalid",
            [name.into()],
        ))
        .await?
        .is_some();
    if invalid {
        tracing::warn!(
            index = name,
            "dropping an invalid index left by a failed build"
        );
        drop(manager, name).await?;
    }
    if let Err(e) = db.execute_unprepared(create).await {
        let _ = drop(manager, name).await;
        return Err(e);
    }
    Ok(())
}

/// Drops index `name` concurrently: readers and writers are never blocked.
pub async fn drop(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
        .await
        .map(|_| ())
}
