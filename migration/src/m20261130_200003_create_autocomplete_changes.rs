use sea_orm_migration::{prelude::*, schema::*};

// squawk-ignore-file prefer-bigint-over-int: max_prefix is a prefix length in code points (at most a few dozen)

/// Change capture for `refresh-autocomplete --incremental`: statement-level
/// triggers on `videos` log every title that appeared or disappeared (inserted,
/// deleted, or the old and new title of an update) into
/// `autocomplete_changes`, whoever the writer is. `autocomplete_refresh_state`
/// holds one row: the key, `max_prefix` and member count of the latest refresh,
/// the only set the log's entries may be applied to. `TRUNCATE videos` forgets
/// it (a full refresh next).
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The log's trigger function as this migration creates it (titles only);
/// `m20261130_700001`'s `down` puts it back.
pub(crate) const LOG_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION autocomplete_log_videos() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO autocomplete_changes (title) SELECT title FROM autocomplete_new;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO autocomplete_changes (title) SELECT title FROM autocomplete_old;
    ELSE
        -- Titles whose existence may have changed; an unchanged title changes no prefix.
        INSERT INTO autocomplete_changes (title)
        (SELECT title FROM autocomplete_new EXCEPT SELECT title FROM autocomplete_old)
        UNION
        (SELECT title FROM autocomplete_old EXCEPT SELECT title FROM autocomplete_new);
    END IF;
    RETURN NULL;
END
$$;
"#;

const TRIGGERS: &str = r#"
CREATE OR REPLACE FUNCTION autocomplete_forget_state() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM autocomplete_refresh_state;
    RETURN NULL;
END
$$;

CREATE TRIGGER autocomplete_log_videos_insert AFTER INSERT ON videos
    REFERENCING NEW TABLE AS autocomplete_new
    FOR EACH STATEMENT EXECUTE FUNCTION autocomplete_log_videos();
CREATE TRIGGER autocomplete_log_videos_update AFTER UPDATE ON videos
    REFERENCING OLD TABLE AS autocomplete_old NEW TABLE AS autocomplete_new
    FOR EACH STATEMENT EXECUTE FUNCTION autocomplete_log_videos();
CREATE TRIGGER autocomplete_log_videos_delete AFTER DELETE ON videos
    REFERENCING OLD TABLE AS autocomplete_old
    FOR EACH STATEMENT EXECUTE FUNCTION autocomplete_log_videos();
CREATE TRIGGER autocomplete_forget_state_videos AFTER TRUNCATE ON videos
    FOR EACH STATEMENT EXECUTE FUNCTION autocomplete_forget_state();
"#;

const DROP_TRIGGERS: &str = r#"
DROP TRIGGER IF EXISTS autocomplete_forget_state_videos ON videos;
DROP TRIGGER IF EXISTS autocomplete_log_videos_delete ON videos;
DROP TRIGGER IF EXISTS autocomplete_log_videos_update ON videos;
DROP TRIGGER IF EXISTS autocomplete_log_videos_insert ON videos;
DROP FUNCTION IF EXISTS autocomplete_forget_state();
DROP FUNCTION IF EXISTS autocomplete_log_videos();
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("autocomplete_changes")
                    .col(big_pk_auto("id"))
                    .col(text("title"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("autocomplete_refresh_state")
                    .col(text("key").primary_key())
                    .col(integer("max_prefix"))
                    .col(big_integer("members"))
                    .col(timestamp_with_time_zone("refreshed_at"))
                    .to_owned(),
            )
            .await?;
        // Triggers and plpgsql functions have no sea-query builder; several
        // statements in one string need the simple (unprepared) protocol.
        let db = manager.get_connection();
        db.execute_unprepared(LOG_FUNCTION).await?;
        db.execute_unprepared(TRIGGERS).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // As in `up`: no builder, several statements.
        let db = manager.get_connection();
        db.execute_unprepared(DROP_TRIGGERS).await?;
        manager
            .drop_table(Table::drop().table("autocomplete_refresh_state").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("autocomplete_changes").to_owned())
            .await
    }
}
