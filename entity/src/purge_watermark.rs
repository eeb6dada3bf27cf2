//! How far `purge-emails` has got (one row per purge job): every mailer at or
//! before `(sent, mailer_id)` with an id up to `mailers_seen` has no email left
//! with an id up to `emails_seen`.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purge_watermarks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub job: String,
    pub sent: DateTimeUtc,
    pub mailer_id: i64,
    pub mailers_seen: i64,
    pub emails_seen: i64,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
