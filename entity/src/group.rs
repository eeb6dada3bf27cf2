//! A named group (`staff`, `moderator`, ...); profiles join it through `profile_groups`.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "groups")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "Text", unique)]
    pub name: String,
    #[sea_orm(has_many, via = "profile_group")]
    pub profiles: HasMany<super::profile::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
