//! `seed`: deterministic synthetic data for every table of the contract, in
//! the shape the jobs meet in production (skewed community sizes, 0–6 groups
//! per profile, messy video titles, mailers over the last 60 days with many
//! emails each, Zipf-like impressions, number ranges of mixed widths).
//!
//! **Replaces the data.** Seeding first empties every contract table
//! (`TRUNCATE ... RESTART IDENTITY CASCADE`; `job_runs`, the migration table
//! and any other job state are kept), then writes rows with explicit ids, so
//! the same [`SeedOptions`] give byte-for-byte the same tables. The jobs'
//! output tables (`denorm_profile_records`, `daily_impression_stats(_tags)`)
//! are filled with what the optimized jobs would write (`derived.rs`), so a
//! seeded database looks like production's; the CLI also refreshes the
//! autocomplete set when a Redis is configured.
//!
//! **Why it is fast.** Every table is one `INSERT ... SELECT ... FROM
//! generate_series(1, n)` whose values are hashes of (seed, row number)
//! computed by PostgreSQL ([`hash::Gen`]): no row crosses the wire, no
//! statement per row, no memory in the client. Measured here on 2M rows of
//! `my_numbers` (2 shared cores): this path took 10.6–12.5 s, and `COPY` of
//! the very same rows, already encoded, 8.4–12.1 s, before the client has
//! generated and encoded anything on the same two cores; a wash, so the path
//! with nothing to ship wins. What did matter is index and foreign-key upkeep:
//! each table's secondary indexes and foreign keys are set aside during its
//! load and rebuilt after it (the `ddl` module).
//!
//! **All or nothing.** [`seed_atomically`] writes `my_numbers` and the other
//! tables in two transactions on two connections at once (PostgreSQL gives
//! each statement one core), and commits neither until both are written: a
//! failure in either leaves every table's old data. Options are validated
//! before anything is written.
mod ddl;
mod derived;
pub mod hash;
mod impressions;
mod mailers;
mod numbers;
mod profiles;
mod videos;

use std::time::Instant;

use chrono::{NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use serde::Serialize;

use crate::error::JobError;
use crate::scale::Scale;
use hash::Gen;

/// The tables `seed` empties and refills (every table of the contract).
pub const TABLES: [&str; 14] = [
    "communities",
    "profiles",
    "groups",
    "profile_groups",
    "denorm_profile_records",
    "videos",
    "mailers",
    "emails",
    "impressions",
    "tags",
    "content_tags",
    "daily_impression_stats",
    "daily_impression_stats_tags",
    "my_numbers",
];

/// The incremental refresh's change logs, emptied with the tables.
const CHANGE_LOGS: [&str; 2] = ["denorm_profile_changes", "autocomplete_changes"];

/// Largest count accepted for one table: keeps id arithmetic inside `bigint`.
const MAX_ROWS: u64 = 1_000_000_000;
/// Largest number of groups or tags (their names are generated one by one).
const MAX_NAMES: u64 = 1_000_000;
const MAX_DAYS: u64 = 3650;
/// `work_mem` of the seed's transaction: `large`'s 856k daily stats groups hash in ~170 MB.
const WORK_MEM: &str = "256MB";

/// How many rows to write. `emails` is the total over all mailers and
/// `impressions` the total over all `days`; `contents` is the number of
/// distinct `(content_type_id, object_id)` pieces of content that impressions
/// and `content_tags` refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Communities; the profiles are spread over them.
    pub communities: u64,
    /// Profiles in total, over all communities.
    pub profiles: u64,
    /// Distinct groups the profiles join.
    pub groups: u64,
    /// Videos, whose titles feed autocomplete.
    pub videos: u64,
    /// Mailers, sent over the 60 days before the anchor.
    pub mailers: u64,
    /// Emails in total, over all mailers.
    pub emails: u64,
    /// Impressions in total, over all `days`.
    pub impressions: u64,
    /// Distinct pieces of content that impressions and `content_tags` refer to.
    pub contents: u64,
    /// Distinct tags attached to content.
    pub tags: u64,
    /// Rows of `my_numbers`.
    pub numbers: u64,
    /// Days that hold impressions, the last one the day before the anchor.
    pub days: u64,
}

