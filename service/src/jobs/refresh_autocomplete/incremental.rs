//! `--incremental`: apply only the prefixes that changed titles touch.
//!
//! The triggers on `videos` (migrations `m20261130_200003`, `_700001`) log
//! every title that appeared on a video or disappeared from it. A run's first
//! statement reads the state the last full refresh left and the pending
//! entries. A title some video holds now, by its entries, exists: over one
//! video's pending entries a title counts +1 for each time the video took it
//! and -1 for each time it left it, and the writes those entries record are
//! consecutive writes of that video (a run deletes every entry it read, and
//! the video's writes commit in order, each waiting on its row lock), so
//! the sum telescopes to "holds it now" minus "held it before the first":
//! positive only for the title the video holds now. For every other title
//! the entries name, the statement asks, in the same snapshot, for its
//! neighbours among the current normalised titles in byte order: the smallest at or after it (a
//! probe of the title index), which is the title itself when it still
//! exists; else also the largest before it (a second probe). In byte order
//! the titles sharing the most leading bytes with a title sit right beside
//! it, so the longest of its prefixes some title still starts with is its
//! longest common prefix with one of the two neighbours, and every shorter
//! prefix is present too. A title that exists adds all its prefixes; a
//! vanished one removes those no current title has, and leaves the others
//! alone. So a prefix other titles share survives the removal of one of
//! them, and applying an entry twice gives the same set. Prefixes no changed
//! title touches cannot have changed. All of it is one `EVAL`: a reader sees
//! the set before or after the run, never in between. The script first checks
//! the live set still holds the members the last refresh left; if not (Redis
//! lost it, someone wrote to it), the run changes nothing and falls back to a
//! full refresh. Only after the `EVAL` does the run delete the entries it
//! read, by id, with the set's new size, in the message that records the
//! run: an entry committed meanwhile stays for the next run, and one applied
//! is removed exactly once.
use std::collections::HashSet;

use redis::aio::ConnectionLike;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use super::prefixes;
use crate::error::JobError;
use crate::runner::Session;

/// Inside a full refresh's transaction, before its read starts: takes every
/// log entry (the read that follows sees every change they name).
pub(super) async fn take_all(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    // Raw SQL, to match `record_state`: the log has no entity.
    db.execute_raw(Statement::from_string(
        DbBackend::Postgres,
        "DELETE FROM autocomplete_changes",
    ))
    .await?;
    Ok(())
}

/// Records the set a full refresh left: one statement, keeping one row.
pub(super) async fn record_state(
    db: &impl ConnectionTrait,
    key: &str,
    max_prefix: usize,
    members: u64,
) -> Result<(), DbErr> {
    // Raw SQL: a data-modifying CTE (delete the others, upsert ours) has no builder form.
    let sql = "WITH others AS (DELETE FROM autocomplete_refresh_state WHERE key <> $1)
         INSERT INTO autocomplete_refresh_state (key, max_prefix, members, refreshed_at)
         VALUES ($1, $2, $3, now())
         ON CONFLICT (key) DO UPDATE SET max_prefix = EXCLUDED.max_prefix,
             members = EXCLUDED.members, refreshed_at = EXCLUDED.refreshed_at";
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            key.into(),
            (max_prefix as i32).into(),
            (members.min(i64::MAX as u64) as i64).into(),
        ],
    ))
    .await?;
    Ok(())
}

/// After a partial refresh of `key` (`--limit-videos`, benchmarks only): no
/// incremental run may build on that set.
pub(super) async fn forget_state(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    // Raw SQL, to match `record_state`: the state table has no entity.
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM autocomplete_refresh_state WHERE key = $1",
        [key.into()],
    ))
    .await?;
    Ok(())
}

