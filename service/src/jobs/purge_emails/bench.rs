//! Benchmark cases of `purge-emails`. The data is dated in 2001 and the cases
//! pass `--now 2001-03-02T00:00:00Z`, so other data in the database (seeded,
//! dated now) is never purged by them. Mailers are spread evenly, 500 a day at
//! `medium`, 100 emails each; emails are a pure function of their mailer, so
//! the reset SQL restores exactly what a run deleted by generating it again.
//!
//! Cases (`medium`: 3M emails from 30k mailers over 60 days, retention 14):
//! the first run (46 days' worth, no watermark yet) and the daily run (one day's
//! worth, after yesterday's run: the table then holds 15 days of emails).
//! `large` is the daily run on a tenfold table with the same daily volume:
//! 300k mailers over 600 days and retention 149, so the daily run faces 150
//! days (7.5M emails) and ten times the mailer history, and deletes the same
//! 50k rows (its emails older than the daily case needs are not generated).
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::bench::{BenchCase, Floor, FloorKind, NaivePlan};
use crate::error::JobError;
use crate::registry::run_args;
use crate::scale::Scale;

use super::{PurgeEmails, Settings};

const NOW: &str = "2001-03-02T00:00:00Z";

fn now() -> Result<chrono::DateTime<chrono::Utc>, JobError> {
    chrono::DateTime::parse_from_rfc3339(NOW)
        .map(|t| t.to_utc())
        .map_err(|e| JobError::Other(format!("bench instant {NOW}: {e}")))
}
const SUBJECT: &str = "bench-purge";
const EMAILS_PER_MAILER: i64 = 100;

/// The shape of one scale's data.
#[derive(Clone, Copy, Debug)]
struct Shape {
    per_day: i64,
    days: i64,
    retention: i64,
    /// Whether the first-run case (emails for every day) is part of this scale.
    first_run: bool,
}

impl Shape {
    fn of(scale: Scale) -> Self {
        let (per_day, days, retention, first_run) = match scale {
            Scale::Tiny => (5, 60, 14, true),
            Scale::Small => (50, 60, 14, true),
            Scale::Medium => (500, 60, 14, true),
            Scale::Large => (500, 600, 149, false),
        };
        Self {
            per_day,
            days,
            retention,
            first_run,
        }
    }

    fn mailers(self) -> i64 {
        self.per_day * self.days
    }

    /// Seconds between two mailers.
    fn step(self) -> f64 {
        86_400.0 / self.per_day as f64
    }

    fn cutoff(self, days_back: i64) -> String {
        format!("timestamptz '{NOW}' - interval '{days_back} days'")
    }
}

/// Emails of the bench mailers sent in `(after, until]` that are missing, generated again.
fn restore_emails(after: &str, until: &str) -> String {
    format!(
        "INSERT INTO emails (mailer_id, recipient, body) \
         SELECT m.id, 'user' || n || '.' || m.id || '@example.com', \
                'Hello ' || n || ', this is mailer ' || m.id || E'.\\n' || repeat('lorem ipsum ', 6) \
         FROM (SELECT id FROM mailers WHERE subject = '{SUBJECT}' AND sent > {after} AND sent <= {until} \
               AND NOT EXISTS (SELECT 1 FROM emails e WHERE e.mailer_id = mailers.id) ORDER BY id) m \
         CROSS JOIN LATERAL generate_series(1, {EMAILS_PER_MAILER}) n"
    )
}

