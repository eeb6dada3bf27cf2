use sea_orm_migration::{prelude::*, schema::*};

// squawk-ignore-file prefer-bigint-over-int: contract section 1 fixes number_start and number_end as integer

/// `my_numbers` as the second write-up's table started: two integer columns,
/// a B-tree index on each, and no range column yet (later migrations add it online).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("my_numbers")
                    .col(big_pk_auto("id"))
                    .col(integer("number_start"))
                    .col(integer("number_end"))
                    .check((
                        "my_numbers_start_le_end",
                        Expr::cust("number_start <= number_end"),
                    ))
                    .to_owned(),
            )
            .await?;
        for col in ["number_start", "number_end"] {
            manager
                .create_index(
                    Index::create()
                        .name(format!("idx_my_numbers_{col}"))
                        .table("my_numbers")
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("my_numbers").to_owned())
            .await
    }
}
