//! A job that does nothing but one statement (and optionally sleeps or fails):
//! it exercises the runner's lock, counting, history and exit codes.
use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};

use crate::error::JobError;
use crate::runner::{Job, JobContext, JobOutput};

pub struct Noop {
    pub sleep_ms: u64,
    pub fail: bool,
    /// A community to pretend to work on: the lock key becomes `noop:<id>`.
    pub community: Option<i64>,
}

impl Job for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }

    fn lock_key(&self) -> String {
        match self.community {
            Some(id) => format!("noop:{id}"),
            None => "noop".to_owned(),
        }
    }

    fn params(&self) -> serde_json::Value {
        serde_json::json!({ "sleep_ms": self.sleep_ms, "fail": self.fail, "community": self.community })
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobError> {
        let db = ctx.db();
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT 1",
        ))
        .await?;
        tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        if self.fail {
            return Err(JobError::Other("noop failed as asked (--fail)".into()));
        }
        Ok(JobOutput::rows(0))
    }
}
