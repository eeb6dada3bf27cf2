//! The explicit through entity of profiles M-N groups.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "profile_groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub profile_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_id: i64,
    #[sea_orm(belongs_to, from = "profile_id", to = "id")]
    pub profile: BelongsTo<super::profile::Entity>,
    #[sea_orm(belongs_to, from = "group_id", to = "id")]
    pub group: BelongsTo<super::group::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
