//! A community: the unit that `denormalize-profiles` rebuilds.
use sea_orm::entity::prelude::*;

/// A row of `communities`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "communities")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The community's name.
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// Its profiles.
    #[sea_orm(has_many)]
    pub profiles: HasMany<super::profile::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
