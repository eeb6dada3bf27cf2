//! Bench cases of `denormalize-profiles`: communities of 10k, 200k and 1M
//! profiles with about 3 groups each (0 to 6, mean 3), built once with
//! `generate_series` SQL and reused. The naive strategy runs in full on the
//! 10k community, and there again, extrapolated, for the large ones. The
//! floor is PostgreSQL alone doing the same rebuild in one
//! `INSERT ... SELECT ... GROUP BY` (rolled back).
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

use crate::bench::{BenchCase, Floor, FloorKind, NaivePlan};
use crate::error::JobError;
use crate::registry::run_args;
use crate::scale::Scale;

use super::{DenormalizeProfiles, Settings, DEFAULT_PRECEDENCE, NAME};

/// The naive strategy runs in full up to this size, and on the community of
/// this size, extrapolated linearly (a query per profile), beyond it. A
/// smaller cap made the estimate swing 2x with process start-up and load.
const NAIVE_CAP: u64 = 10_000;

/// Group names the bench profiles draw from: the precedence names and 40 others.
fn group_names() -> Vec<String> {
    let mut names: Vec<String> = DEFAULT_PRECEDENCE.iter().map(|s| s.to_string()).collect();
    names.extend((0..40).map(|i| format!("bench-group-{i:02}")));
    names
}

fn sizes(scale: Scale) -> &'static [u64] {
    match scale {
        Scale::Tiny => &[1_000, 10_000],
        Scale::Small => &[10_000, 100_000],
        Scale::Medium | Scale::Large => &[10_000, 200_000, 1_000_000],
    }
}

