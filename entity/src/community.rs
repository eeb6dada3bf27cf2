//! A community: the unit that `denormalize-profiles` rebuilds.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "communities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    #[sea_orm(has_many)]
    pub profiles: HasMany<super::profile::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
