use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("daily_impression_stats_tags")
                    .col(big_integer("daily_impression_stats_id"))
                    .col(big_integer("tag_id"))
                    .primary_key(
                        Index::create()
                            .col("daily_impression_stats_id")
                            .col("tag_id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_daily_impression_stats_tags_stats_id")
                            .from("daily_impression_stats_tags", "daily_impression_stats_id")
                            .to("daily_impression_stats", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_daily_impression_stats_tags_tag_id")
                            .from("daily_impression_stats_tags", "tag_id")
                            .to("tags", "id"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("daily_impression_stats_tags")
                    .to_owned(),
            )
            .await
    }
}