/// Checks the live set's size, then removes and adds members, atomically.
/// `ARGV`: expected size, number of members to remove, those members, then
/// `0, member` for each member to add (`ZADD`'s own argument order). Returns
/// `{1, new size}`, or `{0, actual size}` having changed nothing when the size
/// is not the expected one. Members go to `ZREM`/`ZADD` in variadic calls of
/// up to 1,000 members (`unpack` is bounded by Lua's stack): one call per
/// member cost more than the changes themselves.
const APPLY_SCRIPT: &str = r"
local n = redis.call('ZCARD', KEYS[1])
if n ~= tonumber(ARGV[1]) then
  return {0, n}
end
local first = 3
local last = 2 + tonumber(ARGV[2])
while first <= last do
  local upto = math.min(last, first + 999)
  redis.call('ZREM', KEYS[1], unpack(ARGV, first, upto))
  first = upto + 1
end
while first <= #ARGV do
  local upto = math.min(#ARGV, first + 1999)
  redis.call('ZADD', KEYS[1], unpack(ARGV, first, upto))
  first = upto + 1
end
return {1, redis.call('ZCARD', KEYS[1])}
";

/// What one incremental run did.
#[derive(Debug, Default)]
pub(super) struct Applied {
    /// Log entries applied (and deleted).
    pub changes: u64,
    /// Distinct titles whose neighbours were looked up in the title index
    /// (the others are titles a video's latest entry says it holds).
    pub looked: u64,
    /// Distinct prefixes the run decided on.
    pub prefixes: u64,
    /// Of those, the ones no title starts with any more (removed).
    pub absent: u64,
    /// Members of the live set afterwards.
    pub members: u64,
}

/// What an incremental run did, or why it did not.
pub(super) enum Outcome {
    /// Nothing was changed: the run refreshes in full, for this reason.
    Full(String),
    /// The log was applied (it may have been empty).
    Applied(Applied),
}

/// Applies the log to `key`: one statement decides, reads the log's entries
/// and probes their titles' neighbours; one `EVAL` applies the prefixes; one
/// statement deletes exactly the entries read and records the set's size.
/// Both statements go on the run's own connection (`session`): one server
/// process, which loads the log's catalog once. The second goes with the
/// run's record and unlock, in one message
/// ([`Session::commit_with_run`]): no round trip of its own.
/// No transaction spans them: an entry is deleted only once Redis has its
/// change, by its id (an entry committed after the first statement's
/// snapshot was not read and stays), and a run that dies (or whose last
/// message fails) between the `EVAL` and the last statement leaves the
/// entries and the old size, so the next run finds a set of another size
/// and refreshes in full. Only one run reads
/// the log at a time: every run of the job, incremental or full, of any key,
/// takes the same lock. Nothing pending: the one statement. Any reason for a
/// full refresh (no state, another key or `max_prefix`, more than
/// `max_changes` entries, a live set that is not the one the last refresh
/// left): nothing changed.
pub(super) async fn apply(
    mut session: Session<'_>,
    conn: &mut impl ConnectionLike,
    key: &str,
    max_prefix: usize,
    max_changes: u64,
) -> Result<Outcome, JobError> {
    let (members, ids, probed, looked) = match read(&mut session, key, max_prefix, max_changes)
        .await?
    {
        Read::Full(reason) => return Ok(Outcome::Full(reason)),
        Read::Entries { members, ids, .. } if ids.is_empty() => {
            return Ok(Outcome::Applied(Applied {
                members,
                ..Applied::default()
            }));
        }
        Read::Entries {
            members,
            ids,
            probed,
            looked,
        } => (members, ids, probed, looked),
    };
    // A title that exists adds all its prefixes (some may be new). A vanished
    // one keeps the prefixes it shares with a current title Y and removes the
    // rest; the kept ones are already in the set, as Y either was there at
    // the last refresh or is named by an entry of this run (its own, read in
    // the same snapshot) and adds them. A prefix several titles touch takes
    // the first of add, keep, remove.
    let mut touched: Vec<(&str, Fate)> = probed
        .iter()
        .flat_map(|p| {
            prefixes(&p.title, max_prefix).map(move |prefix| {
                let fate = if p.exists {
                    Fate::Add
                } else if prefix.len() <= p.shared {
                    Fate::Keep
                } else {
                    Fate::Remove
                };
                (prefix, fate)
            })
        })
        .collect();
    touched.sort_unstable();
    touched.dedup_by_key(|(prefix, _)| *prefix);
    let of = |fate| touched.iter().filter(move |t| t.1 == fate).map(|t| t.0);
    let absent: Vec<&str> = of(Fate::Remove).collect();
    let added: Vec<&str> = of(Fate::Add).flat_map(|m| ["0", m]).collect();
    let mut script = redis::cmd("EVAL");
    script
        .arg(APPLY_SCRIPT)
        .arg(1)
        .arg(key)
        .arg(members)
        .arg(absent.len())
        .arg(&absent)
        .arg(&added);
    let (ok, size): (i64, u64) = script.query_async(conn).await?;
    if ok == 0 {
        // Nothing was changed in Redis, nor in the log.
        return Ok(Outcome::Full(format!(
            "the live set holds {size} members, the last refresh left {members}"
        )));
    }
    let changes = ids.len() as u64;
    // Raw SQL, to match `record_state`: a data-modifying CTE, and the state
    // table has no entity. It goes with the run's record, in its last
    // message: no round trip of its own.
    session.commit_with_run(
        "WITH applied AS (DELETE FROM autocomplete_changes WHERE id = ANY($3::bigint[]))
         UPDATE autocomplete_refresh_state SET members = $2, refreshed_at = now() WHERE key = $1",
        vec![
            key.into(),
            (size.min(i64::MAX as u64) as i64).into(),
            ids.into(),
        ],
    )?;
    Ok(Outcome::Applied(Applied {
        changes,
        looked,
        prefixes: touched.len() as u64,
        absent: absent.len() as u64,
        members: size,
    }))
}

/// What a run does with a prefix some changed title has; in this order, the
/// first that any of its titles asks for wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    Add,
    Keep,
    Remove,
}

