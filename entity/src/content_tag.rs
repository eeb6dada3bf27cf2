//! The tags of a piece of content (`content_type_id`, `object_id`): the
//! through entity between content (a generic reference) and tags.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub content_type_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag_id: i64,
    #[sea_orm(belongs_to, from = "tag_id", to = "id")]
    pub tag: BelongsTo<super::tag::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
