//! Benchmark cases: rebuild the set from 200k (medium) titles in mixed case
//! with accents, CJK, emoji and surrounding spaces; floors are `redis-cli
//! --pipe` loading the same members into an empty key, and `psql` reading the
//! normalised titles.
use std::io::Write;
use std::path::PathBuf;

use futures::TryStreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use super::{
    common_chars, normalized_titles, prefixes, RefreshAutocomplete, Settings, CHUNK_MEMBERS,
    DEFAULT_MAX_PREFIX,
};
use crate::bench::{BenchCase, Floor, FloorKind, NaivePlan};
use crate::error::JobError;
use crate::registry::run_args;
use crate::scale::Scale;

/// The key the cases refresh (never the production `autocomplete`).
pub const BENCH_KEY: &str = "bench:autocomplete";
const FLOOR_KEY: &str = "bench:autocomplete:floor";

/// Videos the case refreshes from, per scale.
pub fn titles_for(scale: Scale) -> u64 {
    match scale {
        Scale::Tiny => 2_000,
        Scale::Small => 20_000,
        Scale::Medium => 200_000,
        Scale::Large => 2_000_000,
    }
}

/// Makes sure [`titles_for`] videos exist, writes the `redis-cli --pipe` file of their members, and
/// returns the case; from 20k titles up the naive strategy runs on a tenth of them and is
/// extrapolated.
pub async fn cases(db: &DatabaseConnection, scale: Scale) -> Result<Vec<BenchCase>, JobError> {
    let titles = titles_for(scale);
    ensure_videos(db, titles).await?;
    let (file, members) = write_pipe_file(db, scale).await?;
    // Naive sends one round trip per prefix: run a tenth of the titles and scale up.
    let naive = if titles >= 20_000 {
        let cap = titles / 10;
        // On a key of its own, so the incremental case still finds the
        // optimized run's complete set under BENCH_KEY.
        NaivePlan::Capped {
            args: args(NAIVE_KEY, Some(cap), false)?,
            factor: titles as f64 / cap as f64,
        }
    } else {
        NaivePlan::Full
    };
    let every = (titles / INCREMENTAL_CHANGES).max(1);
    let full = BenchCase {
        job: "refresh-autocomplete",
        label: format!("{} titles, {members} distinct prefixes", short(titles)),
        args: args(BENCH_KEY, None, false)?,
        naive,
        reset_sql: Vec::new(),
        floors: vec![
            Floor {
                label: format!("redis-cli --pipe of the {members} members into an empty key"),
                kind: FloorKind::Shell(format!(
                    r#"redis-cli -u "$REDIS_URL" --pipe < '{}' > /dev/null"#,
                    file.display()
                )),
            },
            Floor {
                label: "SQL read: psql \\copy of btrim(lower(title)) to /dev/null".into(),
                kind: FloorKind::Shell(
                    r#"psql "$DATABASE_URL" -qAt -c "\copy (SELECT btrim(lower(title)) FROM videos) TO '/dev/null'""#
                        .into(),
                ),
            },
        ],
    };
    // Runs right after the full case, whose optimized run left BENCH_KEY complete.
    let incremental = BenchCase {
        job: "refresh-autocomplete",
        label: format!(
            "{} titles, {INCREMENTAL_CHANGES} changed, --incremental",
            short(titles)
        ),
        args: args(BENCH_KEY, None, true)?,
        naive: NaivePlan::Skip,
        // About INCREMENTAL_CHANGES titles change before every run (reversed,
        // so the next run reverses them back): two log entries each. The log
        // starts vacuumed, as autovacuum keeps it between runs: the full case
        // just took one entry per title, and their dead rows would otherwise
        // make this run scan megabytes of nothing.
        reset_sql: vec![
            "VACUUM autocomplete_changes".into(),
            format!("UPDATE videos SET title = reverse(title) WHERE id % {every} = 0"),
        ],
        floors: Vec::new(),
    };
    Ok(vec![full, incremental])
}

/// Titles the incremental case changes before each run.
pub const INCREMENTAL_CHANGES: u64 = 100;
/// The key of the capped naive run (a partial set).
const NAIVE_KEY: &str = "bench:autocomplete:naive";

fn args(key: &str, limit_videos: Option<u64>, incremental: bool) -> Result<Vec<String>, JobError> {
    run_args::<RefreshAutocomplete>(&Settings {
        key: Some(key.to_owned()),
        limit_videos,
        incremental,
        ..Settings::default()
    })
}

