//! `sitejobs autocomplete suggest PREFIX [--limit 10] [--json] [--key K] [--max-prefix N]`:
//! completions served from the sorted set `refresh-autocomplete` maintains.
use std::process::ExitCode;

use service::error::JobError;
use service::jobs::refresh_autocomplete::{
    check_options, suggest, DEFAULT_KEY, DEFAULT_MAX_PREFIX,
};

use crate::Cli;

/// The `sitejobs.toml` table both commands read their defaults from.
pub const SECTION: &str = "refresh-autocomplete";

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

/// `key` and `max_prefix`: the flag, else `[refresh-autocomplete]` in
/// `sitejobs.toml`, else the defaults. Checked before anything connects.
pub fn settings(key: Option<&str>, max_prefix: Option<usize>) -> anyhow::Result<(String, usize)> {
    let section = crate::config::job_section(SECTION)?;
    let bad = |msg: String| JobError::bad_input(format!("sitejobs.toml: [{SECTION}] {msg}"));
    let mut file_key = None;
    let mut file_max = None;
    for (name, value) in &section {
        match (name.as_str(), value) {
            ("key", toml::Value::String(s)) => file_key = Some(s.clone()),
            ("max_prefix" | "max-prefix", toml::Value::Integer(n)) => {
                file_max = Some(
                    usize::try_from(*n)
                        .map_err(|_| bad(format!("{name} must be positive, got {n}")))?,
                )
            }
            ("key", _) => return Err(bad("key must be a string".into()).into()),
            ("max_prefix" | "max-prefix", _) => {
                return Err(bad(format!("{name} must be an integer")).into())
            }
            (other, _) => {
                return Err(bad(format!(
                    "has unknown setting '{other}' (known: key, max_prefix)"
                ))
                .into())
            }
        }
    }
    let key = key
        .map(str::to_owned)
        .or(file_key)
        .unwrap_or_else(|| DEFAULT_KEY.to_owned());
    let max_prefix = max_prefix.or(file_max).unwrap_or(DEFAULT_MAX_PREFIX);
    check_options(&key, max_prefix)?;
    Ok((key, max_prefix))
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    match &args.cmd {
        AutocompleteCmd::Suggest(a) => run_suggest(cli, a).await,
    }
}

async fn run_suggest(cli: &Cli, args: &SuggestArgs) -> anyhow::Result<ExitCode> {
    let (key, max_prefix) = settings(args.key.as_deref(), args.max_prefix)?;
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
