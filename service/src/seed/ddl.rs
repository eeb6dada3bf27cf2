//! Loading without per-row index and foreign-key upkeep: a table's secondary
//! indexes and outgoing foreign keys are dropped before its bulk insert and
//! recreated from their own definitions afterwards, in the same transaction
//! (a sorted index build and one anti-join check instead of millions of
//! random B-tree inserts and per-row RI triggers: `my_numbers` at `large`
//! went from 6 minutes to well under one). Indexes that back a constraint
//! (primary keys, unique) stay: the inserts rely on them.
use sea_orm::{ConnectionTrait, Statement};

use crate::error::JobError;

/// `(table, trigger)`: the triggers seed switches off during a table's load.
///
/// - `my_numbers_sync_number_range` (migration `m20261121_400002`) keeps
///   `number_range` for every writer with a PL/pgSQL call per row, which held
///   `my_numbers` to ~150k rows/s; the load writes `number_range` itself.
/// - The incremental refresh's insert loggers (migrations `m20261130_200002`
///   and `_200003`) would copy every loaded row into a change log (and lock
///   each member's profile `FOR SHARE`). Seed's `TRUNCATE` has already made
///   the refresh state forget everything (their `TRUNCATE` triggers), so the
///   next incremental run is a full rebuild and those entries would only be
///   thrown away; seed empties both logs instead.
pub const QUIET: [(&str, &str); 4] = [
    ("my_numbers", "my_numbers_sync_number_range"),
    ("profiles", "denorm_log_profiles_insert"),
    ("profile_groups", "denorm_log_profile_groups_insert"),
    ("videos", "autocomplete_log_videos_insert"),
];

/// What [`strip`] dropped or switched off, to put back with [`restore`].
pub struct Stripped {
    table: &'static str,
    /// Triggers of [`QUIET`] switched off.
    triggers: Vec<&'static str>,
    /// `CREATE INDEX ...` statements.
    indexes: Vec<String>,
    /// `(quoted name, definition)` of each foreign key.
    foreign_keys: Vec<(String, String)>,
}

/// Drops `table`'s secondary indexes and foreign keys and switches off its
/// [`QUIET`] triggers, remembering them.
pub async fn strip(db: &impl ConnectionTrait, table: &'static str) -> Result<Stripped, JobError> {
    // Catalog queries: the definitions come from PostgreSQL itself, whatever migrations added.
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT 'index', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) \
             FROM pg_index i \
             WHERE i.indrelid = $1::regclass \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) \
             UNION ALL \
             SELECT 'fk', quote_ident(c.conname), pg_get_constraintdef(c.oid) \
             FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype = 'f'",
            [table.into()],
        ))
        .await?;
    let mut stripped = Stripped {
        table,
        triggers: Vec::new(),
        indexes: Vec::new(),
        foreign_keys: Vec::new(),
    };
    for row in rows {
        let kind: String = row.try_get_by_index(0)?;
        let name: String = row.try_get_by_index(1)?;
        let def: String = row.try_get_by_index(2)?;
        if kind == "index" {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
            stripped.indexes.push(def);
        } else {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP CONSTRAINT {name}"))
                .await?;
            stripped.foreign_keys.push((name, def));
        }
    }
    for (_, trigger) in QUIET.iter().filter(|(t, _)| *t == table) {
        // No builder for DISABLE TRIGGER; the names are the migrations'.
        db.execute_unprepared(&format!("ALTER TABLE {table} DISABLE TRIGGER {trigger}"))
            .await?;
        stripped.triggers.push(trigger);
    }
    Ok(stripped)
}

/// Switches back on and recreates what [`strip`] set aside (foreign keys are checked against the loaded rows).
pub async fn restore(db: &impl ConnectionTrait, stripped: Stripped) -> Result<(), JobError> {
    for def in &stripped.indexes {
        db.execute_unprepared(def).await?;
    }
    for (name, def) in &stripped.foreign_keys {
        db.execute_unprepared(&format!(
            "ALTER TABLE {} ADD CONSTRAINT {name} {def}",
            stripped.table
        ))
        .await?;
    }
    for trigger in &stripped.triggers {
        db.execute_unprepared(&format!(
            "ALTER TABLE {} ENABLE TRIGGER {trigger}",
            stripped.table
        ))
        .await?;
    }
    Ok(())
}
