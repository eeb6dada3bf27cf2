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
    #[sea_orm(column_type = "Text")]
    pub status: String,
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
