//! How far `purge-emails` has got (one row per purge job): every mailer at or
//! before `(sent, mailer_id)` with an id up to `mailers_seen` has no email left
//! with an id up to `emails_seen`.
use sea_orm::entity::prelude::*;

/// A row of `purge_watermarks`, written only by the optimized `purge-emails`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purge_watermarks")]
pub struct Model {
    /// Primary key: the purge job's name (`purge-emails`).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub job: String,
    /// `sent` of the last mailer whose emails are all gone; with `mailer_id`, the watermark in
    /// `(sent, id)` order.
    pub sent: DateTimeUtc,
    /// Id of the last mailer whose emails are all gone (ties on `sent` are broken by id).
    pub mailer_id: i64,
    /// Highest `mailers.id` when the watermark was written: later mailers behind it are found by a
    /// catch-up probe.
    pub mailers_seen: i64,
    /// Highest `emails.id` when the watermark was written: newer emails of purged mailers are found
    /// by a catch-up probe.
    pub emails_seen: i64,
    /// When the watermark was last written.
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
