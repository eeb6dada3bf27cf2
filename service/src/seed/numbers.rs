//! `my_numbers`: ranges of mixed widths. 99% start in `[0, 100 000 000)`, so
//! overlap queries find neighbours, 1% anywhere in `integer` (negatives and
//! the top of the domain included). Widths: 80% below 100 (1 in 100 of them
//! a single point), 17% below 10 000, 3% below 10 000 000. `number_end` stays below 2147483647, as the contract
//! requires.
//!
//! `number_range` is written by the load itself, with the row trigger that
//! keeps it for every other writer switched off meanwhile (see `ddl::QUIET`).
use sea_orm::ConnectionTrait;

use super::hash::Gen;
use super::{insert, TableReport};
use crate::error::JobError;

const DENSE: u64 = 100_000_000;
/// Starts of the sparse 1%: from -1 000 000 up to the largest allowed end.
const SPARSE_LOW: i64 = -1_000_000;
const MAX_END: i64 = 2_147_483_646;

pub async fn seed(
    db: &impl ConnectionTrait,
    g: &Gen,
    numbers: u64,
) -> Result<TableReport, JobError> {
    let sparse_span = (MAX_END - SPARSE_LOW + 1) as u64;
    let sql = format!(
        "INSERT INTO my_numbers (id, number_start, number_end, number_range) \
         SELECT i, s, e, int4range(s, e, '[]') \
         FROM (SELECT i, s::int AS s, least(s + w, {MAX_END})::int AS e \
         FROM (SELECT i, \
                      CASE WHEN {where_} = 0 THEN {SPARSE_LOW} + {sparse} ELSE {dense} END AS s, \
                      CASE WHEN k < 80 THEN {narrow} WHEN k < 97 THEN {medium} ELSE {wide} END AS w \
               FROM (SELECT i, {k} AS k FROM generate_series(1::bigint, {numbers}) i) a) b) c",
        where_ = g.below("number.where", "i", 100),
        sparse = g.below("number.sparse", "i", sparse_span),
        dense = g.below("number.dense", "i", DENSE),
        k = g.below("number.kind", "i", 100),
        narrow = g.below("number.width", "i", 100),
        medium = g.below("number.width", "i", 10_000),
        wide = g.below("number.width", "i", 10_000_000),
    );
    insert(db, "my_numbers", sql).await
}
