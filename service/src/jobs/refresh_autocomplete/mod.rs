//! `refresh-autocomplete`: rebuilds the Redis sorted set of title prefixes.
//!
//! Guarantee: afterwards the set at `key` holds, with score 0, every prefix of
//! 1 to `max_prefix` Unicode code points of `btrim(lower(title))` as PostgreSQL
//! computes it, for every video, and nothing else (no set at all when every
//! title is empty). Both strategies normalise in SQL, write into a fresh
//! temporary key that expires after an hour, and publish it with one atomic
//! script that checks the temporary set is complete, `UNLINK`s the old set and
//! `RENAME`s the new one over it: a reader sees the complete old set or the
//! complete new one, never a partial or missing one, and a crash leaves the live
//! key untouched and the temporary key gone within the hour.
//!
//! The optimized strategy is fast because it sends a few hundred commands for
//! 200k titles instead of one round trip per prefix (naive): PostgreSQL streams
//! the normalised titles in byte order, so a prefix is new exactly when it is
//! longer than what a title shares with the previous one (de-duplication in
//! constant memory, members already sorted, which Redis inserts faster), and
//! the members go out in pipelined `ZADD`s of a few thousand each, so no single
//! command holds Redis for long, while the next titles are being read.
//!
//! With `--incremental` (contract, section 6) a run applies only the prefixes
//! that changed titles touch, from the change log the triggers on `videos`
//! fill, in one atomic `EVAL` (see [`incremental`]). It refreshes in full, with
//! the swap, when no complete refresh of this key and `max_prefix` is
//! recorded, when more than `max_changes` titles changed, or when the live set
//! is not the one the last refresh left; `details.full_reason` says why. Every
//! refresh takes the log entries it applied, so the log holds only what
//! happened since the last one. The incremental path is the same for both
//! strategies; `--strategy` picks how a fallback full refresh runs.
pub mod bench;
pub mod incremental;
pub mod naive;
pub mod optimized;
pub mod suggest;

use redis::aio::ConnectionLike;
use sea_orm::sea_query::{Expr, Func, Order, Query};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Selector,
    TransactionTrait,
};

use crate::error::JobError;
use crate::redis_conn::{hash_tag, slot};
use crate::registry::Register;
use crate::runner::{Job, JobContext, JobOutput, Strategy};
use crate::scale::Scale;

/// The job's name, its lock key, and the settings table `autocomplete suggest` reads too.
pub const NAME: &str = "refresh-autocomplete";

/// The live sorted set when `--key` is not given.
pub const DEFAULT_KEY: &str = "autocomplete";
/// The longest prefix, in code points, when `--max-prefix` is not given.
pub const DEFAULT_MAX_PREFIX: usize = 8;
/// Longer prefixes are almost surely a typo: each extra length adds about one member per title.
pub const MAX_MAX_PREFIX: usize = 64;
/// Members per `ZADD`: a few thousand keeps each command to a few milliseconds of Redis time.
pub const CHUNK_MEMBERS: usize = 4096;
/// `ZADD`s per pipeline: bounds what is in flight (and buffered) at once.
pub const PIPELINE_COMMANDS: usize = 8;
/// A temporary key left by a crashed run disappears after this long.
pub const TEMP_TTL_SECS: u64 = 3600;
/// Title changes (log entries) past which `--incremental` refreshes in full:
/// at 8 prefixes a title, at most about 16k members in the one `EVAL`, a few
/// milliseconds of Redis time; the full refresh of 200k titles takes about 0.6 s.
pub const DEFAULT_MAX_CHANGES: u64 = 2_000;

/// `sitejobs run refresh-autocomplete` flags, and the `[refresh-autocomplete]`
/// table of the settings file (`key`, `max_prefix`), which `autocomplete
/// suggest` reads as well.
#[derive(clap::Args, serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The sorted set to rebuild [default: autocomplete].
    #[arg(long)]
    pub key: Option<String>,
    /// Longest prefix, in characters (code points) [default: 8].
    #[arg(long)]
    pub max_prefix: Option<usize>,
    /// Benchmarks only: read just the first N videos by id (the set is then incomplete).
    #[arg(long, hide = true)]
    pub limit_videos: Option<u64>,
    /// Apply only the prefixes of titles changed since the last refresh (a full
    /// refresh when there was none, or more than --max-changes titles changed).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incremental: bool,
    /// With --incremental: more pending title changes than this refresh in full [default: 2000].
    #[arg(long)]
    pub max_changes: Option<u64>,
}

