//! The explicit through entity of profiles M-N groups.
use sea_orm::entity::prelude::*;

/// A row of `profile_groups`: one profile in one group; the primary key is both columns.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "profile_groups")]
pub struct Model {
    /// The profile, a foreign key to `profiles.id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub profile_id: i64,
    /// The group, a foreign key to `groups.id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_id: i64,
    /// The profile of this membership (through `profile_id`).
    #[sea_orm(belongs_to, from = "profile_id", to = "id")]
    pub profile: BelongsTo<super::profile::Entity>,
    /// The group of this membership (through `group_id`).
    #[sea_orm(belongs_to, from = "group_id", to = "id")]
    pub group: BelongsTo<super::group::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
