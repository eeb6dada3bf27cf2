//! The bounded, lossless purge: same steps as the naive one (find old mailers,
//! delete their emails), but only the mailers no earlier run has finished,
//! walked in `(sent, id)` order in slices, their emails deleted through the
//! index on `emails.mailer_id` in short batches, with the watermark moved in
//! the transaction of each slice's last batch.
use chrono::{DateTime, Utc};
use entity::{mailer, purge_watermark};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement, TransactionTrait,
};

use super::NAME;
use crate::error::JobError;
use crate::progress::Progress;

/// Most mailers in one slice: bounds the array parameter and the work done
/// between two moves of the watermark (smaller when batches are smaller).
pub const MAX_SLICE_MAILERS: u64 = 1_000;

/// One batch: at most `$2` emails of the slice's mailers `$1`, taken in
/// `mailer_id` order; returns how many rows it picked, the highest mailer id it
/// picked and how many it deleted. `ORDER BY mailer_id` makes an index scan of
/// `emails.mailer_id` the cheapest way to stop after `$2` rows (with a bare
/// `LIMIT` a large slice tempts the planner into a sequential scan "until the
/// limit is reached"), and `id = ANY(ARRAY(...))` keeps the delete on the
/// primary key (an `IN` subquery can become a hash join over the whole table).
/// Raw SQL: the ORM has no data-modifying CTE, and `= ANY($1)` binds the whole
/// slice as one array parameter where `is_in` binds one per id.
pub const DELETE_BATCH_SQL: &str = "\
WITH picked AS MATERIALIZED (\
  SELECT id, mailer_id FROM emails WHERE mailer_id = ANY($1) ORDER BY mailer_id LIMIT $2), \
gone AS (DELETE FROM emails WHERE id = ANY(ARRAY(SELECT id FROM picked)) RETURNING 1) \
SELECT (SELECT count(*) FROM picked), (SELECT max(mailer_id) FROM picked), (SELECT count(*) FROM gone)";

/// Mailers behind the watermark that a previous run could not have seen: new
/// mailer rows (a backdated `sent`) and mailers with new emails. Raw SQL for the
/// `UNION` of two keyset probes on primary keys, which the ORM does not express.
const LATE_MAILERS_SQL: &str = "\
SELECT id FROM mailers \
 WHERE id > $1 AND sent <= $3 AND (sent, id) <= ($4, $5) \
UNION \
SELECT m.id FROM emails e JOIN mailers m ON m.id = e.mailer_id \
 WHERE e.id > $2 AND m.sent <= $3 AND (m.sent, m.id) <= ($4, $5)";

/// The highest ids at the start of the run. Raw SQL: two scalar subqueries in one round trip.
const HIGH_IDS_SQL: &str =
    "SELECT COALESCE((SELECT max(id) FROM mailers), 0), COALESCE((SELECT max(id) FROM emails), 0)";

/// The `(sent, id)` of the last mailer whose emails are all gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// `mailers.sent` of that mailer.
    pub sent: DateTime<Utc>,
    /// Its id, which orders mailers sent at the same instant.
    pub mailer_id: i64,
}

/// What one optimized run did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Emails deleted: the run's `rows`.
    pub deleted: u64,
    /// Slices of mailers walked past the old watermark.
    pub slices: u64,
    /// Delete batches sent (each one statement, in its own transaction).
    pub batches: u64,
    /// Mailers behind the watermark found again by the catch-up probe (backdated, or with new
    /// emails).
    pub late_mailers: u64,
    /// The watermark after the run; `None` when no run has purged anything yet.
    pub watermark: Option<Mark>,
}

impl Outcome {
    /// The run report's `details`: slices, batches, late mailers and the watermark.
    pub fn details(&self) -> serde_json::Value {
        serde_json::json!({
            "slices": self.slices,
            "batches": self.batches,
            "late_mailers": self.late_mailers,
            "watermark": self.watermark.map(|m| serde_json::json!({
                "sent": m.sent.to_rfc3339(),
                "mailer_id": m.mailer_id,
            })),
        })
    }
}

/// Deletes the emails of every mailer sent at or before `cutoff` that earlier
/// runs have not finished, in batches of `batch_size` rows.
pub async fn purge(
    db: &DatabaseConnection,
    cutoff: DateTime<Utc>,
    batch_size: u64,
    progress: &Progress,
) -> Result<Outcome, JobError> {
    let state = purge_watermark::Entity::find_by_id(NAME).one(db).await?;
    let (mailers_seen, emails_seen) = high_ids(db).await?;
    let mut out = Outcome::default();
    let slice_len = Ord::min(batch_size, MAX_SLICE_MAILERS);
    if let Some(st) = &state {
        let mark = Mark {
            sent: st.sent,
            mailer_id: st.mailer_id,
        };
        let late = late_mailers(db, &mark, st.mailers_seen, st.emails_seen, cutoff).await?;
        out.late_mailers = late.len() as u64;
        for ids in late.chunks(slice_len as usize) {
            delete_emails_of(db, ids, batch_size, None, &mut out, progress).await?;
        }
        out.watermark = Some(mark);
    }
    loop {
        let slice = next_slice(db, out.watermark, cutoff, slice_len).await?;
        let Some(&(last_id, last_sent)) = slice.last() else {
            break;
        };
        let ids: Vec<i64> = slice.iter().map(|(id, _)| *id).collect();
        let mark = Mark {
            sent: last_sent,
            mailer_id: last_id,
        };
        let save = Save {
            mark,
            mailers_seen,
            emails_seen,
        };
        delete_emails_of(db, &ids, batch_size, Some(save), &mut out, progress).await?;
        out.slices += 1;
        out.watermark = Some(mark);
    }
    // Nothing moved the watermark but the catch-up covered newer ids: record
    // them, unless an earlier run (with a later `--now`) put the watermark past
    // this cutoff: the catch-up then skipped late mailers it must find again.
    if let (Some(st), 0) = (&state, out.slices) {
        let covered = st.sent <= cutoff;
        if covered && (st.mailers_seen, st.emails_seen) != (mailers_seen, emails_seen) {
            let mark = Mark {
                sent: st.sent,
                mailer_id: st.mailer_id,
            };
            save_watermark(
                db,
                &Save {
                    mark,
                    mailers_seen,
                    emails_seen,
                },
            )
            .await?;
        }
    }
    Ok(out)
}