impl Settings {
    /// The key and longest prefix these settings give, defaults applied and checked.
    pub fn key_and_max_prefix(&self) -> Result<(String, usize), JobError> {
        let key = self.key.clone().unwrap_or_else(|| DEFAULT_KEY.to_owned());
        let max_prefix = self.max_prefix.unwrap_or(DEFAULT_MAX_PREFIX);
        check_options(&key, max_prefix)?;
        Ok((key, max_prefix))
    }
}

impl Register for RefreshAutocomplete {
    const NAME: &'static str = NAME;
    const ABOUT: &'static str =
        "Rebuild the Redis sorted set of title prefixes (swapped in atomically)";
    type Settings = Settings;

    fn from_settings(s: Settings) -> Result<Self, JobError> {
        let (key, max_prefix) = s.key_and_max_prefix()?;
        let mut job = Self::new(key, max_prefix);
        job.limit_videos = s.limit_videos;
        job.incremental = s.incremental;
        if let Some(n) = s.max_changes {
            job.max_changes = n;
        }
        job.check()?;
        Ok(job)
    }

    async fn bench_cases(
        db: &DatabaseConnection,
        scale: Scale,
    ) -> Result<Vec<crate::bench::BenchCase>, JobError> {
        bench::cases(db, scale).await
    }
}

/// The job's validated options.
pub struct RefreshAutocomplete {
    /// The live sorted set.
    pub key: String,
    /// Longest prefix, in code points.
    pub max_prefix: usize,
    /// Benchmarks only: read just the first N videos by id (the set is then incomplete).
    pub limit_videos: Option<u64>,
    /// Members per `ZADD` of the optimized strategy (tests lower it to see several chunks).
    pub chunk_members: usize,
    /// Apply only what changed since the last refresh (contract, section 6).
    pub incremental: bool,
    /// With `incremental`: pending title changes past which the refresh is full.
    pub max_changes: u64,
}

impl RefreshAutocomplete {
    /// Options for the set at `key` with prefixes up to `max_prefix` code points.
    pub fn new(key: impl Into<String>, max_prefix: usize) -> Self {
        Self {
            key: key.into(),
            max_prefix,
            limit_videos: None,
            chunk_members: CHUNK_MEMBERS,
            incremental: false,
            max_changes: DEFAULT_MAX_CHANGES,
        }
    }

    /// The checks `validate` makes, usable before anything is connected.
    pub fn check(&self) -> Result<(), JobError> {
        check_options(&self.key, self.max_prefix)?;
        if self.chunk_members == 0 {
            return Err(JobError::bad_input("chunk size must be at least 1"));
        }
        if self.max_changes == 0 {
            return Err(JobError::bad_input("--max-changes must be at least 1"));
        }
        if self.incremental && self.limit_videos.is_some() {
            return Err(JobError::bad_input(
                "--limit-videos builds a partial set: it cannot be combined with --incremental",
            ));
        }
        Ok(())
    }
}

/// The options `refresh-autocomplete` and `autocomplete suggest` share.
pub fn check_options(key: &str, max_prefix: usize) -> Result<(), JobError> {
    if key.is_empty() {
        return Err(JobError::bad_input("key must not be empty"));
    }
    if !(1..=MAX_MAX_PREFIX).contains(&max_prefix) {
        return Err(JobError::bad_input(format!(
            "max-prefix must be between 1 and {MAX_MAX_PREFIX}, got {max_prefix}"
        )));
    }
    Ok(())
}

