//! One day's impression count of one piece of content; written by `daily-impressions`.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "daily_impression_stats")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique_key = "day_content")]
    pub date: Date,
    #[sea_orm(unique_key = "day_content")]
    pub content_type_id: i32,
    #[sea_orm(unique_key = "day_content")]
    pub object_id: i64,
    pub total_impressions: i64,
    #[sea_orm(has_many, via = "daily_impression_stats_tag")]
    pub tags: HasMany<super::tag::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
