use sea_orm_migration::{prelude::*, schema::*};

// squawk-ignore-file prefer-bigint-over-int: contract section 1 fixes content_type_id as integer

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("daily_impression_stats")
                    .col(big_pk_auto("id"))
                    .col(date("date"))
                    .col(integer("content_type_id"))
                    .col(big_integer("object_id"))
                    .col(big_integer("total_impressions"))
                    .index(
                        Index::create()
                            .name("uq_daily_impression_stats_day_content")
                            .unique()
                            .col("date")
                            .col("content_type_id")
                            .col("object_id"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("daily_impression_stats").to_owned())
            .await
    }
}
