//! The migrated schema is exactly the contract's (section 1), and migrations go down and up again.
use std::collections::BTreeSet;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tests::TestDb;

/// (table, column, type as PostgreSQL names it, nullable)
const COLUMNS: &[(&str, &str, &str, bool)] = &[
    ("communities", "id", "int8", false),
    ("communities", "name", "text", false),
    ("profiles", "id", "int8", false),
    ("profiles", "community_id", "int8", false),
    ("profiles", "user_id", "int8", false),
    ("profiles", "display_name", "text", false),
    ("groups", "id", "int8", false),
    ("groups", "name", "text", false),
    ("profile_groups", "profile_id", "int8", false),
    ("profile_groups", "group_id", "int8", false),
    ("denorm_profile_records", "id", "int8", false),
    ("denorm_profile_records", "community_id", "int8", false),
    ("denorm_profile_records", "profile_id", "int8", false),
    ("denorm_profile_records", "user_id", "int8", false),
    ("denorm_profile_records", "primary_group", "text", true),
    ("denorm_profile_records", "groups", "_text", false),
    ("videos", "id", "int8", false),
    ("videos", "title", "text", false),
    ("mailers", "id", "int8", false),
    ("mailers", "subject", "text", false),
    ("mailers", "sent", "timestamptz", false),
    ("emails", "id", "int8", false),
    ("emails", "mailer_id", "int8", false),
    ("emails", "recipient", "text", false),
    ("emails", "body", "text", false),
    ("impressions", "id", "int8", false),
    ("impressions", "content_type_id", "int4", false),
    ("impressions", "object_id", "int8", false),
    ("impressions", "created", "timestamptz", false),
    ("tags", "id", "int8", false),
    ("tags", "name", "text", false),
    ("content_tags", "content_type_id", "int4", false),
    ("content_tags", "object_id", "int8", false),
    ("content_tags", "tag_id", "int8", false),
    ("daily_impression_stats", "id", "int8", false),
    ("daily_impression_stats", "date", "date", false),
    ("daily_impression_stats", "content_type_id", "int4", false),
    ("daily_impression_stats", "object_id", "int8", false),
    ("daily_impression_stats", "total_impressions", "int8", false),
    (
        "daily_impression_stats_tags",
        "daily_impression_stats_id",
        "int8",
        false,
    ),
    ("daily_impression_stats_tags", "tag_id", "int8", false),
    ("my_numbers", "id", "int8", false),
    ("my_numbers", "number_start", "int4", false),
    ("my_numbers", "number_end", "int4", false),
    ("my_numbers", "number_range", "int4range", true),
];

const CONTRACT_TABLES: &[&str] = &[
    "communities",
    "profiles",
    "groups",
    "profile_groups",
    "denorm_profile_records",
    "videos",
    "mailers",
    "emails",
    "impressions",
    "tags",
    "content_tags",
    "daily_impression_stats",
    "daily_impression_stats_tags",
    "my_numbers",
];

async fn strings(db: &DatabaseConnection, sql: &str) -> BTreeSet<String> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("catalog query");
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("text column"))
        .collect()
}

#[tokio::test]
async fn migrated_columns_match_the_contract() {
    let t = TestDb::new().await;
    let list = CONTRACT_TABLES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(",");
    let actual = strings(
        &t.db,
        &format!(
            "SELECT table_name || '.' || column_name || ':' || udt_name || ':' || is_nullable
             FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name IN ({list})"
        ),
    )
    .await;
    let expected: BTreeSet<String> = COLUMNS
        .iter()
        .map(|(t, c, ty, null)| format!("{t}.{c}:{ty}:{}", if *null { "YES" } else { "NO" }))
        .collect();
    assert_eq!(actual, expected);
}

#[tokio::test]
async fn ids_are_generated_by_the_database() {
    let t = TestDb::new().await;
    let without_default = strings(
        &t.db,
        "SELECT table_name FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name = 'id'
           AND column_default IS NULL AND is_identity = 'NO'",
    )
    .await;
    assert!(
        without_default.is_empty(),
        "ids without a generator: {without_default:?}"
    );
}

