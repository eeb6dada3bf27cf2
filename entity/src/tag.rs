//! A tag; attached to content through `content_tags` and to daily stats
//! through `daily_impression_stats_tags`.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tags")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "Text", unique)]
    pub name: String,
    #[sea_orm(has_many)]
    pub content_tags: HasMany<super::content_tag::Entity>,
    #[sea_orm(has_many, via = "daily_impression_stats_tag")]
    pub daily_impression_stats: HasMany<super::daily_impression_stats::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
