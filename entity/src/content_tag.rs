//! The tags of a piece of content (`content_type_id`, `object_id`): the
//! through entity between content (a generic reference) and tags.
use sea_orm::entity::prelude::*;

/// A row of `content_tags`: one tag on one piece of content; the primary key is all three columns.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_tags")]
pub struct Model {
    /// Kind of content (a Django-style content type id), with `object_id` naming the content.
    #[sea_orm(primary_key, auto_increment = false)]
    pub content_type_id: i32,
    /// Id of the content within its type; a generic reference, so no foreign key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_id: i64,
    /// The tag, a foreign key to `tags.id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag_id: i64,
    /// The tag this row attaches (through `tag_id`).
    #[sea_orm(belongs_to, from = "tag_id", to = "id")]
    pub tag: BelongsTo<super::tag::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
