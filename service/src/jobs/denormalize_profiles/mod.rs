//! `denormalize-profiles`: rebuilds `denorm_profile_records` for one community
//! (`--community ID`) or for every community (`--all`).
//!
//! Guarantees (contract, section 3): afterwards the community has exactly one
//! record per profile, with its `user_id`, `groups` = the distinct names of its
//! groups sorted by byte order, and `primary_group` = the first name of the
//! precedence list among them, else the smallest name, else NULL. A community
//! is rebuilt in one transaction (delete its records, insert the new ones), so
//! a reader sees all old or all new records, and a failure leaves the old ones.
//! Other communities are untouched. With `--all` each community is rebuilt on
//! its own, under its own lock (`denormalize-profiles:<id>`), at most
//! `--concurrency` at a time; a community whose lock another run holds is
//! skipped and listed in `details.skipped_locked`, so several schedulers can
//! share the work.
//!
//! The optimized strategy is fast and flat in memory because PostgreSQL does
//! the join and aggregation (`array_agg(DISTINCT ...)`), one streamed query
//! fills a plain struct (never entity models), and each batch of records is
//! one `INSERT ... SELECT FROM UNNEST` statement of five array parameters, so
//! statements grow with rows / batch size. Reading the next batch overlaps
//! with writing the previous one through a one-batch channel: at most about
//! three batches are ever in memory, whatever the community's size.
//! The naive strategy issues one query per profile for its groups and writes
//! with chunked `insert_many`, as the write-up's original did.
//!
//! With `--incremental` (contract, section 6) a community's run rewrites only
//! the records of the profiles its change log names (see [`incremental`]), in
//! one statement; a community never rebuilt, rebuilt last with another
//! precedence list, or with more than `max_changes` entries pending is rebuilt
//! in full instead, and `details.full_rebuilds` says why. Every rebuild, full
//! or not, removes the log entries it applied, so the log holds only what
//! happened since a community's last run. The incremental path is the same
//! for both strategies; `--strategy` picks how a fallback full rebuild runs.
pub mod bench;
pub mod incremental;
mod naive;
mod optimized;

use futures::StreamExt;
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use entity::{community, denorm_profile_record, profile};

use crate::error::JobError;
use crate::progress::Progress;
use crate::registry::{FanOut, Register};
use crate::runner::{lock, Job, JobContext, JobOutput, Strategy};
use crate::scale::Scale;
use crate::schedule::fanout::Units;

pub use naive::write_batch as write_batch_insert_many;
pub use optimized::write_batch as write_batch_unnest;

/// The job's name.
pub const NAME: &str = "denormalize-profiles";

/// The contract's default precedence of group names for `primary_group`.
pub const DEFAULT_PRECEDENCE: [&str; 4] = ["staff", "moderator", "creator", "member"];

/// Records per write when `--batch-size` is not given: the write-up's 1,000
/// for naive; for optimized, measured: 5,000 keeps peak memory the same
/// (about 15-17 MB) from 10k to 1M profiles at no cost in time, where 20,000
/// added 10-17 MB and was no faster (statements are 3 + rows / 5,000).
pub const NAIVE_BATCH: usize = 1_000;
/// The optimized strategy's default batch (see [`NAIVE_BATCH`] for how it was chosen).
pub const OPTIMIZED_BATCH: usize = 5_000;

/// Log entries of one community past which `--incremental` rebuilds it in
/// full: by then the full rebuild is about as cheap (about 1 s for 200k
/// profiles, while 1,000 changes take about 10 ms), and it bounds the log.
pub const DEFAULT_MAX_CHANGES: u64 = 20_000;

/// Which communities a run rebuilds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// One community, by id.
    Community(i64),
    /// Every community, each atomically and under its own lock.
    All,
}

/// `sitejobs run denormalize-profiles` flags, and the `[denormalize-profiles]`
/// table of the settings file (`precedence = [...]`, `batch_size`, `concurrency`).
#[derive(clap::Args, serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["community", "all"])))]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Rebuild this community's records.
    #[arg(long)]
    pub community: Option<i64>,
    /// Rebuild every community, each atomically and under its own lock.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    /// Records per insert [default: 1000 naive, 5000 optimized].
    #[arg(long)]
    pub batch_size: Option<u64>,
    /// Communities rebuilt at the same time with --all [default: 1].
    #[arg(long)]
    pub concurrency: Option<u64>,
    /// Group names in order of precedence for primary_group [default: staff,moderator,creator,member].
    #[arg(long, value_delimiter = ',')]
    pub precedence: Option<Vec<String>>,
    /// Rewrite only the records of profiles changed since the community's last
    /// rebuild (a full rebuild when there was none, or its precedence differed).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incremental: bool,
    /// With --incremental: a community with more pending changes is rebuilt in full [default: 20000].
    #[arg(long)]
    pub max_changes: Option<u64>,
}

