//! The production path: titles normalised by PostgreSQL and streamed, prefixes
//! de-duplicated in memory, then written in pipelined `ZADD`s of
//! `chunk_members` members, at most `PIPELINE_COMMANDS` per round trip.
use std::collections::HashSet;
use std::time::Instant;

use futures::TryStreamExt;
use redis::aio::ConnectionLike;

use super::{
    normalized_titles, prefixes, swap, RefreshAutocomplete, PIPELINE_COMMANDS, TEMP_TTL_SECS,
};
use crate::error::JobError;
use crate::runner::{JobContext, JobOutput};

pub async fn refresh(
    ctx: &JobContext,
    job: &RefreshAutocomplete,
    temp: &str,
) -> Result<JobOutput, JobError> {
    let mut conn = ctx.redis()?;
    let clock = Instant::now();

    // 1. Stream the normalised titles (one statement, flat memory on the way in)...
    let progress = ctx.progress("titles", None);
    let mut stream = normalized_titles(job.limit_videos).stream(ctx.db()).await?;
    // 2. ...keeping each distinct prefix once.
    let mut distinct: HashSet<Box<str>> = HashSet::new();
    while let Some(title) = stream.try_next().await? {
        for p in prefixes(&title, job.max_prefix) {
            if !distinct.contains(p) {
                distinct.insert(p.into());
            }
        }
        progress.inc(1);
    }
    drop(stream);
    let titles = progress.done();
    progress.finish();
    let read_ms = clock.elapsed().as_millis() as u64;

    // 3. Pipelined ZADDs into the temporary key.
    let members = distinct.len() as u64;
    let progress = ctx.progress("members", Some(members));
    let mut writer = ChunkWriter::new(temp, job.chunk_members);
    for m in &distinct {
        if let Some(done) = writer.push(&mut conn, m).await? {
            progress.inc(done);
        }
    }
    progress.inc(writer.finish(&mut conn).await?);
    progress.finish();
    let write_ms = clock.elapsed().as_millis() as u64 - read_ms;
    if writer.added != members {
        return Err(JobError::Other(format!(
            "redis added {} members to {temp}, expected {members}",
            writer.added
        )));
    }

    // 4. Publish atomically.
    swap(&mut conn, temp, &job.key, members).await?;
    Ok(JobOutput::rows(members).with_details(serde_json::json!({
        "titles": titles,
        "zadd_commands": writer.commands,
        "read_ms": read_ms,
        "write_ms": write_ms,
        "swap_ms": clock.elapsed().as_millis() as u64 - read_ms - write_ms,
    })))
}

/// Builds `ZADD temp 0 m 0 m ...` commands of `chunk` members and sends them
/// `PIPELINE_COMMANDS` at a time; the first pipeline also sets the key's expiry.
struct ChunkWriter<'a> {
    temp: &'a str,
    chunk: usize,
    cmd: redis::Cmd,
    in_cmd: usize,
    pipe: redis::Pipeline,
    in_pipe: usize,
    zadds_in_pipe: usize,
    armed: bool,
    added: u64,
    commands: u64,
}

impl<'a> ChunkWriter<'a> {
    fn new(temp: &'a str, chunk: usize) -> Self {
        Self {
            temp,
            chunk,
            cmd: zadd(temp),
            in_cmd: 0,
            pipe: redis::pipe(),
            in_pipe: 0,
            zadds_in_pipe: 0,
            armed: false,
            added: 0,
            commands: 0,
        }
    }

    /// Adds one member; returns the members written when a pipeline went out.
    async fn push(
        &mut self,
        conn: &mut impl ConnectionLike,
        member: &str,
    ) -> Result<Option<u64>, JobError> {
        self.cmd.arg(0).arg(member);
        self.in_cmd += 1;
        if self.in_cmd < self.chunk {
            return Ok(None);
        }
        self.close_cmd();
        if self.zadds_in_pipe < PIPELINE_COMMANDS {
            return Ok(None);
        }
        self.send(conn).await.map(Some)
    }

    /// Sends what is left; returns the members written.
    async fn finish(&mut self, conn: &mut impl ConnectionLike) -> Result<u64, JobError> {
        if self.in_cmd > 0 {
            self.close_cmd();
        }
        if self.in_pipe == 0 {
            return Ok(0);
        }
        self.send(conn).await
    }

    fn close_cmd(&mut self) {
        let cmd = std::mem::replace(&mut self.cmd, zadd(self.temp));
        self.pipe.add_command(cmd);
        self.in_pipe += std::mem::take(&mut self.in_cmd);
        self.zadds_in_pipe += 1;
        self.commands += 1;
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

    async fn send(&mut self, conn: &mut impl ConnectionLike) -> Result<u64, JobError> {
        let pipe = std::mem::replace(&mut self.pipe, redis::pipe());
        self.zadds_in_pipe = 0;
        let replies: Vec<u64> = pipe.query_async(conn).await?;
        self.added += replies.iter().sum::<u64>();
        Ok(std::mem::take(&mut self.in_pipe) as u64)
    }
}

fn zadd(key: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("ZADD");
    cmd.arg(key);
    cmd
}
