//! One view of a piece of content (`content_type_id`, `object_id`).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "impressions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub content_type_id: i32,
    pub object_id: i64,
    #[sea_orm(indexed)]
    pub created: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