#[tokio::test]
async fn keys_and_constraints_match_the_contract() {
    let t = TestDb::new().await;
    // Every constraint as table:type:columns(:referenced table and delete rule).
    let constraints = strings(
        &t.db,
        "SELECT c.conrelid::regclass::text || ':' || c.contype::text || ':' ||
                (SELECT string_agg(a.attname, ',' ORDER BY k.ord)
                   FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) ||
                CASE WHEN c.contype = 'f' THEN ':' || c.confrelid::regclass::text || ':' || c.confdeltype::text ELSE '' END
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f', 'c')
           AND c.conrelid::regclass::text <> 'seaql_migrations'",
    )
    .await;
    for want in [
        "profile_groups:p:profile_id,group_id",
        "content_tags:p:content_type_id,object_id,tag_id",
        "daily_impression_stats_tags:p:daily_impression_stats_id,tag_id",
        "profiles:f:community_id:communities:a",
        "profile_groups:f:profile_id:profiles:a",
        "profile_groups:f:group_id:groups:a",
        "content_tags:f:tag_id:tags:a",
        "daily_impression_stats_tags:f:daily_impression_stats_id:daily_impression_stats:c",
        "daily_impression_stats_tags:f:tag_id:tags:a",
        "my_numbers:c:number_start,number_end",
    ] {
        assert!(
            constraints.contains(want),
            "missing constraint {want}; have {constraints:#?}"
        );
    }
    assert!(
        !constraints.iter().any(|c| c.starts_with("emails:f:")),
        "emails.mailer_id must be a soft reference: {constraints:#?}"
    );
    // Uniqueness, from whichever constraint or unique index provides it.
    let unique = strings(
        &t.db,
        "SELECT i.indrelid::regclass::text || ':' ||
                (SELECT string_agg(a.attname, ',' ORDER BY k.ord)
                   FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
         FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND i.indisunique AND NOT i.indisprimary",
    )
    .await;
    for want in [
        "groups:name",
        "tags:name",
        "denorm_profile_records:profile_id",
        "daily_impression_stats:date,content_type_id,object_id",
    ] {
        assert!(
            unique.contains(want),
            "missing unique {want}; have {unique:#?}"
        );
    }
}

#[tokio::test]
async fn indexes_match_the_contract() {
    let t = TestDb::new().await;
    // Leading column of every index, with its access method.
    let indexes = strings(
        &t.db,
        "SELECT t.relname || ':' || a.attname || ':' || am.amname
         FROM pg_index i
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_class ix ON ix.oid = i.indexrelid
         JOIN pg_am am ON am.oid = ix.relam
         JOIN pg_namespace n ON n.oid = t.relnamespace
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
         WHERE n.nspname = 'public'",
    )
    .await;
    for want in [
        "profiles:community_id:btree",
        "mailers:sent:btree",
        "emails:mailer_id:btree",
        "impressions:created:btree",
        "my_numbers:number_start:btree",
        "my_numbers:number_end:btree",
        "my_numbers:number_range:gist",
    ] {
        assert!(
            indexes.contains(want),
            "missing index {want}; have {indexes:#?}"
        );
    }
}

/// Incremental runs update records in place: a tenth of each page stays free
/// so that the new versions fit beside the old (heap-only, no index writes).
#[tokio::test]
async fn denorm_records_keep_room_for_in_place_updates() {
    let t = TestDb::new().await;
    let options = strings(
        &t.db,
        "SELECT unnest(reloptions) FROM pg_class WHERE relname = 'denorm_profile_records'",
    )
    .await;
    assert!(options.contains("fillfactor=90"), "{options:?}");
}

#[tokio::test]
async fn migrations_go_down_to_zero_and_up_again() {
    let t = TestDb::empty().await;
    Migrator::up(&t.db, None).await.expect("up");
    let applied = Migrator::get_applied_migrations(&t.db)
        .await
        .expect("status")
        .len();
    assert_eq!(applied, Migrator::migrations().len());
    Migrator::reset(&t.db).await.expect("down to zero");
    let left = strings(
        &t.db,
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'seaql_migrations'",
    )
    .await;
    assert!(left.is_empty(), "tables left after reset: {left:?}");
    Migrator::up(&t.db, None).await.expect("up again");
    assert!(Migrator::get_pending_migrations(&t.db)
        .await
        .expect("status")
        .is_empty());
}
