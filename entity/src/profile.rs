//! A member's profile in one community; its groups come through `profile_groups`.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "profiles")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub community_id: i64,
    pub user_id: i64,
    #[sea_orm(column_type = "Text")]
    pub display_name: String,
    #[sea_orm(belongs_to, from = "community_id", to = "id")]
    pub community: BelongsTo<super::community::Entity>,
    #[sea_orm(has_many, via = "profile_group")]
    pub groups: HasMany<super::group::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
