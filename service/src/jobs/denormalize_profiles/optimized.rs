//! The production path: PostgreSQL aggregates each profile's group names, one
//! streamed query feeds a plain struct, and each batch of records is one
//! `INSERT ... SELECT FROM UNNEST` statement. Memory holds one batch at most.
use futures::TryStreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QuerySelect, Statement, TransactionTrait,
};

use entity::{group, profile};

use super::Record;
use crate::error::JobError;
use crate::progress::Progress;

/// Only the columns a record needs: no entity models for rows we only read.
#[derive(Debug, FromQueryResult)]
struct ProfileGroups {
    id: i64,
    user_id: i64,
    groups: Vec<String>,
}

/// Distinct names in byte order (`COLLATE "C"`, whatever the database's
/// collation); profiles without groups get `{}` rather than NULL.
const GROUPS_AGG: &str = r#"COALESCE(array_agg(DISTINCT "groups"."name" COLLATE "C") FILTER (WHERE "groups"."id" IS NOT NULL), '{}')"#;

/// Rebuilds `community` in one transaction; returns the records written.
pub(super) async fn rebuild(
    db: &DatabaseConnection,
    community: i64,
    precedence: &[String],
    batch: usize,
    progress: &Progress,
) -> Result<u64, JobError> {
    let txn = db.begin().await?;
    super::delete_records(&txn, community).await?;
    // Before the read starts, so it sees every change the dropped entries name.
    super::incremental::record_state(&txn, community, precedence).await?;
    // The reader fills the next batch while the writer inserts the previous
    // one, so both PostgreSQL backends work at once; the channel holds one
    // batch, so memory stays at about three batches whatever the community's size.
    let (batches, mut incoming) = tokio::sync::mpsc::channel::<Vec<Record>>(1);
    let read = async move {
        // The stream holds a pool connection of its own (the transaction's is
        // busy writing): it reads committed profiles, as any reader would.
        let mut rows = profile::Entity::find()
            .select_only()
            .column(profile::Column::Id)
            .column(profile::Column::UserId)
            .expr_as(Expr::cust(GROUPS_AGG), "groups")
            .left_join(group::Entity)
            .filter(profile::Column::CommunityId.eq(community))
            .group_by(profile::Column::Id)
            .into_model::<ProfileGroups>()
            .stream(db)
            .await?;
        let mut records = Vec::with_capacity(batch.min(100_000));
        while let Some(row) = rows.try_next().await? {
            records.push(Record::build(row.id, row.user_id, row.groups, precedence));
            if records.len() >= batch {
                let full = std::mem::replace(&mut records, Vec::with_capacity(batch.min(100_000)));
                // A closed channel means the writer failed: its error is the one to report.
                if batches.send(full).await.is_err() {
                    return Ok(());
                }
            }
        }
        if !records.is_empty() {
            let _ = batches.send(records).await;
        }
        Ok::<_, DbErr>(())
    };
    let write = async {
        let mut written = 0;
        while let Some(records) = incoming.recv().await {
            written += write_batch(&txn, community, &records).await?;
            progress.inc(records.len() as u64);
        }
        Ok::<_, DbErr>(written)
    };
    let ((), written) = futures::try_join!(read, write)?;
    txn.commit().await?;
    Ok(written)
}

/// Writes `records` of `community` in one statement, whatever their number:
/// five array parameters, so PostgreSQL's 65,535-parameter limit never applies.
pub async fn write_batch(
    db: &impl ConnectionTrait,
    community: i64,
    records: &[Record],
) -> Result<u64, DbErr> {
    if records.is_empty() {
        return Ok(0);
    }
    let mut profile_ids = Vec::with_capacity(records.len());
    let mut user_ids = Vec::with_capacity(records.len());
    let mut groups = Vec::with_capacity(records.len());
    let mut primary = Vec::with_capacity(records.len());
    for r in records {
        profile_ids.push(r.profile_id);
        user_ids.push(r.user_id);
        groups.push(array_literal(&r.groups));
        // 1-based position in the array; 0 reads as NULL (`arr[0]` is NULL).
        primary.push(r.primary.map_or(0, |i| i as i32 + 1));
    }
    // Raw SQL: the query builder has no UNNEST of array parameters. A text[]
    // column of ragged arrays cannot be unnested directly, so each record's
    // groups travel as one array literal, cast back to text[] once per row.
    let sql = r#"INSERT INTO denorm_profile_records (community_id, profile_id, user_id, primary_group, groups)
SELECT $1, u.profile_id, u.user_id, a.groups[u.primary_pos], a.groups
FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::int[]) AS u(profile_id, user_id, groups, primary_pos),
     LATERAL (SELECT u.groups::text[] AS groups) AS a"#;
    let stmt = Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            community.into(),
            profile_ids.into(),
            user_ids.into(),
            groups.into(),
            primary.into(),
        ],
    );
    Ok(db.execute_raw(stmt).await?.rows_affected())
}

/// PostgreSQL's text form of a text[]: `{"a","b \"c\""}`, every element quoted.
pub fn array_literal(names: &[String]) -> String {
    let mut out = String::with_capacity(2 + names.iter().map(|n| n.len() + 3).sum::<usize>());
    out.push('{');
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in name.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}
