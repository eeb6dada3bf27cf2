use sea_orm_migration::{prelude::*, schema::*};

/// How far `purge-emails` has got: the `(sent, id)` of the last mailer whose
/// emails are all deleted, and the highest mailer and email ids the purge has
/// accounted for (so late or backdated rows behind the watermark are found cheaply).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("purge_watermarks")
                    .col(text("job").primary_key())
                    .col(timestamp_with_time_zone("sent"))
                    .col(big_integer("mailer_id"))
                    .col(big_integer("mailers_seen"))
                    .col(big_integer("emails_seen"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("purge_watermarks").to_owned())
            .await
    }
}
