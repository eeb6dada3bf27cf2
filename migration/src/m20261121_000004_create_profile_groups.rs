use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("profile_groups")
                    .col(big_integer("profile_id"))
                    .col(big_integer("group_id"))
                    .primary_key(Index::create().col("profile_id").col("group_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_profile_groups_profile_id")
                            .from("profile_groups", "profile_id")
                            .to("profiles", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_profile_groups_group_id")
                            .from("profile_groups", "group_id")
                            .to("groups", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        // The primary key serves lookups by profile; this one serves "members of a group".
        manager
            .create_index(
                Index::create()
                    .name("idx_profile_groups_group_id")
                    .table("profile_groups")
                    .col("group_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("profile_groups").to_owned())
            .await
    }
}
