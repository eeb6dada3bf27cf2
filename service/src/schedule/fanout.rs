//! Jobs whose `--all` run is split into one run per unit, so that several
//! schedulers share the work: each unit is its own run with its own lock and
//! its own tick claim (`denormalize-profiles --community 7@2026-11-22T04:00:00Z`),
//! and whichever scheduler is free claims the next unclaimed unit.
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
    pub async fn list(self, db: &impl ConnectionTrait) -> Result<Vec<String>, JobError> {
        match self {
            Self::Communities => {
                let ids: Vec<i64> = community::Entity::find()
                    .select_only()
                    .column(community::Column::Id)
                    .order_by_asc(community::Column::Id)
                    .into_tuple()
                    .all(db)
                    .await?;
                Ok(ids.iter().map(i64::to_string).collect())
            }
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Communities => "one run per community",
        }
    }
}

/// `<job> <all_flag>` in a schedule runs as one `<job> <unit_flag> <unit>` per unit.
#[derive(Debug)]
pub struct Fanout {
    pub job: &'static str,
    pub all_flag: &'static str,
    pub unit_flag: &'static str,
    pub units: Units,
}

/// The jobs that fan out. `noop` mimics `denormalize-profiles`' shape so the
/// fan-out can be tested with a job that does nothing.
pub const FANOUTS: &[Fanout] = &[
    Fanout {
        job: "denormalize-profiles",
        all_flag: "--all",
        unit_flag: "--community",
        units: Units::Communities,
    },
    Fanout {
        job: "noop",
        all_flag: "--all",
        unit_flag: "--community",
        units: Units::Communities,
    },
];

impl Fanout {
    /// The entry's arguments with `all_flag` replaced by `unit_flag unit`.
    pub fn unit_args(&self, args: &[String], unit: &str) -> Vec<String> {
        let mut out: Vec<String> = args
            .iter()
            .filter(|a| *a != self.all_flag)
            .cloned()
            .collect();
        out.push(self.unit_flag.to_owned());
        out.push(unit.to_owned());
        out
    }
}