/// The watermark row to write with a slice's last batch.
#[derive(Clone, Copy, Debug)]
struct Save {
    mark: Mark,
    mailers_seen: i64,
    emails_seen: i64,
}

async fn high_ids(db: &impl ConnectionTrait) -> Result<(i64, i64), JobError> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            HIGH_IDS_SQL,
        ))
        .await?
        .ok_or_else(|| JobError::Other("max ids query returned no row".into()))?;
    Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))
}

async fn late_mailers(
    db: &impl ConnectionTrait,
    mark: &Mark,
    mailers_seen: i64,
    emails_seen: i64,
    cutoff: DateTime<Utc>,
) -> Result<Vec<i64>, JobError> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            LATE_MAILERS_SQL,
            [
                mailers_seen.into(),
                emails_seen.into(),
                cutoff.into(),
                mark.sent.into(),
                mark.mailer_id.into(),
            ],
        ))
        .await?;
    let mut ids = rows
        .iter()
        .map(|r| r.try_get_by_index::<i64>(0))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// The next mailers after `after` (in `(sent, id)` order) sent at or before `cutoff`.
async fn next_slice(
    db: &impl ConnectionTrait,
    after: Option<Mark>,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(i64, DateTime<Utc>)>, JobError> {
    let mut query = mailer::Entity::find()
        .select_only()
        .columns([mailer::Column::Id, mailer::Column::Sent])
        .filter(mailer::Column::Sent.lte(cutoff));
    if let Some(m) = after {
        // `sent >= ` lets the plain index on `sent` bound the scan; the row
        // comparison then skips the mailers already done at that instant.
        query = query.filter(mailer::Column::Sent.gte(m.sent)).filter(
            Expr::tuple([
                Expr::col(mailer::Column::Sent),
                Expr::col(mailer::Column::Id),
            ])
            .gt(Expr::tuple([Expr::val(m.sent), Expr::val(m.mailer_id)])),
        );
    }
    Ok(query
        .order_by_asc(mailer::Column::Sent)
        .order_by_asc(mailer::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

/// Deletes every email of `mailers` in batches of `batch_size`, each in its own
/// transaction; `save` (if any) is written in the transaction of the last batch,
/// the one that finds fewer rows than a full batch. Every mailer below the
/// highest one a batch picked has no rows left (they come in `mailer_id`
/// order), so the next batch starts at that mailer instead of walking the
/// index entries of rows already deleted.
async fn delete_emails_of(
    db: &DatabaseConnection,
    mailers: &[i64],
    batch_size: u64,
    save: Option<Save>,
    out: &mut Outcome,
    progress: &Progress,
) -> Result<(), JobError> {
    let limit = i64::try_from(batch_size).unwrap_or(i64::MAX);
    let mut rest = mailers.to_vec();
    rest.sort_unstable();
    loop {
        let txn = db.begin().await?;
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                txn.get_database_backend(),
                DELETE_BATCH_SQL,
                [rest.clone().into(), limit.into()],
            ))
            .await?
            .ok_or_else(|| JobError::Other("delete batch returned no row".into()))?;
        let picked: i64 = row.try_get_by_index(0)?;
        let highest: Option<i64> = row.try_get_by_index(1)?;
        let deleted: i64 = row.try_get_by_index(2)?;
        out.batches += 1;
        out.deleted += deleted as u64;
        progress.inc(deleted as u64);
        // Fewer rows than asked for: the slice has nothing left. (Counting the
        // rows picked, not deleted: another session's delete must not end it early.)
        let last = picked < limit;
        if let (true, Some(save)) = (last, save) {
            save_watermark(&txn, &save).await?;
        }
        txn.commit().await?;
        if last {
            return Ok(());
        }
        if let Some(highest) = highest {
            rest.retain(|&id| id >= highest);
        }
    }
}

async fn save_watermark(db: &impl ConnectionTrait, save: &Save) -> Result<(), JobError> {
    let row = purge_watermark::ActiveModel {
        job: Set(NAME.to_owned()),
        sent: Set(save.mark.sent),
        mailer_id: Set(save.mark.mailer_id),
        mailers_seen: Set(save.mailers_seen),
        emails_seen: Set(save.emails_seen),
        updated_at: Set(Utc::now()),
    };
    purge_watermark::Entity::insert(row)
        .on_conflict(
            OnConflict::column(purge_watermark::Column::Job)
                .update_columns([
                    purge_watermark::Column::Sent,
                    purge_watermark::Column::MailerId,
                    purge_watermark::Column::MailersSeen,
                    purge_watermark::Column::EmailsSeen,
                    purge_watermark::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}