impl Counts {
    /// The defaults of each scale (a count flag overrides one of them).
    pub fn for_scale(scale: Scale) -> Self {
        let c =
            |communities, profiles, videos, mailers, emails, impressions, contents, numbers| Self {
                communities,
                profiles,
                groups: 40,
                videos,
                mailers,
                emails,
                impressions,
                contents,
                tags: 200,
                numbers,
                days: 7,
            };
        match scale {
            Scale::Tiny => c(5, 1_000, 500, 200, 2_000, 5_000, 500, 2_000),
            Scale::Small => c(50, 50_000, 20_000, 3_000, 90_000, 200_000, 20_000, 200_000),
            Scale::Medium => c(
                200, 500_000, 200_000, 30_000, 3_000_000, 2_000_000, 100_000, 1_000_000,
            ),
            Scale::Large => c(
                1_000, 1_500_000, 1_000_000, 30_000, 3_000_000, 7_000_000, 200_000, 8_000_000,
            ),
        }
    }

    /// Rejects counts that cannot be generated, naming the flag.
    pub fn validate(&self) -> Result<(), JobError> {
        let big = [
            ("communities", self.communities),
            ("profiles", self.profiles),
            ("videos", self.videos),
            ("mailers", self.mailers),
            ("emails", self.emails),
            ("impressions", self.impressions),
            ("contents", self.contents),
            ("numbers", self.numbers),
        ];
        for (flag, n) in big {
            if n > MAX_ROWS {
                return Err(JobError::bad_input(format!(
                    "--{flag} {n} is too large: at most {MAX_ROWS}"
                )));
            }
        }
        for (flag, n) in [("groups", self.groups), ("tags", self.tags)] {
            if n > MAX_NAMES {
                return Err(JobError::bad_input(format!(
                    "--{flag} {n} is too large: at most {MAX_NAMES}"
                )));
            }
        }
        let needs = [
            (
                self.profiles > 0 && self.communities == 0,
                "--profiles needs at least one community (--communities)",
            ),
            (
                self.emails > 0 && self.mailers == 0,
                "--emails needs at least one mailer (--mailers)",
            ),
            (
                self.impressions > 0 && self.contents == 0,
                "--impressions needs at least one content (--contents)",
            ),
            (
                self.impressions > 0 && self.days == 0,
                "--impressions needs at least one day (--days)",
            ),
        ];
        if let Some((_, msg)) = needs.iter().find(|(bad, _)| *bad) {
            return Err(JobError::bad_input(*msg));
        }
        if self.days > MAX_DAYS {
            return Err(JobError::bad_input(format!(
                "--days {} is too large: at most {MAX_DAYS}",
                self.days
            )));
        }
        Ok(())
    }
}

/// Everything that decides the data: the same options give the same tables.
#[derive(Clone, Debug, Serialize)]
pub struct SeedOptions {
    /// The scale the default counts came from (reported; `counts` decide).
    pub scale: Scale,
    /// Seed of every pseudo-random value: the same seed, anchor and counts give the same rows.
    pub seed: u64,
    /// Time anchor (UTC midnight): mailers are sent in the 60 days before it and
    /// impressions fall on the `days` days before it (the last one is "yesterday"
    /// when the anchor is today, the default).
    pub anchor: NaiveDate,
    /// Rows to write, per table.
    pub counts: Counts,
}

impl SeedOptions {
    /// The scale's counts, seed 1, anchored on today (UTC).
    pub fn new(scale: Scale) -> Self {
        Self {
            scale,
            seed: 1,
            anchor: Utc::now().date_naive(),
            counts: Counts::for_scale(scale),
        }
    }

    /// Rejects counts that cannot be generated, as bad input naming the flag (see
    /// [`Counts::validate`]).
    pub fn validate(&self) -> Result<(), JobError> {
        self.counts.validate()
    }

    /// The anchor as an SQL `timestamptz` literal.
    fn anchor_sql(&self) -> String {
        format!(
            "'{} 00:00:00+00'::timestamptz",
            self.anchor.format("%Y-%m-%d")
        )
    }
}

/// Rows written to one table and how fast.
#[derive(Clone, Debug, Serialize)]
pub struct TableReport {
    /// The table written.
    pub table: &'static str,
    /// Rows written to it.
    pub rows: u64,
    /// Time to write them, index rebuilds included, in milliseconds.
    pub ms: u64,
    /// `rows` per second of `ms`.
    pub rows_per_sec: u64,
}

