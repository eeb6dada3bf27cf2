//! The environment a database belongs to (`SITEJOBS_ENV`), as `sitejobs
//! migrate up` recorded it in `sitejobs_environment`. The production guard
//! (service crate, `deploy::guard`) reads it before any command that wipes data.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

/// The protected environment.
pub const PRODUCTION: &str = "production";

/// The one-row table created by `m20261130_100001_create_sitejobs_environment`.
pub const TABLE: &str = "sitejobs_environment";

/// The environment recorded in the database; `None` when nothing was recorded
/// yet (or the table does not exist: a database never migrated by this version).
pub async fn recorded(db: &impl ConnectionTrait) -> Result<Option<String>, DbErr> {
    if !exists(db).await? {
        return Ok(None);
    }
    recorded_in_table(db).await
}

/// The recorded environment, for a caller that knows the table [`exists`].
pub async fn recorded_in_table(db: &impl ConnectionTrait) -> Result<Option<String>, DbErr> {
    let select = Query::select().column("environment").from(TABLE).to_owned();
    db.query_one(&select)
        .await?
        .map(|r| r.try_get::<String>("", "environment"))
        .transpose()
}

/// Whether the table exists: not before its migration (`migrate up -n N`
/// may stop short of it).
pub async fn exists(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    // Catalog lookup: sea-query has no "does this table exist" expression.
    Ok(db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT to_regclass($1) IS NOT NULL AS present",
            [TABLE.into()],
        ))
        .await?
        .map(|r| r.try_get::<bool>("", "present"))
        .transpose()?
        .unwrap_or(false))
}

/// Records `environment` as the database's (replacing what was there).
pub async fn record(db: &impl ConnectionTrait, environment: &str) -> Result<(), DbErr> {
    let insert = Query::insert()
        .into_table(TABLE)
        .columns(["singleton", "environment", "recorded_at"])
        .values([true.into(), environment.into(), Expr::current_timestamp()])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::column("singleton")
                .update_columns(["environment", "recorded_at"])
                .to_owned(),
        )
        .to_owned();
    db.execute(&insert).await.map(|_| ())
}
