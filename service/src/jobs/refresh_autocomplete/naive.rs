//! The write-up's original Redis traffic: one `ZADD` per prefix of every title,
//! duplicates included, each its own round trip. It still keeps the guarantees:
//! PostgreSQL's normalisation, a temporary key with an expiry, the atomic swap.
use std::time::Instant;

use super::{normalized_titles, prefixes, swap, RefreshAutocomplete, TEMP_TTL_SECS};
use crate::error::JobError;
use crate::runner::{JobContext, JobOutput};

/// Writes every prefix of every title into `temp` with one `ZADD` round trip each, then swaps
/// `temp` in as the live key; `rows` is the number of distinct members.
pub async fn refresh(
    ctx: &JobContext,
    job: &RefreshAutocomplete,
    temp: &str,
) -> Result<JobOutput, JobError> {
    let mut conn = ctx.redis()?;
    let clock = Instant::now();

    // 1. Read the normalised titles, all at once (the write-up's `values_list`).
    let titles = normalized_titles(job.limit_videos, false)
        .all(ctx.db())
        .await?;
    let read_ms = clock.elapsed().as_millis() as u64;

    // 2 + 3. Every prefix of every title, one ZADD each; ZADD's reply counts the
    // members it added, so their sum is the number of distinct members.
    let progress = ctx.progress("titles", Some(titles.len() as u64));
    let (mut members, mut sent, mut armed) = (0u64, 0u64, false);
    for title in &titles {
        for p in prefixes(title, job.max_prefix) {
            members += redis::cmd("ZADD")
                .arg(temp)
                .arg(0)
                .arg(p)
                .query_async::<u64>(&mut conn)
                .await?;
            sent += 1;
            if !armed {
                redis::cmd("EXPIRE")
                    .arg(temp)
                    .arg(TEMP_TTL_SECS)
                    .query_async::<i64>(&mut conn)
                    .await?;
                armed = true;
            }
        }
        progress.inc(1);
    }
    progress.finish();
    let write_ms = clock.elapsed().as_millis() as u64 - read_ms;

    // 4. Publish atomically.
    swap(&mut conn, temp, &job.key, members).await?;
    Ok(JobOutput::rows(members).with_details(serde_json::json!({
        "titles": titles.len(),
        "prefixes_sent": sent,
        "read_ms": read_ms,
        "write_ms": write_ms,
        "swap_ms": clock.elapsed().as_millis() as u64 - read_ms - write_ms,
    })))
}
