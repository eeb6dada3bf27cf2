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
                    .table("content_tags")
                    .col(integer("content_type_id"))
                    .col(big_integer("object_id"))
                    .col(big_integer("tag_id"))
                    .primary_key(
                        Index::create()
                            .col("content_type_id")
                            .col("object_id")
                            .col("tag_id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_content_tags_tag_id")
                            .from("content_tags", "tag_id")
                            .to("tags", "id"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("content_tags").to_owned())
            .await
    }
}
