use sea_orm_migration::prelude::*;

use crate::m20261121_400001_add_number_range::set_lock_timeout;

/// Change capture for `denormalize-profiles --incremental`: statement-level
/// triggers on `profiles`, `profile_groups` and `groups` write one
/// `denorm_profile_changes` row per (community, profile) whose record may have
/// changed, whoever the writer is (ORM, `insert_many`, `COPY`, psql), as
/// `my_numbers` does for its range. Statement-level with transition tables,
/// so a bulk write costs one extra `INSERT ... SELECT`, not one per row.
///
/// - profiles: inserted and deleted rows; updated rows whose `id`,
///   `community_id` or `user_id` changed, logged under both the old and the new
///   community (a move changes two communities); a new `display_name` logs nothing.
/// - profile_groups: the profiles of every inserted, deleted or updated membership.
/// - groups: every member of a renamed group. A deleted group has no members
///   left (the foreign key), so its memberships' deletions were logged already.
/// - `TRUNCATE` of any of them forgets every community's state: full rebuilds next.
/// - communities: a deleted community's entries go with it (no run can take
///   them any more); its state row goes by the foreign key's cascade.
///
/// Membership and rename triggers read the profile's community `FOR SHARE`:
/// a concurrent move of that profile then commits either before (and the
/// change is logged under the new community) or after (and the move's own
/// entries make the new community re-read the profile), so a membership change
/// can never be logged only under a community the profile has just left.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE OR REPLACE FUNCTION denorm_log_profiles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO denorm_profile_changes (community_id, profile_id)
        SELECT community_id, id FROM denorm_new;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO denorm_profile_changes (community_id, profile_id)
        SELECT community_id, id FROM denorm_old;
    ELSE
        INSERT INTO denorm_profile_changes (community_id, profile_id)
        SELECT DISTINCT community_id, id FROM (
            (SELECT id, community_id, user_id FROM denorm_new
             EXCEPT SELECT id, community_id, user_id FROM denorm_old)
            UNION
            (SELECT id, community_id, user_id FROM denorm_old
             EXCEPT SELECT id, community_id, user_id FROM denorm_new)
        ) AS changed;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION denorm_log_profile_groups() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO denorm_profile_changes (community_id, profile_id)
        SELECT p.community_id, p.id FROM profiles p
        WHERE p.id IN (SELECT profile_id FROM denorm_new)
        FOR SHARE OF p;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO denorm_profile_changes (community_id, profile_id)
        SELECT p.community_id, p.id FROM profiles p
        WHERE p.id IN (SELECT profile_id FROM denorm_old)
        FOR SHARE OF p;
    ELSE
        INSERT INTO denorm_profile_changes (community_id, profile_id)
        SELECT p.community_id, p.id FROM profiles p
        WHERE p.id IN (SELECT profile_id FROM denorm_old UNION SELECT profile_id FROM denorm_new)
        FOR SHARE OF p;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION denorm_log_groups() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO denorm_profile_changes (community_id, profile_id)
    SELECT p.community_id, p.id FROM profiles p
    WHERE p.id IN (
        SELECT pg.profile_id FROM profile_groups pg
        WHERE pg.group_id IN (
            SELECT id FROM (SELECT id, name FROM denorm_old
                            EXCEPT SELECT id, name FROM denorm_new) AS renamed))
    FOR SHARE OF p;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION denorm_forget_communities() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM denorm_profile_changes WHERE community_id IN (SELECT id FROM denorm_old);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION denorm_forget_state() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM denorm_profile_refresh_state;
    RETURN NULL;
END
$$;

CREATE TRIGGER denorm_log_profiles_insert AFTER INSERT ON profiles
    REFERENCING NEW TABLE AS denorm_new
    FOR EACH STATEMENT EXECUTE FUNCTION denorm_log_profiles();
