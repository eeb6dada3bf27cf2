//! The jobs' output tables, filled in the seed's own transaction with what the
//! optimized jobs would have written, so a seeded database looks like
//! production's: `denorm_profile_records` for every community (default
//! precedence) and `daily_impression_stats` with their tags for every UTC day
//! of impressions that has ended. Each is one set-based `INSERT ... SELECT`
//! over the freshly loaded tables: the jobs themselves read committed data on
//! connections of their own and would see none of it before the commit. The
//! tests check both tables against what running the jobs gives.
use sea_orm::ConnectionTrait;

use super::{insert, TableReport};
use crate::error::JobError;
use crate::jobs::denormalize_profiles::DEFAULT_PRECEDENCE;

pub async fn seed(db: &impl ConnectionTrait) -> Result<Vec<TableReport>, JobError> {
    let records = insert(
        db,
        "denorm_profile_records",
        records_sql(&DEFAULT_PRECEDENCE),
    )
    .await?;
    let stats = insert(db, "daily_impression_stats", STATS_SQL.to_owned()).await?;
    let links = insert(db, "daily_impression_stats_tags", LINKS_SQL.to_owned()).await?;
    Ok(vec![records, stats, links])
}

/// One record per profile: `groups` = its distinct group names in byte order,
/// `primary_group` = the first precedence name among them, else the smallest,
/// else NULL (`'{}'[1]` is NULL), as `denormalize-profiles` computes them.
fn records_sql(precedence: &[&str]) -> String {
    let names: Vec<String> = precedence
        .iter()
        .map(|p| format!("'{}'", p.replace('\'', "''")))
        .collect();
    format!(
        r#"INSERT INTO denorm_profile_records (id, community_id, profile_id, user_id, primary_group, groups)
SELECT p.id, p.community_id, p.id, p.user_id,
       COALESCE((SELECT x.name FROM unnest(ARRAY[{names}]::text[]) WITH ORDINALITY AS x(name, pos)
                 WHERE x.name = ANY (g.groups) ORDER BY x.pos LIMIT 1),
                g.groups[1]),
       g.groups
FROM profiles p
LEFT JOIN (SELECT pg.profile_id, array_agg(DISTINCT gr.name COLLATE "C") AS groups
           FROM profile_groups pg JOIN groups gr ON gr.id = pg.group_id
           GROUP BY pg.profile_id) a ON a.profile_id = p.id
CROSS JOIN LATERAL (SELECT COALESCE(a.groups, '{{}}'::text[]) AS groups) g"#,
        names = names.join(", ")
    )
}

/// Impressions per content per ended UTC day (`daily-impressions`' count), ids
/// in (date, content) order so the same seed gives the same ids. The CTE is
/// materialized so PostgreSQL hashes the 7M impressions of `large` into their
/// groups and sorts only the groups for the ids, instead of sorting every
/// impression on disk: 23 s instead of 38 s there (same load, seed's work_mem).
const STATS_SQL: &str = r#"INSERT INTO daily_impression_stats (id, date, content_type_id, object_id, total_impressions)
WITH s AS MATERIALIZED (
    SELECT (created AT TIME ZONE 'UTC')::date AS d, content_type_id, object_id, count(*) AS n
    FROM impressions
    WHERE created < date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
    GROUP BY 1, 2, 3)
SELECT row_number() OVER (ORDER BY d, content_type_id, object_id), d, content_type_id, object_id, n
FROM s"#;

/// Each stats row's tags = its content's `content_tags`.
const LINKS_SQL: &str = r#"INSERT INTO daily_impression_stats_tags (daily_impression_stats_id, tag_id)
SELECT s.id, ct.tag_id
FROM daily_impression_stats s
JOIN content_tags ct ON ct.content_type_id = s.content_type_id AND ct.object_id = s.object_id"#;