impl Job for RefreshAutocomplete {
    fn name(&self) -> &'static str {
        NAME
    }

    fn params(&self) -> serde_json::Value {
        let mut p = serde_json::json!({
            "key": self.key,
            "max_prefix": self.max_prefix,
            "incremental": self.incremental,
        });
        if let Some(n) = self.limit_videos {
            p["limit_videos"] = n.into();
        }
        p
    }

    fn needs_redis(&self) -> bool {
        true
    }

    /// Incremental: only the run's own connection (its statements go on the
    /// session); a fallback to the full refresh opens the pool's when it
    /// needs them, a few milliseconds against hundreds.
    fn warm_connections(&self) -> u32 {
        if self.incremental {
            1
        } else {
            crate::connect::WARM
        }
    }

    async fn validate(&self, _db: &DatabaseConnection) -> Result<(), JobError> {
        self.check()
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        if !self.incremental {
            return self.refresh_full(ctx).await;
        }
        let mut conn = ctx.redis()?;
        let outcome = incremental::apply(
            ctx.session().await,
            &mut conn,
            &self.key,
            self.max_prefix,
            self.max_changes,
        );
        let reason = match outcome.await? {
            incremental::Outcome::Full(reason) => reason,
            incremental::Outcome::Applied(a) if a.changes == 0 => {
                return Ok(JobOutput::rows(a.members).with_details(serde_json::json!({
                    "incremental": true,
                    "changes": 0,
                })))
            }
            incremental::Outcome::Applied(a) => {
                return Ok(JobOutput::rows(a.members).with_details(serde_json::json!({
                    "incremental": true,
                    "changes": a.changes,
                    "titles_looked_up": a.looked,
                    "prefixes_checked": a.prefixes,
                    "prefixes_removed": a.absent,
                })))
            }
        };
        tracing::info!(%reason, "incremental run refreshes in full");
        let mut out = self.refresh_full(ctx).await?;
        out.details["incremental"] = false.into();
        out.details["full_reason"] = reason.into();
        Ok(out)
    }
}

impl RefreshAutocomplete {
    /// The full refresh with its swap. It takes the whole change log in a
    /// transaction begun before it reads the titles, and records the set it
    /// left in that transaction after the swap: the log then holds exactly
    /// the changes the published set may lack. A partial (`--limit-videos`)
    /// refresh leaves the log alone and only forgets its own key's state.
    async fn refresh_full(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let mut conn = ctx.redis()?;
        let complete = self.limit_videos.is_none();
        let txn = ctx.db().begin().await?;
        if complete {
            incremental::take_all(&txn).await?;
        }
        let temp = temp_key(&self.key);
        let outcome = match ctx.strategy {
            Strategy::Naive => naive::refresh(ctx, self, &temp).await,
            Strategy::Optimized => optimized::refresh(ctx, self, &temp).await,
        };
        let out = match outcome {
            Ok(out) => out,
            Err(e) => {
                // Best effort: the expiry removes it anyway if Redis is gone.
                let _ = redis::cmd("UNLINK")
                    .arg(&temp)
                    .query_async::<i64>(&mut conn)
                    .await;
                return Err(e);
            }
        };
        if complete {
            incremental::record_state(&txn, &self.key, self.max_prefix, out.rows).await?;
        } else {
            incremental::forget_state(&txn, &self.key).await?;
        }
        txn.commit().await?;
        Ok(out)
    }
}

/// A key of this run's own beside the live one, in the live key's hash slot so
/// that the swap script may touch both on a Redis Cluster: `{autocomplete}:tmp:1a2b...`
/// for a key without a hash tag, `{site}ac:tmp:1a2b...` for one that has one.
pub fn temp_key(key: &str) -> String {
    let run = rand::random::<u64>();
    if hash_tag(key.as_bytes()).is_some() {
        return format!("{key}:tmp:{run:016x}");
    }
    if !key.contains('}') {
        return format!("{{{key}}}:tmp:{run:016x}");
    }
    // A `}` but no tag (`a}b`, `x{}y`): braces around it would tag only a part,
    // so lead with a numeric tag that hashes to the key's own slot.
    let want = slot(key.as_bytes());
    let tag = (0u32..)
        .find(|n| slot(n.to_string().as_bytes()) == want)
        .unwrap_or(0);
    format!("{{{tag}}}{key}:tmp:{run:016x}")
}

