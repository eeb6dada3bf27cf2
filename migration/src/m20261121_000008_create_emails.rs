use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `mailer_id` is a soft reference on purpose: no foreign key, only an index.
        manager
            .create_table(
                Table::create()
                    .table("emails")
                    .col(big_pk_auto("id"))
                    .col(big_integer("mailer_id"))
                    .col(text("recipient"))
                    .col(text("body"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_emails_mailer_id")
                    .table("emails")
                    .col("mailer_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("emails").to_owned())
            .await
    }
}
