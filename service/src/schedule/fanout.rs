//! The units a run over "everything" is split into under the scheduler, so
//! that several schedulers share the work: each unit is its own run with its
//! own lock and its own tick claim (`denormalize-profiles --community 7@2026-11-22T04:00:00Z`),
//! and whichever scheduler is free claims the next unclaimed unit. Which jobs
//! fan out, and how their settings name one unit, each job declares itself
//! ([`crate::registry::Register::fan_out`]).
use entity::community;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, QuerySelect};

use crate::error::JobError;

/// Where the units of a fanned-out run come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    /// Every community id, at the time of the tick.
    Communities,
}

impl Units {
    /// Every unit, at the time of the call.
    pub async fn list(self, db: &impl ConnectionTrait) -> Result<Vec<i64>, JobError> {
        match self {
            Self::Communities => {
                let ids: Vec<i64> = community::Entity::find()
                    .select_only()
                    .column(community::Column::Id)
                    .order_by_asc(community::Column::Id)
                    .into_tuple()
                    .all(db)
                    .await?;
                Ok(ids)
            }
        }
    }

    /// How `--check` describes the split.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Communities => "one run per community",
        }
    }
}