fn label(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Builds the communities of `scale` once (reused by later runs) and returns one case per community
/// size; the naive strategy runs in full up to 10k profiles and is extrapolated from the 10k
/// community beyond.
pub async fn cases(db: &DatabaseConnection, scale: Scale) -> Result<Vec<BenchCase>, JobError> {
    let capped = ensure_community(db, NAIVE_CAP).await?;
    let mut cases = Vec::new();
    for &n in sizes(scale) {
        let id = ensure_community(db, n).await?;
        let args = |c: i64| {
            run_args::<DenormalizeProfiles>(&Settings {
                community: Some(c),
                ..Default::default()
            })
        };
        let naive = if n <= NAIVE_CAP {
            NaivePlan::Full
        } else {
            NaivePlan::Capped {
                args: args(capped)?,
                factor: n as f64 / NAIVE_CAP as f64,
            }
        };
        cases.push(BenchCase {
            job: NAME,
            label: format!("community of {} profiles, ~3 groups each", label(n)),
            args: args(id)?,
            naive,
            // Every run starts from an empty community, as the floor does.
            reset_sql: vec![format!(
                "DELETE FROM denorm_profile_records WHERE community_id = {id}"
            )],
            floors: vec![Floor {
                label: "PostgreSQL alone: DELETE + one INSERT ... SELECT ... GROUP BY".into(),
                kind: FloorKind::Sql(floor_sql(id)),
            }],
        });
        cases.push(incremental_case(id, n)?);
    }
    Ok(cases)
}

/// Profiles the incremental case changes before each run (a tenth of a small community).
pub const INCREMENTAL_CHANGES: u64 = 1_000;

/// `--incremental` on community `id` of `n` profiles after about
/// [`INCREMENTAL_CHANGES`] of them changed: half a new `user_id`, half a
/// membership added or removed. Each run starts from a complete community
/// (rebuilt by SQL, its state recorded and log emptied), so it never falls back.
fn incremental_case(id: i64, n: u64) -> Result<BenchCase, JobError> {
    let changes = INCREMENTAL_CHANGES.min(n / 10).max(2);
    let every = (n / changes).max(1);
    let half = changes / 2;
    let mut reset_sql = floor_sql(id);
    reset_sql.push(format!(
        "WITH applied AS (DELETE FROM denorm_profile_changes WHERE community_id = {id})
         INSERT INTO denorm_profile_refresh_state (community_id, precedence, refreshed_at)
         VALUES ({id}, ARRAY['staff', 'moderator', 'creator', 'member'], now())
         ON CONFLICT (community_id) DO UPDATE SET precedence = EXCLUDED.precedence"
    ));
    // The log and the records start vacuumed, as autovacuum keeps them
    // between runs (the rebuild above just rewrote the community's records).
    reset_sql.push("VACUUM denorm_profile_changes, denorm_profile_records".into());
    reset_sql.push(format!(
        "UPDATE profiles SET user_id = -user_id WHERE id IN
           (SELECT id FROM profiles WHERE community_id = {id} AND id % {every} = 0 ORDER BY id LIMIT {half})"
    ));
    // One statement toggles membership of 'staff': removed where present, added where not.
    reset_sql.push(format!(
        "WITH t AS (SELECT id FROM profiles WHERE community_id = {id} AND id % {every} = 1 ORDER BY id LIMIT {half}),
              g AS (SELECT id FROM groups WHERE name = 'staff'),
              d AS (DELETE FROM profile_groups pg USING t, g
                    WHERE pg.profile_id = t.id AND pg.group_id = g.id RETURNING pg.profile_id)
         INSERT INTO profile_groups (profile_id, group_id)
         SELECT t.id, g.id FROM t, g WHERE t.id NOT IN (SELECT profile_id FROM d)"
    ));
    Ok(BenchCase {
        job: NAME,
        label: format!(
            "community of {} profiles, {changes} changed, --incremental",
            label(n)
        ),
        args: run_args::<DenormalizeProfiles>(&Settings {
            community: Some(id),
            incremental: true,
            ..Default::default()
        })?,
        naive: NaivePlan::Skip,
        reset_sql,
        floors: Vec::new(),
    })
}

/// The same rebuild as the job, by PostgreSQL alone in two statements (the
/// default precedence spelled out as a CASE). Tests check it gives the job's rows.
pub fn floor_sql(community: i64) -> Vec<String> {
    let case: String = DEFAULT_PRECEDENCE
        .iter()
        .map(|p| format!("WHEN '{p}' = ANY(a.groups) THEN '{p}' "))
        .collect();
    vec![
        format!(
            "DELETE FROM denorm_profile_records WHERE community_id = {community} \
             OR profile_id IN (SELECT id FROM profiles WHERE community_id = {community})"
        ),
        format!(
            r#"INSERT INTO denorm_profile_records (community_id, profile_id, user_id, primary_group, groups)
SELECT {community}, a.id, a.user_id, CASE {case}ELSE a.groups[1] END, a.groups
FROM (SELECT p.id, p.user_id,
             COALESCE(array_agg(DISTINCT g.name COLLATE "C") FILTER (WHERE g.id IS NOT NULL), '{{}}') AS groups
      FROM profiles p
      LEFT JOIN profile_groups pg ON pg.profile_id = p.id
      LEFT JOIN groups g ON g.id = pg.group_id
      WHERE p.community_id = {community}
      GROUP BY p.id) AS a"#
        ),
    ]
}

/// The id of the bench community of `n` profiles, created (in one transaction,
/// so a half-built one never exists) when missing.
pub async fn ensure_community(db: &DatabaseConnection, n: u64) -> Result<i64, JobError> {
    let name = format!("bench:{NAME}:{n}");
    let found = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM communities WHERE name = $1 ORDER BY id LIMIT 1",
            [name.clone().into()],
        ))
        .await?;
    if let Some(row) = found {
        return Ok(row.try_get_by_index::<i64>(0)?);
    }
    tracing::info!(profiles = n, "creating the bench community");
    let txn = db.begin().await?;
    // Raw SQL throughout: bulk generation with generate_series has no ORM form.
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO groups (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING",
        [group_names().into()],
    ))
    .await?;
    let id = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO communities (name) VALUES ($1) RETURNING id",
            [name.into()],
        ))
        .await?
        .ok_or_else(|| JobError::Other("inserting the bench community returned no id".into()))?
        .try_get_by_index::<i64>(0)?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO profiles (community_id, user_id, display_name)
         SELECT $1, $1 * 10000000 + i, 'bench user ' || i FROM generate_series(1, $2::bigint) AS i",
        [id.into(), (n as i64).into()],
    ))
    .await?;
    // Profile p gets p % 7 groups (0 to 6, mean 3): positions p*7919 + k*9 mod 44
    // are distinct for k < 44 since gcd(9, 44) = 1.
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO profile_groups (profile_id, group_id)
         SELECT p.id, g.ids[1 + ((p.id * 7919 + k * 9) % array_length(g.ids, 1))]
         FROM profiles p
         CROSS JOIN (SELECT array_agg(id ORDER BY name) AS ids FROM groups WHERE name = ANY($2::text[])) AS g
         CROSS JOIN LATERAL generate_series(0, (p.id % 7) - 1) AS k
         WHERE p.community_id = $1",
        [id.into(), group_names().into()],
    ))
    .await?;
    txn.commit().await?;
    db.execute_unprepared("ANALYZE profiles, profile_groups, groups")
        .await?;
    Ok(id)
}