/// A normalised title some entry read names, as the database has it now.
struct Probed {
    title: String,
    /// How many leading bytes of `title` some current title starts with.
    shared: usize,
    /// Whether `title` itself is a current title.
    exists: bool,
}

/// What the run's first statement found.
enum Read {
    /// Refresh in full, for this reason.
    Full(String),
    /// The live set should hold `members` members; these log entries are
    /// pending, naming these titles.
    Entries {
        members: u64,
        ids: Vec<i64>,
        probed: Vec<Probed>,
        /// Of the titles, those whose neighbours were looked up.
        looked: u64,
    },
}

/// One statement: reads the state the last refresh left and, when it is
/// this run's, up to `max_changes + 1` pending entries (never the whole log).
/// When no more than `max_changes` are pending, it also says, for each
/// entry's normalised title, how many of the title's leading bytes some
/// current normalised title shares with it: all of them when it still
/// exists, else the longer common prefix with its two neighbours in byte
/// order. A title some video's entries show it holds now exists without a
/// look (see [`apply`]); every other distinct title costs one probe of
/// `idx_videos_title_normalized` when it still exists, two when it does not.
/// One snapshot, so the titles it looks up are those of the entries it
/// returns.
async fn read(
    session: &mut Session<'_>,
    key: &str,
    max_prefix: usize,
    max_changes: u64,
) -> Result<Read, JobError> {
    let limit = i64::try_from(max_changes.saturating_add(1)).unwrap_or(i64::MAX);
    // Raw SQL: lateral LIMIT 1 probes of an expression index with a
    // collation, a per-video sum over the log, guarded by the state; no
    // builder form. The backward probe runs only when the forward one did
    // not find the title itself (a one-time filter on `n.next`).
    let rows = session
        .query_all(
            r#"WITH taken AS MATERIALIZED (
  SELECT id, video_id, appeared, title, btrim(lower(title)) COLLATE "C" AS q
  FROM autocomplete_changes
  WHERE EXISTS (SELECT FROM autocomplete_refresh_state WHERE key = $1 AND max_prefix = $2)
  LIMIT $3
), held AS (
  SELECT DISTINCT q FROM taken WHERE video_id IS NOT NULL GROUP BY video_id, title, q
  HAVING sum(CASE WHEN appeared THEN 1 ELSE -1 END) > 0
), looked AS (
  SELECT d.q, n.next, p.prev
  FROM (SELECT q FROM taken EXCEPT SELECT q FROM held) AS d
  LEFT JOIN LATERAL (SELECT btrim(lower(v.title)) COLLATE "C" AS next FROM videos v
                     WHERE btrim(lower(v.title)) COLLATE "C" >= d.q
                     ORDER BY btrim(lower(v.title)) COLLATE "C" LIMIT 1) AS n ON true
  LEFT JOIN LATERAL (SELECT btrim(lower(v.title)) COLLATE "C" AS prev FROM videos v
                     WHERE btrim(lower(v.title)) COLLATE "C" < d.q AND n.next IS DISTINCT FROM d.q
                     ORDER BY btrim(lower(v.title)) COLLATE "C" DESC LIMIT 1) AS p ON true
  WHERE (SELECT count(*) FROM taken) < $3
)
SELECT s.key, s.max_prefix, s.members, t.id, t.q,
       CASE WHEN l.q IS NULL THEN t.q ELSE l.next END, l.prev, l.q IS NOT NULL
FROM (SELECT key, max_prefix, members FROM autocomplete_refresh_state LIMIT 1) AS s
LEFT JOIN (taken t LEFT JOIN looked l USING (q)) ON true"#,
            vec![key.into(), (max_prefix as i32).into(), limit.into()],
        )
        .await?;
    let Some(first) = rows.first() else {
        return Ok(Read::Full(
            "no complete refresh recorded since the change log started".into(),
        ));
    };
    let (last_key, last_max, members): (String, i32, i64) = (
        first.try_get_by_index(0)?,
        first.try_get_by_index(1)?,
        first.try_get_by_index(2)?,
    );
    if last_key != key {
        return Ok(Read::Full(format!(
            "the last refresh was of key {last_key}, whose run took the change log"
        )));
    }
    if last_max as usize != max_prefix {
        return Ok(Read::Full(format!(
            "the last refresh used max-prefix {last_max}"
        )));
    }
    let mut ids = Vec::with_capacity(rows.len());
    let mut probed: Vec<Probed> = Vec::with_capacity(rows.len());
    let mut seen = HashSet::new();
    let mut looked = 0;
    for row in &rows {
        let Some(id) = row.try_get_by_index::<Option<i64>>(3)? else {
            continue;
        };
        ids.push(id);
        let title: String = row.try_get_by_index(4)?;
        if !seen.insert(title.clone()) {
            continue;
        }
        let next: Option<String> = row.try_get_by_index(5)?;
        let prev: Option<String> = row.try_get_by_index(6)?;
        looked += u64::from(row.try_get_by_index::<bool>(7)?);
        let exists = next.as_deref() == Some(title.as_str());
        let common = |other: &Option<String>| {
            other.as_deref().map_or(0, |o| {
                title
                    .bytes()
                    .zip(o.bytes())
                    .take_while(|(a, b)| a == b)
                    .count()
            })
        };
        let shared = if exists {
            title.len()
        } else {
            common(&next).max(common(&prev))
        };
        probed.push(Probed {
            title,
            shared,
            exists,
        });
    }
    if ids.len() as u64 > max_changes {
        return Ok(Read::Full(format!(
            "more than {max_changes} title changes pending (--max-changes): a full refresh with its swap"
        )));
    }
    Ok(Read::Entries {
        members: members.max(0) as u64,
        ids,
        probed,
        looked,
    })
}
