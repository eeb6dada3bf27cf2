//! The explicit through entity of daily impression stats M-N tags
//! (deleted with its stats row: `ON DELETE CASCADE`).
use sea_orm::entity::prelude::*;

/// A row of `daily_impression_stats_tags`: one tag of one stats row; the primary key is both
/// columns.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "daily_impression_stats_tags")]
pub struct Model {
    /// The stats row, a foreign key to `daily_impression_stats.id` (deleted with it).
    #[sea_orm(primary_key, auto_increment = false)]
    pub daily_impression_stats_id: i64,
    /// The tag, a foreign key to `tags.id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag_id: i64,
    /// The stats row this link belongs to (through `daily_impression_stats_id`).
    #[sea_orm(
        belongs_to,
        from = "daily_impression_stats_id",
        to = "id",
        on_delete = "Cascade"
    )]
    pub daily_impression_stats: BelongsTo<super::daily_impression_stats::Entity>,
    /// The tag this link names (through `tag_id`).
    #[sea_orm(belongs_to, from = "tag_id", to = "id")]
    pub tag: BelongsTo<super::tag::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
