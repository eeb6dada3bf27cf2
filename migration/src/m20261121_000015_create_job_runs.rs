use sea_orm_migration::{prelude::*, schema::*};

/// The runner's history: one row per job run, and the claim of a schedule tick.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("job_runs")
                    .col(big_pk_auto("id"))
                    .col(text("job"))
                    .col(text("lock_key"))
                    .col(text("strategy"))
                    .col(json_binary("params"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .col(text("status"))
                    .col(big_integer("rows").default(0))
                    .col(big_integer("db_statements").default(0))
                    .col(big_integer("redis_commands").default(0))
                    .col(text_null("error"))
                    .col(text_null("host"))
                    .col(text_null("tick").unique_key())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_runs_job_started_at")
                    .table("job_runs")
                    .col("job")
                    .col("started_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("job_runs").to_owned())
            .await
    }
}