/// The job's validated options.
#[derive(Clone, Debug)]
pub struct DenormalizeProfiles {
    /// Which communities the run rebuilds.
    pub target: Target,
    /// Records per insert (`None`: the strategy's default).
    pub batch_size: Option<usize>,
    /// Communities rebuilt at the same time with `--all`.
    pub concurrency: usize,
    /// Group names in order of precedence for `primary_group`; a profile in none of them gets its
    /// smallest group name.
    pub precedence: Vec<String>,
    /// Rewrite only what the change log names (contract, section 6).
    pub incremental: bool,
    /// With `incremental`: pending entries past which a community is rebuilt in full.
    pub max_changes: u64,
}

impl DenormalizeProfiles {
    /// Options for `target` with the contract's defaults: the strategy's batch size, one community
    /// at a time, [`DEFAULT_PRECEDENCE`].
    pub fn new(target: Target) -> Self {
        Self {
            target,
            batch_size: None,
            concurrency: 1,
            precedence: DEFAULT_PRECEDENCE.iter().map(|s| s.to_string()).collect(),
            incremental: false,
            max_changes: DEFAULT_MAX_CHANGES,
        }
    }

    fn batch_for(&self, strategy: Strategy) -> usize {
        self.batch_size.unwrap_or(match strategy {
            Strategy::Naive => NAIVE_BATCH,
            Strategy::Optimized => OPTIMIZED_BATCH,
        })
    }
}

/// One record to write: `primary` indexes into `groups` (sorted, distinct).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The profile the record flattens.
    pub profile_id: i64,
    /// The profile's `user_id`, copied.
    pub user_id: i64,
    /// Distinct names of the profile's groups, sorted by byte order.
    pub groups: Vec<String>,
    /// Index into `groups` of the primary group; `None` when the profile has no group.
    pub primary: Option<usize>,
}

impl Record {
    /// Sorts and dedups `groups` by byte order (Rust's `str` order, whatever
    /// the database collation) and picks the primary group.
    pub fn build(
        profile_id: i64,
        user_id: i64,
        mut groups: Vec<String>,
        precedence: &[String],
    ) -> Self {
        groups.sort_unstable();
        groups.dedup();
        let primary = primary_index(&groups, precedence);
        Self {
            profile_id,
            user_id,
            groups,
            primary,
        }
    }

    /// The primary group's name, as written to `primary_group`.
    pub fn primary_group(&self) -> Option<&str> {
        self.primary.map(|i| self.groups[i].as_str())
    }
}

/// The first precedence name among `sorted` groups, else the smallest (index 0), else none.
pub fn primary_index(sorted: &[String], precedence: &[String]) -> Option<usize> {
    precedence
        .iter()
        .find_map(|p| sorted.binary_search(p).ok())
        .or(if sorted.is_empty() { None } else { Some(0) })
}

