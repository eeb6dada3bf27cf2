//! The production path. PostgreSQL normalises the titles and streams them in
//! byte order; since every title sharing a prefix is then adjacent, a prefix is
//! new exactly when it is longer than what the title shares with the previous
//! one: de-duplication in constant memory, and the members come out sorted
//! (Redis inserts sorted members into its skiplist about twice as fast). They
//! go out in `ZADD`s of `chunk_members` members, `PIPELINE_COMMANDS` per round
//! trip, while the next titles are still being read.
use std::time::Instant;

use futures::TryStreamExt;
use redis::aio::ConnectionLike;
use tokio::sync::mpsc;

use super::{
    common_chars, normalized_titles, prefixes, swap, RefreshAutocomplete, PIPELINE_COMMANDS,
    TEMP_TTL_SECS,
};
use crate::error::JobError;
use crate::progress::Progress;
use crate::runner::{JobContext, JobOutput};

/// Streams the normalised titles in byte order, cuts each new prefix once, pipelines them into
/// `temp` while reading, then swaps `temp` in as the live key; `rows` is the number of distinct
/// members.
pub async fn refresh(
    ctx: &JobContext,
    job: &RefreshAutocomplete,
    temp: &str,
) -> Result<JobOutput, JobError> {
    let mut conn = ctx.redis()?;
    let clock = Instant::now();
    let progress = ctx.progress("titles", None);
    // One pipeline queued while another is on the wire: bounded memory.
    let (tx, rx) = mpsc::channel(1);

    // 1-3. Read, cut and write concurrently (same task, two futures).
    let read = read_prefixes(ctx, job, temp, tx, &progress, clock);
    let write = write_pipelines(&mut conn, rx, clock);
    let (read, (added, write_ms)) = tokio::try_join!(read, write)?;
    progress.finish();
    if added != read.members {
        return Err(JobError::Other(format!(
            "redis added {added} members to {temp}, expected {}",
            read.members
        )));
    }

    // 4. Publish atomically.
    swap(&mut conn, temp, &job.key, read.members).await?;
    Ok(
        JobOutput::rows(read.members).with_details(serde_json::json!({
            "titles": read.titles,
            "zadd_commands": read.zadds,
            "read_ms": read.read_ms,
            "write_ms": write_ms,
            "swap_ms": clock.elapsed().as_millis() as u64 - write_ms,
        })),
    )
}

struct ReadStats {
    titles: u64,
    members: u64,
    zadds: u64,
    read_ms: u64,
}

/// Streams the sorted titles and queues `ZADD` pipelines of their new prefixes.
async fn read_prefixes(
    ctx: &JobContext,
    job: &RefreshAutocomplete,
    temp: &str,
    tx: mpsc::Sender<redis::Pipeline>,
    progress: &Progress,
    clock: Instant,
) -> Result<ReadStats, JobError> {
    let mut stream = normalized_titles(job.limit_videos, true)
        .stream(ctx.db())
        .await?;
    let mut batch = Batcher::new(temp, job.chunk_members);
    let mut previous = String::new();
    let stopped = || JobError::Other("the Redis writer stopped".into());
    while let Some(title) = stream.try_next().await? {
        for p in prefixes(&title, job.max_prefix).skip(common_chars(&previous, &title)) {
            if let Some(pipe) = batch.push(p) {
                tx.send(pipe).await.map_err(|_| stopped())?;
            }
        }
        previous = title;
        progress.inc(1);
    }
    let read_ms = clock.elapsed().as_millis() as u64;
    if let Some(pipe) = batch.finish() {
        tx.send(pipe).await.map_err(|_| stopped())?;
    }
    Ok(ReadStats {
        titles: progress.done(),
        members: batch.members,
        zadds: batch.zadds,
        read_ms,
    })
}

/// Sends each queued pipeline and waits for its replies; returns how many
/// members Redis added and when the last reply came.
async fn write_pipelines(
    conn: &mut impl ConnectionLike,
    mut rx: mpsc::Receiver<redis::Pipeline>,
    clock: Instant,
) -> Result<(u64, u64), JobError> {
    let mut added = 0u64;
    while let Some(pipe) = rx.recv().await {
        let replies: Vec<u64> = pipe.query_async(conn).await?;
        added += replies.iter().sum::<u64>();
    }
    Ok((added, clock.elapsed().as_millis() as u64))
}

/// Builds `ZADD temp 0 m 0 m ...` commands of `chunk` members, grouped
/// `PIPELINE_COMMANDS` to a pipeline; the first pipeline also sets the expiry.
struct Batcher<'a> {
    temp: &'a str,
    chunk: usize,
    cmd: redis::Cmd,
    in_cmd: usize,
    pipe: redis::Pipeline,
    zadds_in_pipe: usize,
    armed: bool,
    members: u64,
    zadds: u64,
}

impl<'a> Batcher<'a> {
    fn new(temp: &'a str, chunk: usize) -> Self {
        Self {
            temp,
            chunk,
            cmd: zadd(temp),
            in_cmd: 0,
            pipe: redis::pipe(),
            zadds_in_pipe: 0,
            armed: false,
            members: 0,
            zadds: 0,
        }
    }

    /// Adds one member; returns a full pipeline to send.
    fn push(&mut self, member: &str) -> Option<redis::Pipeline> {
        self.cmd.arg(0).arg(member);
        self.in_cmd += 1;
        self.members += 1;
        if self.in_cmd < self.chunk {
            return None;
        }
        self.close_cmd();
        (self.zadds_in_pipe == PIPELINE_COMMANDS).then(|| self.take_pipe())
    }

    /// The last, partial pipeline, if any.
    fn finish(&mut self) -> Option<redis::Pipeline> {
        if self.in_cmd > 0 {
            self.close_cmd();
        }
        (self.zadds_in_pipe > 0).then(|| self.take_pipe())
    }

    fn close_cmd(&mut self) {
        let cmd = std::mem::replace(&mut self.cmd, zadd(self.temp));
        self.pipe.add_command(cmd);
        self.in_cmd = 0;
        self.zadds_in_pipe += 1;
        self.zadds += 1;
        if !self.armed {
            // Right after the first write, so a crash never leaves the key without an expiry.
            self.pipe
                .cmd("EXPIRE")
                .arg(self.temp)
                .arg(TEMP_TTL_SECS)
                .ignore();
            self.armed = true;
        }
    }

    fn take_pipe(&mut self) -> redis::Pipeline {
        self.zadds_in_pipe = 0;
        std::mem::replace(&mut self.pipe, redis::pipe())
    }
}

fn zadd(key: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("ZADD");
    cmd.arg(key);
    cmd
}
