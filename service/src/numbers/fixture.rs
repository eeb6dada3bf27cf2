//! `sitejobs numbers load FILE.json`: Django-style fixtures of `my_number`s,
//! all or nothing.
//!
//! Every entry is checked before anything is written ([`parse`]), so a bad
//! file is one bad-input error naming the entry; then [`load`] upserts all
//! rows in one transaction (an existing pk is overwritten, as Django's
//! `loaddata` does) and moves the id sequence past the largest id.
use std::collections::HashMap;

use entity::my_number;
use migration::number_ranges::MAX_NUMBER_END;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, EntityTrait, Statement, TransactionSession, TransactionTrait,
};
use serde_json::Value;

use crate::error::JobError;

/// One validated fixture entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixtureRow {
    /// The entry's `pk`: the row's id (an existing row with it is overwritten).
    pub pk: i64,
    /// First number, inclusive; checked to be at most `number_end`.
    pub number_start: i32,
    /// Last number, inclusive; checked to be below `i32::MAX`.
    pub number_end: i32,
}

/// Rows per `INSERT`: PostgreSQL takes at most 65535 bind parameters, 3 per row.
const CHUNK: usize = 20_000;

/// Parses and checks a whole fixture; the error names the first bad entry (1-based).
pub fn parse(text: &str) -> Result<Vec<FixtureRow>, JobError> {
    let json: Value = serde_json::from_str(text)
        .map_err(|e| JobError::bad_input(format!("fixture is not valid JSON: {e}")))?;
    let Value::Array(entries) = json else {
        return Err(JobError::bad_input(
            "fixture must be a JSON list of entries",
        ));
    };
    let mut rows = Vec::with_capacity(entries.len());
    let mut seen: HashMap<i64, usize> = HashMap::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let n = i + 1;
        let row = parse_entry(entry).map_err(|(pk, why)| {
            let pk = pk.map(|pk| format!(" (pk {pk})")).unwrap_or_default();
            JobError::bad_input(format!("fixture entry {n}{pk}: {why}"))
        })?;
        if let Some(first) = seen.insert(row.pk, n) {
            return Err(JobError::bad_input(format!(
                "fixture entry {n}: duplicate pk {} (already used by entry {first})",
                row.pk
            )));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// One entry, or why not (with its pk once known).
fn parse_entry(entry: &Value) -> Result<FixtureRow, (Option<i64>, String)> {
    let pk = model_and_pk(entry).map_err(|why| (None, why))?;
    parse_fields(entry, pk).map_err(|why| (Some(pk), why))
}

/// Checks the model label and returns the pk.
fn model_and_pk(entry: &Value) -> Result<i64, String> {
    let Value::Object(obj) = entry else {
        return Err("must be an object with model, pk and fields".into());
    };
    let model = obj
        .get("model")
        .ok_or("missing field model")?
        .as_str()
        .ok_or("model must be a string")?;
    if !is_my_number(model) {
        return Err(format!(
            "model '{model}' is not <app>.my_number (or <app>.mynumber)"
        ));
    }
    let pk = match obj.get("pk") {
        None | Some(Value::Null) => return Err("missing field pk".into()),
        Some(v) => integer(v).map_err(|why| format!("pk {why}"))?,
    };
    if pk < 1 {
        return Err(format!("pk {pk} must be a positive integer"));
    }
    Ok(pk)
}

fn parse_fields(entry: &Value, pk: i64) -> Result<FixtureRow, String> {
    let Some(Value::Object(fields)) = entry.get("fields") else {
        return Err("missing field fields (an object)".into());
    };
    if let Some(other) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "number_start" | "number_end" | "number_range"))
    {
        return Err(format!("unknown field '{other}'"));
    }
    let field = |name: &str| -> Result<i32, String> {
        let v = fields
            .get(name)
            .ok_or_else(|| format!("missing field {name}"))?;
        let n = integer(v).map_err(|why| format!("{name} {why}"))?;
        i32::try_from(n)
            .map_err(|_| format!("{name} {n} is outside integer (-2147483648..2147483647)"))
    };
    let (number_start, number_end) = (field("number_start")?, field("number_end")?);
    if number_start > number_end {
        return Err(format!(
            "number_start {number_start} is greater than number_end {number_end}"
        ));
    }
    if number_end > MAX_NUMBER_END {
        return Err(format!(
            "number_end {number_end} must be below 2147483647 (the inclusive range does not fit int4range)"
        ));
    }
    Ok(FixtureRow {
        pk,
        number_start,
        number_end,
    })
}

/// `<app>.my_number` or `<app>.mynumber`, any case, any non-empty app label.
fn is_my_number(model: &str) -> bool {
    let lower = model.to_ascii_lowercase();
    match lower.split_once('.') {
        Some((app, name)) => !app.is_empty() && matches!(name, "my_number" | "mynumber"),
        None => false,
    }
}

/// A JSON integer, or a string of an optional sign and digits (Django's
/// fixtures often quote numbers); nothing else (`10.5`, `true`, `" 12 "`).
fn integer(v: &Value) -> Result<i64, String> {
    let out_of_range = || format!("{v} is outside integer (-2147483648..2147483647)");
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if n.is_u64() {
                Err(out_of_range())
            } else {
                Err(format!("{v} is not an integer"))
            }
        }
        Value::String(s) => {
            let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{v} is not an integer"));
            }
            s.parse::<i64>().map_err(|_| out_of_range())
        }
        _ => Err(format!("{v} is not an integer")),
    }
}

/// What a load wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Rows upserted, new and overwritten alike.
    pub rows: u64,
}

/// Upserts `rows` in one transaction and moves the id sequence past the
/// largest id: either every row is written or none is.
pub async fn load<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    rows: &[FixtureRow],
) -> Result<Loaded, JobError> {
    let txn = db.begin().await?;
    for chunk in rows.chunks(CHUNK) {
        let models = chunk.iter().map(|r| my_number::ActiveModel {
            id: Set(r.pk),
            number_start: Set(r.number_start),
            number_end: Set(r.number_end),
            // The trigger computes it from the two ends.
            number_range: NotSet,
        });
        my_number::Entity::insert_many(models)
            .on_conflict(
                OnConflict::column(my_number::Column::Id)
                    .update_columns([my_number::Column::NumberStart, my_number::Column::NumberEnd])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    if !rows.is_empty() {
        // Sequence functions have no ORM builder. Never moves the sequence backwards.
        txn.execute_raw(Statement::from_string(
            txn.get_database_backend(),
            "SELECT setval(seq, top)
             FROM (SELECT pg_get_serial_sequence('my_numbers', 'id')::regclass AS seq,
                          (SELECT max(id) FROM my_numbers) AS top) s
             WHERE top > COALESCE(pg_sequence_last_value(seq), 0)",
        ))
        .await?;
    }
    txn.commit().await?;
    Ok(Loaded {
        rows: rows.len() as u64,
    })
}

/// Reads, checks and loads `path`; a missing or unreadable file is bad input.
pub async fn load_file<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    path: &std::path::Path,
) -> Result<Loaded, JobError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| JobError::bad_input(format!("cannot read fixture {}: {e}", path.display())))?;
    let rows = parse(&text)?;
    load(db, &rows).await
}