/// Step 1 of both strategies, inside the rebuild's transaction: removes the
/// community's records, and a record left elsewhere by a profile that has
/// since moved into this community (`profile_id` is unique).
pub async fn delete_records(db: &impl ConnectionTrait, community: i64) -> Result<u64, DbErr> {
    let moved_in = Query::select()
        .column(profile::Column::Id)
        .from(profile::Entity)
        .and_where(profile::Column::CommunityId.eq(community))
        .to_owned();
    let res = denorm_profile_record::Entity::delete_many()
        .filter(
            Condition::any()
                .add(denorm_profile_record::Column::CommunityId.eq(community))
                .add(denorm_profile_record::Column::ProfileId.in_subquery(moved_in)),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// The lock key of one community's rebuild.
pub fn community_key(id: i64) -> String {
    format!("{NAME}:{id}")
}

impl Register for DenormalizeProfiles {
    const NAME: &'static str = NAME;
    const ABOUT: &'static str =
        "Rebuild denorm_profile_records for one community (--community ID) or all (--all)";
    type Settings = Settings;

    fn from_settings(s: Settings) -> Result<Self, JobError> {
        let target = match (s.community, s.all) {
            (Some(id), false) => Target::Community(id),
            (None, true) => Target::All,
            _ => {
                return Err(JobError::bad_input(
                    "give either --community ID or --all, not both",
                ))
            }
        };
        let mut job = Self::new(target);
        if let Some(n) = s.batch_size {
            job.batch_size = Some(positive(n, "--batch-size")? as usize);
        }
        if let Some(n) = s.concurrency {
            job.concurrency = positive(n, "--concurrency")? as usize;
        }
        if let Some(names) = s.precedence {
            let names: Vec<String> = names.iter().map(|n| n.trim().to_owned()).collect();
            if names.iter().any(String::is_empty) {
                return Err(JobError::bad_input(
                    "precedence has an empty group name: list names like staff,moderator",
                ));
            }
            job.precedence = names;
        }
        job.incremental = s.incremental;
        if let Some(n) = s.max_changes {
            job.max_changes = positive(n, "--max-changes")?;
        }
        Ok(job)
    }

    fn fan_out(s: &Settings) -> Option<FanOut<Settings>> {
        s.all.then_some(FanOut {
            units: Units::Communities,
            unit: |s, id| Settings {
                community: Some(id),
                all: false,
                ..s
            },
        })
    }

    async fn bench_cases(
        db: &DatabaseConnection,
        scale: Scale,
    ) -> Result<Vec<crate::bench::BenchCase>, JobError> {
        bench::cases(db, scale).await
    }
}

fn positive(n: u64, flag: &str) -> Result<u64, JobError> {
    if n == 0 {
        return Err(JobError::bad_input(format!("{flag} must be at least 1")));
    }
    Ok(n)
}

impl Job for DenormalizeProfiles {
    fn name(&self) -> &'static str {
        NAME
    }

    fn lock_key(&self) -> String {
        match self.target {
            Target::Community(id) => community_key(id),
            Target::All => format!("{NAME}:all"),
        }
    }

    fn params(&self) -> serde_json::Value {
        let community = match self.target {
            Target::Community(id) => json!(id),
            Target::All => json!("all"),
        };
        json!({
            "community": community,
            "batch_size": self.batch_size,
            "concurrency": self.concurrency,
            "precedence": self.precedence,
            "incremental": self.incremental,
        })
    }

    async fn validate(&self, db: &DatabaseConnection) -> Result<(), JobError> {
        if let Target::Community(id) = self.target {
            if community::Entity::find_by_id(id).count(db).await? == 0 {
                return Err(JobError::bad_input(format!("unknown community {id}")));
            }
        }
        Ok(())
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        match self.target {
            Target::Community(id) => {
                // A count of the whole community would cost what an incremental run saves.
                let total = if self.incremental {
                    None
                } else {
                    let n = profile::Entity::find()
                        .filter(profile::Column::CommunityId.eq(id))
                        .count(ctx.db())
                        .await?;
                    Some(n)
                };
                let progress = ctx.progress(&format!("community {id}"), total);
                let done = self.rebuild(ctx, id, &progress).await?;
                let mut details = json!({
                    "communities": 1,
                    "batch_size": self.batch_for(ctx.strategy),
                });
                Summary::from(&[(id, done.clone())]).add_to(&mut details, self.incremental);
                Ok(JobOutput::rows(done.rows).with_details(details))
            }
            Target::All => self.rebuild_all(ctx).await,
        }
    }
}

impl DenormalizeProfiles {
    /// Brings one community up to date atomically: from its change log with
    /// `--incremental` when it can, else by a full rebuild with the context's strategy.
    async fn rebuild(
        &self,
        ctx: &JobContext,
        id: i64,
        progress: &Progress,
    ) -> Result<Done, JobError> {
        let done = self.rebuild_inner(ctx, id, progress).await;
        done.map_err(|e| match e {
            JobError::Db(e) => JobError::Other(format!(
                "community {id}: database: {}",
                crate::error::clean_db_message(&e)
            )),
            other => other,
        })
    }

    async fn rebuild_inner(
        &self,
        ctx: &JobContext,
        id: i64,
        progress: &Progress,
    ) -> Result<Done, JobError> {
        if !self.incremental {
            let rows = self.rebuild_full(ctx, id, progress).await?;
            return Ok(Done::full(rows, None));
        }
        let plan = incremental::plan(ctx.db(), id, &self.precedence, self.max_changes).await?;
        match plan {
            incremental::Plan::Full(reason) => {
                tracing::info!(community = id, %reason, "incremental run rebuilds in full");
                let rows = self.rebuild_full(ctx, id, progress).await?;
                return Ok(Done::full(rows, Some(reason)));
            }
            incremental::Plan::Apply(0) => return Ok(Done::full(0, None)),
            incremental::Plan::Apply(_) => {}
        }
        let applied = incremental::apply(ctx.db(), id, &self.precedence).await?;
        progress.inc(applied.profiles);
        Ok(Done {
            rows: applied.rows,
            full_reason: None,
            changes: applied.changes,
            profiles: applied.profiles,
        })
    }

    /// Rebuilds one community in full with the context's strategy; returns records written.
    async fn rebuild_full(
        &self,
        ctx: &JobContext,
        id: i64,
        progress: &Progress,
    ) -> Result<u64, JobError> {
        let batch = self.batch_for(ctx.strategy);
        match ctx.strategy {
            Strategy::Naive => {
                naive::rebuild(ctx.db(), id, &self.precedence, batch, progress).await
            }
            Strategy::Optimized => {
                optimized::rebuild(ctx.db(), id, &self.precedence, batch, progress).await
            }
        }
    }

    /// Every community, each under its own lock, at most `concurrency` at a time.
    async fn rebuild_all(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let ids: Vec<i64> = community::Entity::find()
            .select_only()
            .column(community::Column::Id)
            .order_by_asc(community::Column::Id)
            .into_tuple()
            .all(ctx.db())
            .await?;
        // Each rebuild holds two pool connections (the stream and the transaction):
        // more communities at once than the pool can serve would only queue.
        let pool_max = ctx
            .db()
            .get_postgres_connection_pool()
            .options()
            .get_max_connections() as usize;
        let concurrency = self.concurrency.min((pool_max / 2).max(1));
        if concurrency < self.concurrency {
            tracing::warn!(
                asked = self.concurrency,
                used = concurrency,
                "concurrency limited by the connection pool"
            );
        }
        let progress = ctx.progress("profiles", None);
        let mut outcomes = futures::stream::iter(ids.iter().copied())
            .map(|id| self.rebuild_locked(ctx, id, &progress))
            .buffer_unordered(concurrency);
        let (mut rows, mut rebuilt, mut skipped) = (0u64, Vec::new(), Vec::new());
        while let Some(outcome) = outcomes.next().await {
            match outcome {
                Ok((id, Some(done))) => {
                    rows += done.rows;
                    rebuilt.push((id, done));
                }
                Ok((id, None)) => skipped.push(id),
                // Communities already committed stay rebuilt (each is atomic on its own).
                Err(e) => {
                    return Err(JobError::Other(format!(
                        "{e} ({} communities were rebuilt before the failure and stay rebuilt)",
                        rebuilt.len()
                    )))
                }
            }
        }
        skipped.sort_unstable();
        rebuilt.sort_unstable_by_key(|(id, _)| *id);
        let mut details = json!({
            "communities": rebuilt.len(),
            "skipped_locked": skipped,
            "concurrency": concurrency,
            "batch_size": self.batch_for(ctx.strategy),
        });
        Summary::from(&rebuilt).add_to(&mut details, self.incremental);
        Ok(JobOutput::rows(rows).with_details(details))
    }

    /// Rebuilds `id` under its own lock; `None` when another run holds the lock.
    async fn rebuild_locked(
        &self,
        ctx: &JobContext,
        id: i64,
        progress: &Progress,
    ) -> Result<(i64, Option<Done>), JobError> {
        let Some(guard) = lock::acquire(ctx.db(), &community_key(id), false).await? else {
            tracing::info!(community = id, "skipped: another run holds its lock");
            return Ok((id, None));
        };
        let rows = self.rebuild(ctx, id, progress).await;
        guard.release().await;
        Ok((id, Some(rows?)))
    }
}

/// What bringing one community up to date did.
#[derive(Clone, Debug)]
struct Done {
    /// Records written or deleted.
    rows: u64,
    /// Why an incremental run rebuilt it in full (`None`: incremental, or not asked).
    full_reason: Option<String>,
    /// Log entries applied and distinct profiles recomputed (incremental only).
    changes: u64,
    profiles: u64,
}

impl Done {
    fn full(rows: u64, reason: Option<String>) -> Self {
        Self {
            rows,
            full_reason: reason,
            changes: 0,
            profiles: 0,
        }
    }
}

/// The `details` an incremental run adds: how many communities went each way, and why.
struct Summary {
    incremental: usize,
    full: Vec<serde_json::Value>,
    changes: u64,
    profiles: u64,
}

impl Summary {
    fn from(done: &[(i64, Done)]) -> Self {
        let mut s = Self {
            incremental: 0,
            full: Vec::new(),
            changes: 0,
            profiles: 0,
        };
        for (id, d) in done {
            match &d.full_reason {
                Some(reason) => s.full.push(json!({ "community": id, "reason": reason })),
                None => s.incremental += 1,
            }
            s.changes += d.changes;
            s.profiles += d.profiles;
        }
        s
    }

    fn add_to(self, details: &mut serde_json::Value, incremental: bool) {
        if !incremental {
            return;
        }
        details["incremental"] = json!(self.incremental);
        details["full_rebuilds"] = json!(self.full);
        details["changes_applied"] = json!(self.changes);
        details["profiles_recomputed"] = json!(self.profiles);
    }
}
