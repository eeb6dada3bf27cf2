use sea_orm_migration::{prelude::*, schema::*};

use crate::environment::{self, TABLE};

/// The environment (`SITEJOBS_ENV`) the database belongs to, recorded by
/// `sitejobs migrate up`: one row, read by the production guard before any
/// command that wipes data (see `migration::environment`).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .if_not_exists()
                    // One row at most: the key is always true.
                    .col(
                        boolean("singleton")
                            .primary_key()
                            .check(Expr::col("singleton")),
                    )
                    .col(text("environment"))
                    .col(timestamp_with_time_zone("recorded_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if environment::recorded(manager.get_connection())
            .await?
            .as_deref()
            == Some(environment::PRODUCTION)
        {
            tracing::warn!("keeping {TABLE}: the database is recorded as production");
            return Ok(());
        }
        manager
            .drop_table(Table::drop().table(TABLE).to_owned())
            .await
    }
}
