use sea_orm_migration::prelude::*;

/// The autocomplete change log names the video of each entry and whether its
/// title appeared there or disappeared. A video's pending entries then say
/// what it holds now: over the writes they record, a title counts once for
/// each time the video took it and minus once for each time it left it, so
/// the sum is one exactly for the title the video holds now when it held
/// another before (whatever order the entries' ids are in). An incremental
/// run knows such a title is a current title and looks up neighbours (index
/// probes) only for the others: new videos, the most common write, need no
/// probe at all, and a renamed one needs them for its old title only.
/// Entries logged before this migration have no video and are looked up as
/// before. Two nullable columns without a default are a catalog change; the
/// trigger function is replaced in place.
#[derive(DeriveMigrationName)]
pub struct Migration;

// Triggers and plpgsql functions have no sea-query builder; several
// statements in one string need the simple (unprepared) protocol.
const UP: &str = r#"
ALTER TABLE autocomplete_changes ADD COLUMN video_id bigint, ADD COLUMN appeared boolean;

CREATE OR REPLACE FUNCTION autocomplete_log_videos() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO autocomplete_changes (video_id, appeared, title)
        SELECT id, true, title FROM autocomplete_new;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO autocomplete_changes (video_id, appeared, title)
        SELECT id, false, title FROM autocomplete_old;
    ELSE
        -- Per video: its old title disappeared and its new one appeared,
        -- when they differ (an id changed by the update counts as a video
        -- that went and one that came).
        INSERT INTO autocomplete_changes (video_id, appeared, title)
        SELECT c.video_id, c.appeared, c.title
        FROM autocomplete_old o FULL JOIN autocomplete_new n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.id, false, o.title), (n.id, true, n.title))
            AS c (video_id, appeared, title)
        WHERE o.title IS DISTINCT FROM n.title AND c.video_id IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;
"#;

/// After the function of `m20261130_200003` (titles only) is back.
const DOWN: &str = "ALTER TABLE autocomplete_changes DROP COLUMN video_id, DROP COLUMN appeared";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(UP).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(super::m20261130_200003_create_autocomplete_changes::LOG_FUNCTION)
            .await?;
        db.execute_unprepared(DOWN).await?;
        Ok(())
    }
}
