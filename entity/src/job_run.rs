//! The history of job runs: one row per run, written by the runner.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "Text")]
    pub job: String,
    #[sea_orm(column_type = "Text")]
    pub lock_key: String,
    #[sea_orm(column_type = "Text")]
    pub strategy: String,
    pub params: Json,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// `running` until the run ends; a check constraint keeps out anything else.
    pub status: RunStatus,
    pub rows: i64,
    pub db_statements: i64,
    pub redis_commands: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub host: Option<String>,
    /// The schedule tick this run claimed (`job@2026-11-21T03:30:00Z`), unique when set.
    #[sea_orm(column_type = "Text", nullable, unique)]
    pub tick: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}

/// Where a run is: the only values `job_runs.status` can hold (a check
/// constraint enforces it), and the `status` of a run's JSON report.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started and not ended yet (or its process died; the next run of its lock key closes it).
    #[sea_orm(string_value = "running")]
    Running,
    /// Ended successfully.
    #[sea_orm(string_value = "ok")]
    Ok,
    /// Failed, was interrupted, or was abandoned; its changes were rolled back.
    #[sea_orm(string_value = "error")]
    Error,
    /// Did nothing because another run held the same lock key (or claimed the same tick).
    #[sea_orm(string_value = "locked")]
    Locked,
}

impl RunStatus {
    /// The status as stored and printed (`ok`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Locked => "locked",
        }
    }

    /// The contract's exit code for a run that ended so (`running` has none: 1).
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Locked => 75,
            Self::Running | Self::Error => 1,
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