CREATE TRIGGER denorm_log_profiles_update AFTER UPDATE ON profiles
    REFERENCING OLD TABLE AS denorm_old NEW TABLE AS denorm_new
    FOR EACH STATEMENT EXECUTE FUNCTION denorm_log_profiles();
CREATE TRIGGER denorm_log_profiles_delete AFTER DELETE ON profiles
    REFERENCING OLD TABLE AS denorm_old
    FOR EACH STATEMENT EXECUTE FUNCTION denorm_log_profiles();

CREATE TRIGGER denorm_log_profile_groups_insert AFTER INSERT ON profile_groups
    REFERENCING NEW TABLE AS denorm_new
    FOR EACH STATEMENT EXECUTE FUNCTION denorm_log_profile_groups();
CREATE TRIGGER denorm_log_profile_groups_update AFTER UPDATE ON profile_groups
    REFERENCING OLD TABLE AS denorm_old NEW TABLE AS denorm_new
    FOR EACH STATEMENT EXECUTE FUNCTION denorm_log_profile_groups();
CREATE TRIGGER denorm_log_profile_groups_delete AFTER DELETE ON profile_groups
    REFERENCING OLD TABLE AS denorm_old
    FOR EACH STATEMENT EXECUTE FUNCTION denorm_log_profile_groups();

CREATE TRIGGER denorm_log_groups_update AFTER UPDATE ON groups
    REFERENCING OLD TABLE AS denorm_old NEW TABLE AS denorm_new
    FOR EACH STATEMENT EXECUTE FUNCTION denorm_log_groups();

CREATE TRIGGER denorm_forget_communities AFTER DELETE ON communities
    REFERENCING OLD TABLE AS denorm_old
    FOR EACH STATEMENT EXECUTE FUNCTION denorm_forget_communities();

CREATE TRIGGER denorm_forget_state_profiles AFTER TRUNCATE ON profiles
    FOR EACH STATEMENT EXECUTE FUNCTION denorm_forget_state();
CREATE TRIGGER denorm_forget_state_profile_groups AFTER TRUNCATE ON profile_groups
    FOR EACH STATEMENT EXECUTE FUNCTION denorm_forget_state();
CREATE TRIGGER denorm_forget_state_groups AFTER TRUNCATE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION denorm_forget_state();
"#;

const DOWN: &str = r#"
DROP TRIGGER IF EXISTS denorm_forget_state_groups ON groups;
DROP TRIGGER IF EXISTS denorm_forget_state_profile_groups ON profile_groups;
DROP TRIGGER IF EXISTS denorm_forget_state_profiles ON profiles;
DROP TRIGGER IF EXISTS denorm_log_groups_update ON groups;
DROP TRIGGER IF EXISTS denorm_log_profile_groups_delete ON profile_groups;
DROP TRIGGER IF EXISTS denorm_log_profile_groups_update ON profile_groups;
DROP TRIGGER IF EXISTS denorm_log_profile_groups_insert ON profile_groups;
DROP TRIGGER IF EXISTS denorm_log_profiles_delete ON profiles;
DROP TRIGGER IF EXISTS denorm_log_profiles_update ON profiles;
DROP TRIGGER IF EXISTS denorm_log_profiles_insert ON profiles;
DROP TRIGGER IF EXISTS denorm_forget_communities ON communities;
DROP FUNCTION IF EXISTS denorm_forget_communities();
DROP FUNCTION IF EXISTS denorm_forget_state();
DROP FUNCTION IF EXISTS denorm_log_groups();
DROP FUNCTION IF EXISTS denorm_log_profile_groups();
DROP FUNCTION IF EXISTS denorm_log_profiles();
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_lock_timeout(manager).await?;
        // Triggers and plpgsql functions have no sea-query builder; several
        // statements in one string need the simple (unprepared) protocol.
        let db = manager.get_connection();
        db.execute_unprepared(UP).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_lock_timeout(manager).await?;
        // As in `up`: no builder, several statements.
        let db = manager.get_connection();
        db.execute_unprepared(DOWN).await.map(|_| ())
    }
}