/// The normalised titles, `btrim(lower(title))` computed by PostgreSQL (its
/// `lower` follows the database's locale, which Rust's would not); in byte
/// order when `sorted`. `limit_videos` keeps the first N videos by id.
pub fn normalized_titles(
    limit_videos: Option<u64>,
    sorted: bool,
) -> Selector<sea_orm::SelectGetableTuple<String>> {
    use entity::video;
    let mut q = video::Entity::find().select_only();
    if sorted {
        // COLLATE "C" (byte order) on an expression: sea-query has no builder for it.
        let key = Expr::cust(r#"btrim(lower("videos"."title")) COLLATE "C""#);
        q = q.expr_as(key.clone(), "title").order_by_asc(key);
    } else {
        let normalized = Func::cust("btrim").arg(Func::lower(Expr::col(video::Column::Title)));
        q = q.expr_as(normalized, "title");
    }
    if let Some(n) = limit_videos {
        let first = Query::select()
            .column(video::Column::Id)
            .from(video::Entity)
            .order_by(video::Column::Id, Order::Asc)
            .limit(n)
            .to_owned();
        q = q.filter(video::Column::Id.in_subquery(first));
    }
    q.into_tuple::<String>()
}

/// How many leading code points `a` and `b` share.
pub fn common_chars(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// The prefixes of 1 to `max` code points of `title` (none for an empty title),
/// shortest first, each cut on a character boundary.
pub fn prefixes(title: &str, max: usize) -> impl Iterator<Item = &str> {
    title
        .char_indices()
        .skip(1)
        .map(|(i, _)| i)
        .chain(std::iter::once(title.len()))
        .take(max)
        .filter(|&end| end > 0)
        .map(move |end| &title[..end])
}

/// Atomically checks that `temp` holds `expected` members, frees the old live
/// set in the background (`UNLINK`), and renames `temp` over it without its
/// expiry. With `expected` 0 the live key is just removed. A temporary key that
/// expired mid-run and was recreated partially fails the check: nothing is published.
const SWAP_SCRIPT: &str = r"
local n = redis.call('ZCARD', KEYS[1])
if n ~= tonumber(ARGV[1]) then
  return redis.error_reply('temporary set ' .. KEYS[1] .. ' holds ' .. n .. ' members, expected ' .. ARGV[1] .. '; live set left as it was')
end
redis.call('UNLINK', KEYS[2])
if n > 0 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('PERSIST', KEYS[2])
end
return n
";

/// Publishes `temp` as `live` (see the `SWAP_SCRIPT` constant): one command, atomic.
/// `EVAL` rather than `EVALSHA`: always one round trip, the script is tiny.
pub async fn swap(
    conn: &mut impl ConnectionLike,
    temp: &str,
    live: &str,
    expected: u64,
) -> Result<(), JobError> {
    redis::cmd("EVAL")
        .arg(SWAP_SCRIPT)
        .arg(2)
        .arg(temp)
        .arg(live)
        .arg(expected)
        .query_async::<i64>(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod unit {
    use super::{common_chars, prefixes, temp_key};
    use crate::redis_conn::slot;

    #[test]
    fn temp_keys_share_the_live_keys_slot() {
        for key in [
            "autocomplete",
            "{site}ac",
            "ac:{site}",
            "a}b",
            "x{}y",
            "{",
            "}{",
        ] {
            let temp = temp_key(key);
            assert_eq!(
                slot(temp.as_bytes()),
                slot(key.as_bytes()),
                "{key} -> {temp}"
            );
            assert!(temp.contains(":tmp:"), "{temp}");
        }
        assert!(temp_key("{site}ac").starts_with("{site}ac:tmp:"));
        assert!(temp_key("autocomplete").starts_with("{autocomplete}:tmp:"));
    }

    #[test]
    fn sorted_titles_emit_each_prefix_once_in_byte_order() {
        let mut titles = vec![
            "",
            "",
            "ab",
            "abc",
            "abc",
            "abd",
            "b",
            "é",
            "éa",
            "e\u{301}",
            "東京",
            "東",
            "🎬x",
            "abcdefghij",
            "abcdefghik",
            "a",
        ];
        titles.sort_unstable();
        let (mut previous, mut emitted) = ("", Vec::new());
        for t in &titles {
            emitted.extend(prefixes(t, 4).skip(common_chars(previous, t)));
            previous = t;
        }
        let mut want: Vec<&str> = titles.iter().flat_map(|t| prefixes(t, 4)).collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(emitted, want);
    }

    #[test]
    fn prefixes_cut_on_code_points() {
        let got: Vec<_> = prefixes("é東🎬ab", 4).collect();
        assert_eq!(got, ["é", "é東", "é東🎬", "é東🎬a"]);
        assert_eq!(prefixes("ab", 8).collect::<Vec<_>>(), ["a", "ab"]);
        assert_eq!(prefixes("", 8).count(), 0);
        assert_eq!(prefixes("abc", 1).collect::<Vec<_>>(), ["a"]);
    }
}
