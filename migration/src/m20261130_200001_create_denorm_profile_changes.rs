use sea_orm_migration::{prelude::*, schema::*};

/// The change log and per-community state of `denormalize-profiles
/// --incremental`. A row of `denorm_profile_changes` says "the record of
/// `profile_id` in `community_id` may be stale"; the triggers of the next
/// migration write them, a rebuild of that community deletes the ones it
/// applied. `denorm_profile_refresh_state` remembers the precedence list of a
/// community's last rebuild (another list, or no row, means a full rebuild).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("denorm_profile_changes")
                    .col(big_pk_auto("id"))
                    .col(big_integer("community_id"))
                    .col(big_integer("profile_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_denorm_profile_changes_community_id")
                    .table("denorm_profile_changes")
                    .col("community_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("denorm_profile_refresh_state")
                    .col(big_integer("community_id").primary_key())
                    .col(array("precedence", ColumnType::Text))
                    .col(timestamp_with_time_zone("refreshed_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_denorm_profile_refresh_state_community_id")
                            .from("denorm_profile_refresh_state", "community_id")
                            .to("communities", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("denorm_profile_refresh_state")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("denorm_profile_changes").to_owned())
            .await
    }
}
