//! The write-up's original: every old mailer's id in one list, then
//! `DELETE FROM emails WHERE mailer_id IN (<list>)`. PostgreSQL accepts at
//! most 65,535 bind parameters per statement, so a longer list is cut into
//! statements of that many ids; the caller runs them in one transaction, so
//! the purge stays all or nothing like the original single statement.
use chrono::{DateTime, Utc};
use entity::{email, mailer};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::error::JobError;

/// PostgreSQL's limit on bind parameters in one statement.
pub const MAX_BIND_PARAMS: usize = 65_535;

/// Deletes the emails of every mailer sent at or before `cutoff`; returns how many.
pub async fn purge(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64, JobError> {
    let old_mailers: Vec<i64> = mailer::Entity::find()
        .select_only()
        .column(mailer::Column::Id)
        .filter(mailer::Column::Sent.lte(cutoff))
        .into_tuple()
        .all(db)
        .await?;
    let mut deleted = 0;
    for ids in old_mailers.chunks(MAX_BIND_PARAMS) {
        deleted += email::Entity::delete_many()
            .filter(email::Column::MailerId.is_in(ids.iter().copied()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(deleted)
}
