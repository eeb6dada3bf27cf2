//! A mailing that was sent; its emails are purged after the retention period.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mailers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(indexed)]
    pub sent: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
