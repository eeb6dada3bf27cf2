//! The read path the sorted set exists for: completions of a typed prefix.
use redis::aio::ConnectionLike;
use sea_orm::sea_query::{Expr, Func, Query};
use sea_orm::ConnectionTrait;
use serde::Serialize;

use super::check_options;
use crate::error::JobError;

/// Completions of one typed prefix, as [`suggest`] finds them and `autocomplete suggest` prints
/// them.
#[derive(Debug, Serialize)]
pub struct Suggestions {
    /// The prefix as looked up: normalised like the titles, cut to `max_prefix`.
    pub prefix: String,
    /// The typed prefix was longer than `max_prefix` code points and was cut.
    pub truncated: bool,
    /// Matching members in byte order, at most `limit`.
    pub members: Vec<String>,
}

/// `btrim(lower(typed))` computed by PostgreSQL, exactly as the job normalises
/// titles (its `lower` follows the database's locale, Rust's would not).
pub async fn normalize(db: &impl ConnectionTrait, typed: &str) -> Result<String, JobError> {
    let normalized = Func::cust("btrim").arg(Func::lower(Expr::val(typed)));
    let row = db
        .query_one(Query::select().expr(normalized))
        .await?
        .ok_or_else(|| JobError::Other("SELECT btrim(lower($1)) returned no row".into()))?;
    Ok(row.try_get_by_index::<String>(0)?)
}

/// The members of `key` that start with the normalised `typed` prefix.
///
/// The set holds nothing longer than `max_prefix` code points, so a longer
/// prefix is cut to `max_prefix`: a user who keeps typing still sees the
/// completion their first `max_prefix` characters reach (the set cannot say
/// whether the rest matches), rather than suggestions vanishing at character 9.
pub async fn suggest(
    db: &impl ConnectionTrait,
    conn: &mut impl ConnectionLike,
    key: &str,
    typed: &str,
    max_prefix: usize,
    limit: u64,
) -> Result<Suggestions, JobError> {
    check_options(key, max_prefix)?;
    let normalized = normalize(db, typed).await?;
    if normalized.is_empty() {
        return Err(JobError::bad_input(
            "the prefix is empty once spaces are trimmed: type at least one character",
        ));
    }
    let (prefix, truncated) = match normalized.char_indices().nth(max_prefix) {
        Some((cut, _)) => (normalized[..cut].to_owned(), true),
        None => (normalized, false),
    };
    let members = range(conn, key, &prefix, limit).await?;
    Ok(Suggestions {
        prefix,
        truncated,
        members,
    })
}

/// `ZRANGE key [prefix [prefix\xff BYLEX LIMIT 0 limit`: every member that
/// starts with `prefix`, since no UTF-8 string contains the byte 0xFF, so
/// `prefix` + 0xFF sorts after every extension of `prefix` and before anything else.
pub async fn range(
    conn: &mut impl ConnectionLike,
    key: &str,
    prefix: &str,
    limit: u64,
) -> Result<Vec<String>, JobError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut min = Vec::with_capacity(prefix.len() + 1);
    min.push(b'[');
    min.extend_from_slice(prefix.as_bytes());
    let mut max = min.clone();
    max.push(0xFF);
    let members: Vec<Vec<u8>> = redis::cmd("ZRANGE")
        .arg(key)
        .arg(min)
        .arg(max)
        .arg("BYLEX")
        .arg("LIMIT")
        .arg(0)
        .arg(limit.min(i64::MAX as u64))
        .query_async(conn)
        .await?;
    Ok(members
        .into_iter()
        .map(|m| String::from_utf8_lossy(&m).into_owned())
        .collect())
}
