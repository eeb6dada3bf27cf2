//! A range of numbers, `[number_start, number_end]`, both ends inclusive.
//!
//! `number_range` is kept equal to `int4range(number_start, number_end, '[]')`
//! by a database trigger, whoever writes the row: leave it `NotSet` when
//! inserting or updating. It is read as PostgreSQL's canonical text form
//! (`"[10,21)"`), because sea-query's range type does not compile on this stack.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "my_numbers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub number_start: i32,
    #[sea_orm(indexed)]
    pub number_end: i32,
    #[sea_orm(
        column_type = r#"custom("int4range")"#,
        select_as = "text",
        save_as = "int4range",
        nullable
    )]
    pub number_range: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
