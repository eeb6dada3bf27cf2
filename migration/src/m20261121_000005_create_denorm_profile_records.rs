use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("denorm_profile_records")
                    .col(big_pk_auto("id"))
                    .col(big_integer("community_id"))
                    .col(big_integer_uniq("profile_id"))
                    .col(big_integer("user_id"))
                    .col(text_null("primary_group"))
                    .col(array("groups", ColumnType::Text))
                    .to_owned(),
            )
            .await?;
        // The job replaces a whole community at a time: find its rows by index.
        manager
            .create_index(
                Index::create()
                    .name("idx_denorm_profile_records_community_id")
                    .table("denorm_profile_records")
                    .col("community_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("denorm_profile_records").to_owned())
            .await
    }
}
