//! `sitejobs seed [--scale S] [--seed N] [--anchor YYYY-MM-DD] [--profiles N ...]`:
//! replaces the data of every contract table with deterministic synthetic data
//! and prints one JSON summary (rows and rows per second per table) on stdout.
use std::process::ExitCode;

use chrono::NaiveDate;
use service::jobs::refresh_autocomplete::{self, RefreshAutocomplete};
use service::scale::Scale;
use service::seed::{seed_atomically, AutocompleteReport, Counts, SeedOptions};
use service::{run_job, RunOptions, RunStatus, Services};

use crate::commands::bad_input;
use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Default counts: tiny (seconds), small (the demo), medium, large (millions of rows).
    #[arg(long, value_enum, default_value_t = Scale::Small)]
    pub scale: Scale,
    /// The same seed (with the same counts and anchor) gives the same data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// UTC day the time columns are anchored on: mailers in the 60 days before
    /// it, impressions on the --days days before it. Default: today.
    #[arg(long)]
    pub anchor: Option<String>,
    #[command(flatten)]
    pub counts: CountFlags,
}

/// One flag per table, each overriding the scale's default.
#[derive(clap::Args, Debug)]
pub struct CountFlags {
    #[arg(long, allow_negative_numbers = true)]
    pub communities: Option<i64>,
    #[arg(long, allow_negative_numbers = true)]
    pub profiles: Option<i64>,
    /// Groups to draw each profile's 0–6 groups from.
    #[arg(long, allow_negative_numbers = true)]
    pub groups: Option<i64>,
    #[arg(long, allow_negative_numbers = true)]
    pub videos: Option<i64>,
    #[arg(long, allow_negative_numbers = true)]
    pub mailers: Option<i64>,
    /// Emails in total, spread over the mailers.
    #[arg(long, allow_negative_numbers = true)]
    pub emails: Option<i64>,
    /// Impressions in total, spread over --days days.
    #[arg(long, allow_negative_numbers = true)]
    pub impressions: Option<i64>,
    /// Distinct pieces of content that impressions and content_tags refer to.
    #[arg(long, allow_negative_numbers = true)]
    pub contents: Option<i64>,
    #[arg(long, allow_negative_numbers = true)]
    pub tags: Option<i64>,
    /// Rows of my_numbers.
    #[arg(long, allow_negative_numbers = true)]
    pub numbers: Option<i64>,
    /// Days of impressions, ending the day before --anchor.
    #[arg(long, allow_negative_numbers = true)]
    pub days: Option<i64>,
}

impl CountFlags {
    /// The scale's defaults with every given flag applied; a negative count is bad input.
    fn apply(&self, mut c: Counts) -> anyhow::Result<Counts> {
        let fields: [(&str, Option<i64>, &mut u64); 11] = [
            ("communities", self.communities, &mut c.communities),
            ("profiles", self.profiles, &mut c.profiles),
            ("groups", self.groups, &mut c.groups),
            ("videos", self.videos, &mut c.videos),
            ("mailers", self.mailers, &mut c.mailers),
            ("emails", self.emails, &mut c.emails),
            ("impressions", self.impressions, &mut c.impressions),
            ("contents", self.contents, &mut c.contents),
            ("tags", self.tags, &mut c.tags),
            ("numbers", self.numbers, &mut c.numbers),
            ("days", self.days, &mut c.days),
        ];
        for (flag, given, slot) in fields {
            if let Some(v) = given {
                *slot = u64::try_from(v)
                    .map_err(|_| bad_input(format!("--{flag} must be 0 or more, got {v}")))?;
            }
        }
        Ok(c)
    }
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let mut opts = SeedOptions::new(args.scale);
    opts.seed = args.seed;
    opts.counts = args.counts.apply(opts.counts)?;
    if let Some(day) = &args.anchor {
        opts.anchor = NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map_err(|_| bad_input(format!("--anchor '{day}' is not a date: use YYYY-MM-DD")))?;
    }
    // Every flag and setting is checked, and every server reached, before
    // anything is written: bad input or a missing server writes nothing.
    opts.validate()?;
    let autocomplete = match cli.redis_url {
        Some(_) => {
            let merged = crate::config::settings_file(cli)?.merge(
                refresh_autocomplete::NAME,
                &refresh_autocomplete::Settings::default(),
            )?;
            Some(merged.key_and_max_prefix()?)
        }
        None => None,
    };
    let db = crate::config::database(cli).await?;
    service::deploy::guard::Guard::from_env(&cli.env)
        .check_destructive(&db, "sitejobs seed")
        .await?;
    let redis = match autocomplete {
        Some(_) => Some(crate::config::redis(cli).await?),
        None => None,
    };
    tracing::info!(scale = %opts.scale, seed = opts.seed, anchor = %opts.anchor, "seeding");
    let mut report = seed_atomically(&db, &opts).await?;
    if let (Some((key, max_prefix)), Some(redis)) = (autocomplete, redis) {
        report.autocomplete = Some(refresh_autocomplete(db, redis, key, max_prefix).await?);
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// The set a production site would hold for the new titles: the optimized
/// `refresh-autocomplete` itself, run (and recorded) after the seed's commit
/// because it reads the titles on connections of its own.
async fn refresh_autocomplete(
    db: sea_orm::DatabaseConnection,
    redis: service::redis_conn::RedisConn,
    key: String,
    max_prefix: usize,
) -> anyhow::Result<AutocompleteReport> {
    let job = RefreshAutocomplete::new(&key, max_prefix);
    let services = Services {
        db,
        redis: Some(redis),
    };
    let opts = RunOptions {
        quiet: true,
        ..Default::default()
    };
    let run = run_job(&services, &job, &opts).await?;
    if run.status != RunStatus::Ok {
        anyhow::bail!(
            "the database is seeded, but refreshing the autocomplete set {key} failed ({}): {}; run `sitejobs run refresh-autocomplete`",
            run.status.as_str(),
            run.error.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(AutocompleteReport {
        key,
        members: run.rows,
        ms: run.duration_ms,
    })
}
