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
                    .table("impressions")
                    .col(big_pk_auto("id"))
                    .col(integer("content_type_id"))
                    .col(big_integer("object_id"))
                    .col(timestamp_with_time_zone("created"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_impressions_created")
                    .table("impressions")
                    .col("created")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("impressions").to_owned())
            .await
    }
}
