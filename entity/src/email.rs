//! One email of a mailer. `mailer_id` is a soft reference: indexed, with no
//! foreign key, so emails may outlive (or predate) their mailer row.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "emails")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub mailer_id: i64,
    #[sea_orm(column_type = "Text")]
    pub recipient: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

impl ActiveModelBehavior for ActiveModel {}
