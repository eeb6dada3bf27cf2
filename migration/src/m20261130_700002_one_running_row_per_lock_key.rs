use sea_orm_migration::prelude::*;

// squawk-ignore-file require-lock-timeout: CONCURRENTLY's SHARE UPDATE EXCLUSIVE lock never blocks readers or writers; the UPDATE touches only rows no live run owns
// squawk-ignore-file require-statement-timeout: a concurrent build on a long history takes as long as it takes and blocks no one

/// At most one `running` row per lock key, kept by a unique partial index
/// that replaces the plain one of `m20261130_500001` (same rows, same
/// probes). A run writes its `running` row only while it holds its lock, so
/// another `running` row of its key belongs to a process that died: the run
/// used to close such rows in the statement that writes its own, which on a
/// fresh server process cost about half a millisecond of every run (a
/// second scan of `job_runs` to plan and run). Now the plain insert meets
/// the unique index only when there is such a row, and the run then closes
/// it and inserts again.
///
/// Before the build, every `running` row but the newest of its key is
/// closed: those are dead for the same reason (a newer run of the key took
/// the lock after them). The runner never left two, but a history written
/// otherwise might have.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UNIQUE: &str = "idx_job_runs_one_running_per_lock_key";
/// The plain index of `m20261130_500001`, which this one replaces.
const PLAIN: &str = super::m20261130_500001_index_running_job_runs::INDEX;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // CONCURRENTLY (runs keep writing job_runs while it builds) cannot run in a transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Raw SQL: an UPDATE with a window over the same table has no
        // sea-query builder worth its length; partial indexes have no WHERE
        // in sea-query's index builder.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE job_runs SET status = 'error', finished_at = now(),
                     error = 'abandoned: the run''s process died before it finished (closed by a migration)'
                 WHERE id IN (SELECT id FROM (
                     SELECT id, row_number() OVER (PARTITION BY lock_key ORDER BY id DESC) AS n
                     FROM job_runs WHERE status = 'running') AS r WHERE n > 1)",
            )
            .await?;
        crate::concurrent_index::create(
            manager,
            UNIQUE,
            &format!(
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {UNIQUE} \
                 ON job_runs (lock_key) WHERE status = 'running'"
            ),
        )
        .await?;
        crate::concurrent_index::drop(manager, PLAIN).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The plain index back, as the migration that made it builds it.
        super::m20261130_500001_index_running_job_runs::Migration
            .up(manager)
            .await?;
        crate::concurrent_index::drop(manager, UNIQUE).await
    }
}