/// Prepares the scale's data (reusing it when present) and returns its cases.
pub async fn cases(db: &DatabaseConnection, scale: Scale) -> Result<Vec<BenchCase>, JobError> {
    let shape = Shape::of(scale);
    prepare(db, shape).await?;
    let args = || {
        run_args::<PurgeEmails>(&Settings {
            retention_days: Some(shape.retention),
            now: Some(now()?),
            batch_size: None,
        })
    };
    let mut cases = Vec::new();
    let cutoff = shape.cutoff(shape.retention);
    let yesterday = shape.cutoff(shape.retention + 1);
    let emails = shape.mailers() * EMAILS_PER_MAILER;
    if shape.first_run {
        cases.push(BenchCase {
            job: super::NAME,
            label: format!(
                "first run: {} days of {} emails ({} mailers), no watermark",
                shape.days - shape.retention,
                emails,
                shape.mailers()
            ),
            args: args()?,
            naive: NaivePlan::Full,
            reset_sql: vec![
                restore_emails("'-infinity'", &cutoff),
                "DELETE FROM purge_watermarks".into(),
                "ANALYZE emails".into(),
            ],
            floors: vec![],
        });
    }
    let day_mailers = format!(
        "SELECT id FROM mailers WHERE subject = '{SUBJECT}' AND sent > {yesterday} AND sent <= {cutoff}"
    );
    cases.push(BenchCase {
        job: super::NAME,
        label: format!(
            "daily run: 1 day ({} emails) of {} days kept ({} emails, {} mailers)",
            shape.per_day * EMAILS_PER_MAILER,
            shape.retention + 1,
            shape.per_day * (shape.retention + 1) * EMAILS_PER_MAILER,
            shape.mailers()
        ),
        args: args()?,
        naive: NaivePlan::Full,
        reset_sql: vec![
            // Yesterday's run is done: older emails gone, watermark at its cutoff.
            format!(
                "DELETE FROM emails WHERE mailer_id IN (SELECT id FROM mailers \
                 WHERE subject = '{SUBJECT}' AND sent <= {yesterday})"
            ),
            restore_emails(&yesterday, &cutoff),
            format!(
                "INSERT INTO purge_watermarks (job, sent, mailer_id, mailers_seen, emails_seen, updated_at) \
                 SELECT '{name}', sent, id, (SELECT max(id) FROM mailers), (SELECT COALESCE(max(id), 0) FROM emails), now() \
                 FROM mailers WHERE subject = '{SUBJECT}' AND sent <= {yesterday} ORDER BY sent DESC, id DESC LIMIT 1 \
                 ON CONFLICT (job) DO UPDATE SET sent = EXCLUDED.sent, mailer_id = EXCLUDED.mailer_id, \
                 mailers_seen = EXCLUDED.mailers_seen, emails_seen = EXCLUDED.emails_seen, updated_at = now()",
                name = super::NAME
            ),
            "ANALYZE emails".into(),
        ],
        floors: vec![Floor {
            label: "one DELETE of the day's emails joined to its mailers".into(),
            kind: FloorKind::Sql(vec![format!(
                "DELETE FROM emails WHERE mailer_id IN ({day_mailers})"
            )]),
        }],
    });
    Ok(cases)
}

/// Generates the scale's mailers and emails unless exactly they are there;
/// another scale's bench data is removed first.
async fn prepare(db: &DatabaseConnection, shape: Shape) -> Result<(), JobError> {
    let backend = db.get_database_backend();
    let count_sql = format!("SELECT count(*) FROM mailers WHERE subject = '{SUBJECT}'");
    let present: i64 = db
        .query_one_raw(Statement::from_string(backend, count_sql))
        .await?
        .map(|r| r.try_get_by_index(0))
        .transpose()?
        .unwrap_or(0);
    if present == shape.mailers() {
        return Ok(());
    }
    tracing::info!(
        mailers = shape.mailers(),
        "generating purge-emails bench data"
    );
    // Raw SQL: bulk generation with generate_series, far faster than any ORM insert.
    let oldest_with_emails = if shape.first_run {
        "'-infinity'".to_string()
    } else {
        shape.cutoff(shape.retention + 1)
    };
    let statements = [
        format!(
            "DELETE FROM emails WHERE mailer_id IN (SELECT id FROM mailers WHERE subject = '{SUBJECT}')"
        ),
        format!("DELETE FROM mailers WHERE subject = '{SUBJECT}'"),
        // Ids ascend with `sent`, as they would in production.
        format!(
            "INSERT INTO mailers (subject, sent) \
             SELECT '{SUBJECT}', timestamptz '{NOW}' - g * interval '{step} seconds' \
             FROM generate_series({n}, 1, -1) g ORDER BY g DESC",
            step = shape.step(),
            n = shape.mailers()
        ),
        restore_emails(&oldest_with_emails, &format!("timestamptz '{NOW}'")),
        "DELETE FROM purge_watermarks".into(),
        "VACUUM ANALYZE mailers".into(),
        "VACUUM ANALYZE emails".into(),
    ];
    for sql in statements {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}
