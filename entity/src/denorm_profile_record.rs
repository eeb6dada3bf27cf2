//! Output of `denormalize-profiles`: one flattened row per profile.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "denorm_profile_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub community_id: i64,
    #[sea_orm(unique)]
    pub profile_id: i64,
    pub user_id: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub primary_group: Option<String>,
    #[sea_orm(column_type = "Array(RcOrArc::new(ColumnType::Text))")]
    pub groups: Vec<String>,
}

impl ActiveModelBehavior for ActiveModel {}