/// What `seed` did: printed as one JSON object by the CLI.
#[derive(Clone, Debug, Serialize)]
pub struct SeedReport {
    /// The scale of the options.
    pub scale: Scale,
    /// The seed of the options.
    pub seed: u64,
    /// The time anchor (UTC midnight) the data was placed around.
    pub anchor: NaiveDate,
    /// Rows written over all tables.
    pub rows: u64,
    /// Time of the writes (emptying and filling every table, then `ANALYZE`).
    pub duration_ms: u64,
    /// `rows` per second of `duration_ms`.
    pub rows_per_sec: u64,
    /// Connections that wrote at once (one transaction each; see [`seed_atomically`]).
    pub connections: u64,
    /// Rows and times per table, each connection's in the order it wrote them.
    pub tables: Vec<TableReport>,
    /// Time of the `VACUUM` after the commit (0 when seeding inside a caller's transaction).
    pub vacuum_ms: u64,
    /// The autocomplete set refreshed after the commit, when a Redis was configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autocomplete: Option<AutocompleteReport>,
}

/// The sorted set `seed` filled by running `refresh-autocomplete` after its commit.
#[derive(Clone, Debug, Serialize)]
pub struct AutocompleteReport {
    /// The live sorted set.
    pub key: String,
    /// Distinct members written (the run's `rows`).
    pub members: u64,
    /// The run's duration.
    pub ms: u64,
}

fn per_sec(rows: u64, ms: u64) -> u64 {
    rows.saturating_mul(1000) / ms.max(1)
}

/// Runs one generating statement into `table` (its secondary indexes and
/// foreign keys set aside meanwhile, see [`ddl`]) and times the whole.
async fn insert(
    db: &impl ConnectionTrait,
    table: &'static str,
    sql: String,
) -> Result<TableReport, JobError> {
    let clock = Instant::now();
    let stripped = ddl::strip(db, table).await?;
    let rows = db
        .execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .rows_affected();
    ddl::restore(db, stripped).await?;
    let ms = clock.elapsed().as_millis() as u64;
    tracing::info!(table, rows, ms, rows_per_sec = per_sec(rows, ms), "seeded");
    Ok(TableReport {
        table,
        rows,
        ms,
        rows_per_sec: per_sec(rows, ms),
    })
}

/// One transaction's share of the seed. The contract's tables form two
/// groups with no foreign key and no derived data between them: `my_numbers`,
/// whose GiST index build alone is about 40% of `large`, and everything else.
/// [`seed_atomically`] loads them side by side on two connections.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Every table but `my_numbers` (and the incremental refresh's change logs).
    Related,
    /// `my_numbers`.
    Numbers,
}

impl Part {
    fn tables(self) -> Vec<&'static str> {
        TABLES
            .into_iter()
            .filter(|t| (*t == "my_numbers") == (self == Part::Numbers))
            .collect()
    }
}

/// Empties the part's tables, fills them from `opts`, moves their id
/// sequences past the written ids and analyzes them.
async fn load(
    db: &impl ConnectionTrait,
    opts: &SeedOptions,
    part: Part,
) -> Result<Vec<TableReport>, JobError> {
    let g = Gen::new(opts.seed);
    let tables = part.tables();
    // Room for the jobs' tables' aggregates to hash and sort in memory rather
    // than spill (32 MB by default here); LOCAL: this transaction only.
    db.execute_unprepared(&format!("SET LOCAL work_mem = '{WORK_MEM}'"))
        .await?;
    // TRUNCATE has no SeaORM builder; RESTART IDENTITY makes the ids repeatable.
    // The incremental refresh's change logs go too: the TRUNCATE makes it
    // forget its state, so their entries could only be thrown away.
    let mut emptied = tables.clone();
    if part == Part::Related {
        emptied.extend(CHANGE_LOGS);
    }
    db.execute_unprepared(&format!(
        "TRUNCATE {} RESTART IDENTITY CASCADE",
        emptied.join(", ")
    ))
    .await?;
    let n = &opts.counts;
    let anchor = opts.anchor_sql();
    let mut reports = Vec::new();
    match part {
        Part::Related => {
            reports.extend(profiles::seed(db, &g, n).await?);
            reports.push(videos::seed(db, &g, n.videos).await?);
            reports.extend(mailers::seed(db, &g, n, &anchor).await?);
            reports.extend(impressions::seed(db, &g, n, &anchor).await?);
            reports.extend(derived::seed(db).await?);
        }
        Part::Numbers => reports.push(numbers::seed(db, &g, n.numbers).await?),
    }
    move_sequences(db, &tables).await?;
    // Fresh statistics, so the jobs' first plans fit the new data.
    db.execute_unprepared(&format!("ANALYZE {}", tables.join(", ")))
        .await?;
    Ok(reports)
}