fn short(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Tops `videos` up to `n` rows (reusing what is there) with deterministic
/// titles of random syllables (mixed case, accents, a combining mark, CJK,
/// emoji, spaces around): about 414k distinct prefixes at 200k titles.
pub async fn ensure_videos(db: &impl ConnectionTrait, n: u64) -> Result<(), JobError> {
    let backend = db.get_database_backend();
    let have = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT count(*) FROM videos",
        ))
        .await?
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0) as u64;
    if have >= n {
        return Ok(());
    }
    // generate_series and array indexing: bulk synthetic rows the ORM cannot express.
    let sql = format!(
        r#"INSERT INTO videos (title)
SELECT (ARRAY['', '', '', ' ', '  '])[1 + h % 5]
    || s[1 + (h >> 3) % 32] || s[1 + (h >> 8) % 32] || s[1 + (h >> 13) % 32]
    || ' ' || s[1 + (h >> 18) % 32] || s[1 + (h >> 23) % 32]
    || ' ' || substr(md5(i::text), 1, 1 + (h >> 28) % 8)
    || (ARRAY['', '', ' ', '   '])[1 + (h >> 5) % 4]
FROM (SELECT i, hashint4(i) & 2147483647 AS h,
             ARRAY['ka', 'Lo', 'mé', 'RI', 'to', 'Ña', 'yo', 'ß', 'Ü', 'be', 'Σο', 'лю',
                   '東', '京', 'ラ', 'メ', '🎬', '🚀', 'e' || chr(769), 'Çа', 'da', 'NI', 'pu', 'zé',
                   'of', 'Ōs', 'An', 'go', 'li', 'the', 'my', ' '] AS s
      FROM generate_series({}, {n}) AS i) AS g"#,
        have + 1
    );
    db.execute_raw(Statement::from_string(backend, sql)).await?;
    db.execute_raw(Statement::from_string(backend, "ANALYZE videos"))
        .await?;
    Ok(())
}

/// Writes the members the job would write, in the same (byte) order, as a
/// `redis-cli --pipe` file of `ZADD`s of the job's chunk size, between two `UNLINK`s of the floor key
/// (so it loads into an empty key and leaves nothing behind). Returns its path
/// and the member count.
async fn write_pipe_file(
    db: &DatabaseConnection,
    scale: Scale,
) -> Result<(PathBuf, u64), JobError> {
    let path = std::env::temp_dir().join(format!("sitejobs-bench-autocomplete-{scale}.resp"));
    let io = |e: std::io::Error| JobError::Other(format!("writing {}: {e}", path.display()));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
    resp(&mut out, &["UNLINK", FLOOR_KEY]).map_err(io)?;
    // The job's own members in the job's own order: sorted titles, new prefixes only.
    let mut stream = normalized_titles(None, true).stream(db).await?;
    let (mut previous, mut chunk, mut members) = (String::new(), Vec::new(), 0u64);
    while let Some(title) = stream.try_next().await? {
        for p in prefixes(&title, DEFAULT_MAX_PREFIX).skip(common_chars(&previous, &title)) {
            chunk.push(p.to_owned());
            if chunk.len() == CHUNK_MEMBERS {
                members += zadd(&mut out, &mut chunk).map_err(io)?;
            }
        }
        previous = title;
    }
    members += zadd(&mut out, &mut chunk).map_err(io)?;
    resp(&mut out, &["UNLINK", FLOOR_KEY]).map_err(io)?;
    out.flush().map_err(io)?;
    Ok((path, members))
}

/// One `ZADD` of the floor key with `chunk`'s members (none if empty), emptying it.
fn zadd(out: &mut impl Write, chunk: &mut Vec<String>) -> std::io::Result<u64> {
    if chunk.is_empty() {
        return Ok(0);
    }
    let mut cmd = vec!["ZADD", FLOOR_KEY];
    for m in chunk.iter() {
        cmd.extend(["0", m.as_str()]);
    }
    resp(out, &cmd)?;
    let n = chunk.len() as u64;
    chunk.clear();
    Ok(n)
}

/// One command in Redis' wire protocol.
fn resp(out: &mut impl Write, args: &[&str]) -> std::io::Result<()> {
    write!(out, "*{}\r\n", args.len())?;
    for a in args {
        write!(out, "${}\r\n", a.len())?;
        out.write_all(a.as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}
