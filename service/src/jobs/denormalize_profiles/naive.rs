//! The write-up's original shape in SeaORM terms: stream the community's
//! profiles as entity models, load each profile's groups through the M-N
//! relation (one query per profile), and write records with `insert_many`
//! batches. Same steps, transaction and results as the optimized path.
use futures::TryStreamExt;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    ModelTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use entity::{denorm_profile_record, group, profile};

use super::Record;
use crate::error::JobError;
use crate::progress::Progress;

/// PostgreSQL's limit on bind parameters in one statement.
pub const MAX_BIND_PARAMS: usize = 65_535;
/// Parameters per record in an `insert_many` row.
const COLUMNS: usize = 5;

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
    super::incremental::record_state(&txn, community, precedence).await?;
    // Streamed on a pool connection of its own, as Django's `.iterator()` did.
    let mut profiles = profile::Entity::find()
        .filter(profile::Column::CommunityId.eq(community))
        .order_by_asc(profile::Column::Id)
        .stream(db)
        .await?;
    let mut records = Vec::with_capacity(batch.min(100_000));
    let mut written = 0;
    while let Some(p) = profiles.try_next().await? {
        // The N+1: one query per profile through profile_groups.
        let groups = p.find_related(group::Entity).all(&txn).await?;
        let names = groups.into_iter().map(|g| g.name).collect();
        records.push(Record::build(p.id, p.user_id, names, precedence));
        if records.len() >= batch {
            written += write_batch(&txn, community, &records).await?;
            progress.inc(records.len() as u64);
            records.clear();
        }
    }
    drop(profiles);
    written += write_batch(&txn, community, &records).await?;
    progress.inc(records.len() as u64);
    txn.commit().await?;
    Ok(written)
}

/// Writes `records` with `insert_many`, in chunks that stay under PostgreSQL's
/// bind-parameter limit (`insert_many` does not chunk by itself).
pub async fn write_batch(
    db: &impl ConnectionTrait,
    community: i64,
    records: &[Record],
) -> Result<u64, DbErr> {
    let mut written = 0;
    for chunk in records.chunks(MAX_BIND_PARAMS / COLUMNS) {
        let models = chunk.iter().map(|r| denorm_profile_record::ActiveModel {
            community_id: Set(community),
            profile_id: Set(r.profile_id),
            user_id: Set(r.user_id),
            primary_group: Set(r.primary_group().map(str::to_owned)),
            groups: Set(r.groups.clone()),
            ..Default::default()
        });
        written += denorm_profile_record::Entity::insert_many(models)
            .exec_without_returning(db)
            .await?;
    }
    Ok(written)
}