fn report(
    opts: &SeedOptions,
    tables: Vec<TableReport>,
    clock: Instant,
    connections: u64,
) -> SeedReport {
    let rows = tables.iter().map(|t| t.rows).sum();
    let duration_ms = clock.elapsed().as_millis() as u64;
    SeedReport {
        scale: opts.scale,
        seed: opts.seed,
        anchor: opts.anchor,
        rows,
        duration_ms,
        rows_per_sec: per_sec(rows, duration_ms),
        connections,
        tables,
        vacuum_ms: 0,
        autocomplete: None,
    }
}

/// Empties every contract table, fills them from `opts`, moves the id
/// sequences past the written ids and analyzes the tables, one table after
/// the other on `db`. Not atomic by itself: give it a transaction (or use
/// [`seed_atomically`], which also uses a second core).
pub async fn seed(db: &impl ConnectionTrait, opts: &SeedOptions) -> Result<SeedReport, JobError> {
    opts.validate()?;
    let clock = Instant::now();
    let mut tables = load(db, opts, Part::Related).await?;
    tables.extend(load(db, opts, Part::Numbers).await?);
    Ok(report(opts, tables, clock, 1))
}

/// Seeds on two connections at once, one transaction each: `my_numbers` on
/// one, every other table on the other (they share no foreign key and no
/// derived data). PostgreSQL runs a statement on one core, so
/// this is what lets seed use a second one: at `large` the `my_numbers` GiST
/// build alone takes as long as all the other tables.
///
/// Neither transaction commits until both have written everything: a failure
/// in either (bad data, a lost connection, a constraint) rolls both back and
/// leaves every table's old data. Readers see each group's old data or its
/// new data; between the two commits (one round trip) they can see the new
/// `my_numbers` beside the old rest. Then `VACUUM`, again one connection
/// per group, so the first job does not pay for setting hint bits and the
/// visibility map.
pub async fn seed_atomically(
    db: &DatabaseConnection,
    opts: &SeedOptions,
) -> Result<SeedReport, JobError> {
    opts.validate()?;
    let clock = Instant::now();
    let (related, numbers) = (db.begin().await?, db.begin().await?);
    // The first error returns at once; dropping both transactions rolls them back.
    let (mut tables, numbered) = tokio::try_join!(
        load(&related, opts, Part::Related),
        load(&numbers, opts, Part::Numbers)
    )?;
    related.commit().await?;
    numbers.commit().await?;
    tables.extend(numbered);
    let mut report = report(opts, tables, clock, 2);
    let clock = Instant::now();
    // VACUUM cannot run in a transaction; it only sets bookkeeping, the data is committed.
    tokio::try_join!(vacuum(db, Part::Related), vacuum(db, Part::Numbers))?;
    report.vacuum_ms = clock.elapsed().as_millis() as u64;
    tracing::info!(ms = report.vacuum_ms, "vacuumed");
    Ok(report)
}

async fn vacuum(db: &DatabaseConnection, part: Part) -> Result<(), JobError> {
    db.execute_unprepared(&format!("VACUUM {}", part.tables().join(", ")))
        .await?;
    Ok(())
}

/// Moves each table's id sequence past the largest id written (rows carry explicit ids).
async fn move_sequences(db: &impl ConnectionTrait, tables: &[&str]) -> Result<(), JobError> {
    for &table in tables {
        // Tables keyed by their references (profile_groups, ...) have no id sequence.
        let sql = format!(
            "SELECT setval(seq, COALESCE((SELECT max(id) FROM {table}), 1), \
             (SELECT max(id) IS NOT NULL FROM {table})) \
             FROM pg_get_serial_sequence('{table}', 'id') AS seq WHERE seq IS NOT NULL"
        );
        if has_id(table) {
            db.execute_unprepared(&sql).await?;
        }
    }
    Ok(())
}

fn has_id(table: &str) -> bool {
    !matches!(
        table,
        "profile_groups" | "content_tags" | "daily_impression_stats_tags"
    )
}
