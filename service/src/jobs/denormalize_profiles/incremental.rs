//! `--incremental`: rewrite only the records of profiles the change log names.
//!
//! The triggers (migration `m20261130_200002`) log `(community, profile)` for
//! every write that can change a record. A run of community C takes C's
//! entries with `DELETE ... RETURNING` inside the transaction that applies
//! them, so exactly the entries it read are removed, and only if it commits;
//! an entry committed after that `DELETE` stays for the next run. Each named
//! profile is then recomputed from the current tables (never from the entry),
//! so applying an entry twice, or a change already seen, gives the same record.
//! A profile still in C gets its record upserted (taking it over from the
//! community it left, as a full rebuild does); one deleted or moved away
//! loses C's record.
use std::collections::BTreeSet;

use sea_orm::sea_query::{Expr, ExprTrait, PgFunc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QuerySelect, Statement, TransactionTrait,
};

use entity::{denorm_profile_record, group, profile};

use super::optimized::{upsert_batch, GROUPS_AGG};
use super::Record;

/// What an incremental run of a community does.
pub(super) enum Plan {
    /// A full rebuild, for this reason.
    Full(String),
    /// Apply this many pending log entries (0: nothing to do).
    Apply(u64),
}

/// Decides between applying the log and a full rebuild: two small statements.
pub(super) async fn plan(
    db: &DatabaseConnection,
    community: i64,
    precedence: &[String],
    max_changes: u64,
) -> Result<Plan, DbErr> {
    // Raw SQL: the state table is written only inside CTEs with the log (see
    // `record_state`), so it has no entity of its own.
    let state = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT precedence FROM denorm_profile_refresh_state WHERE community_id = $1",
            [community.into()],
        ))
        .await?;
    let Some(state) = state else {
        return Ok(Plan::Full("first rebuild of this community".into()));
    };
    let last: Vec<String> = state.try_get_by_index(0)?;
    if last != precedence {
        return Ok(Plan::Full(format!(
            "precedence changed from {} to {}",
            last.join(","),
            precedence.join(",")
        )));
    }
    let pending = pending_changes(db, community, max_changes).await?;
    if pending > max_changes {
        return Ok(Plan::Full(format!(
            "more than {max_changes} changes pending (--max-changes): a full rebuild is cheaper"
        )));
    }
    Ok(Plan::Apply(pending))
}

/// Log entries of `community`, counted up to `cap + 1` (an index range scan, never the whole log).
pub(super) async fn pending_changes(
    db: &impl ConnectionTrait,
    community: i64,
    cap: u64,
) -> Result<u64, DbErr> {
    // Raw SQL: a count over a LIMITed subquery has no query-builder form here.
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) FROM (SELECT 1 FROM denorm_profile_changes WHERE community_id = $1 LIMIT $2) AS c",
            [community.into(), i64::try_from(cap.saturating_add(1)).unwrap_or(i64::MAX).into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0) as u64)
}

/// Inside a full rebuild's transaction, before its read starts: drops the
/// community's log entries (the read that follows sees every change they name)
/// and records the precedence used. One statement.
pub async fn record_state(
    db: &impl ConnectionTrait,
    community: i64,
    precedence: &[String],
) -> Result<(), DbErr> {
    // Raw SQL: a data-modifying CTE (DELETE, then upsert) has no builder form.
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "WITH applied AS (DELETE FROM denorm_profile_changes WHERE community_id = $1)
         INSERT INTO denorm_profile_refresh_state (community_id, precedence, refreshed_at)
         VALUES ($1, $2, now())
         ON CONFLICT (community_id) DO UPDATE
         SET precedence = EXCLUDED.precedence, refreshed_at = EXCLUDED.refreshed_at",
        [community.into(), precedence.to_vec().into()],
    ))
    .await?;
    Ok(())
}

/// What one incremental run of a community did.
#[derive(Debug, Default)]
pub(super) struct Applied {
    /// Log entries taken (a profile may have several).
    pub changes: u64,
    /// Distinct profiles recomputed.
    pub profiles: u64,
    /// Records written or deleted.
    pub rows: u64,
}

#[derive(Debug, FromQueryResult)]
struct ProfileGroups {
    id: i64,
    user_id: i64,
    groups: Vec<String>,
}

/// Applies `community`'s logged changes in one transaction.
pub(super) async fn apply(
    db: &DatabaseConnection,
    community: i64,
    precedence: &[String],
) -> Result<Applied, DbErr> {
    let txn = db.begin().await?;
    // Raw SQL: DELETE ... RETURNING one column of rows we never load as models.
    let taken = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM denorm_profile_changes WHERE community_id = $1 RETURNING profile_id",
            [community.into()],
        ))
        .await?;
    let changes = taken.len() as u64;
    let changed: BTreeSet<i64> = taken
        .iter()
        .map(|r| r.try_get_by_index::<i64>(0))
        .collect::<Result<_, _>>()?;
    if changed.is_empty() {
        txn.commit().await?;
        return Ok(Applied::default());
    }
    let ids: Vec<i64> = changed.iter().copied().collect();
    // Read after the DELETE, in the same transaction: every change the taken
    // entries name is committed and visible.
    let current = profile::Entity::find()
        .select_only()
        .column(profile::Column::Id)
        .column(profile::Column::UserId)
        .expr_as(Expr::cust(GROUPS_AGG), "groups")
        .left_join(group::Entity)
        .filter(profile::Column::CommunityId.eq(community))
        .filter(Expr::col((profile::Entity, profile::Column::Id)).eq(PgFunc::any(Expr::val(ids))))
        .group_by(profile::Column::Id)
        .into_model::<ProfileGroups>()
        .all(&txn)
        .await?;
    let records: Vec<Record> = current
        .into_iter()
        .map(|p| Record::build(p.id, p.user_id, p.groups, precedence))
        .collect();
    let kept: BTreeSet<i64> = records.iter().map(|r| r.profile_id).collect();
    let gone: Vec<i64> = changed.difference(&kept).copied().collect();
    let mut rows = 0;
    if !gone.is_empty() {
        rows += denorm_profile_record::Entity::delete_many()
            .filter(denorm_profile_record::Column::CommunityId.eq(community))
            .filter(
                Expr::col(denorm_profile_record::Column::ProfileId)
                    .eq(PgFunc::any(Expr::val(gone))),
            )
            .exec(&txn)
            .await?
            .rows_affected;
    }
    rows += upsert_batch(&txn, community, &records).await?;
    txn.commit().await?;
    Ok(Applied {
        changes,
        profiles: changed.len() as u64,
        rows,
    })
}
