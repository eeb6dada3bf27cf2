//! `sitejobs autocomplete suggest PREFIX [--limit 10] [--json] [--key K] [--max-prefix N]`:
//! completions served from the sorted set `refresh-autocomplete` maintains.
use std::process::ExitCode;

use service::jobs::refresh_autocomplete::{self, suggest};

use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: AutocompleteCmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum AutocompleteCmd {
    /// Members of the set that start with PREFIX (lowercased and trimmed like titles), in byte order.
    Suggest(SuggestArgs),
}

#[derive(clap::Args, Debug)]
pub struct SuggestArgs {
    /// What the user typed; longer than --max-prefix it is cut to --max-prefix characters.
    #[arg(allow_hyphen_values = true)]
    pub prefix: String,
    /// At most this many members.
    #[arg(long, default_value_t = 10)]
    pub limit: u64,
    /// One JSON object ({key, prefix, truncated, members}) instead of one member per line.
    #[arg(long)]
    pub json: bool,
    /// The sorted set [default: `key` in [refresh-autocomplete] of sitejobs.toml, else autocomplete].
    #[arg(long)]
    pub key: Option<String>,
    /// The longest prefix the set holds [default: from sitejobs.toml, else 8].
    #[arg(long)]
    pub max_prefix: Option<usize>,
}

/// `key` and `max_prefix`: the flag, else `[refresh-autocomplete]` of the
/// settings file, else the defaults. Checked before anything connects.
fn settings(cli: &Cli, args: &SuggestArgs) -> anyhow::Result<(String, usize)> {
    let flags = refresh_autocomplete::Settings {
        key: args.key.clone(),
        max_prefix: args.max_prefix,
        ..Default::default()
    };
    let file = crate::config::settings_file(cli)?;
    let merged = file.merge(refresh_autocomplete::NAME, &flags)?;
    Ok(merged.key_and_max_prefix()?)
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    match &args.cmd {
        AutocompleteCmd::Suggest(a) => run_suggest(cli, a).await,
    }
}

async fn run_suggest(cli: &Cli, args: &SuggestArgs) -> anyhow::Result<ExitCode> {
    let (key, max_prefix) = settings(cli, args)?;
    // PostgreSQL normalises the prefix exactly as it normalised the titles.
    let db = crate::config::database(cli).await?;
    let redis = crate::config::redis(cli).await?;
    let mut conn = redis;
    let found =
        suggest::suggest(&db, &mut conn, &key, &args.prefix, max_prefix, args.limit).await?;
    if args.json {
        let line = serde_json::json!({
            "key": key,
            "prefix": found.prefix,
            "truncated": found.truncated,
            "members": found.members,
        });
        println!("{line}");
    } else {
        for m in &found.members {
            println!("{m}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
