//! The page for people (`GET /`): every scheduled job with its next tick, its
//! recent runs and a chart of their durations. Rendered on the server with
//! askama (templates checked at compile time, HTML-escaped by default, so a
//! job error cannot inject markup); the chart is an inline SVG drawn here, so
//! the page needs nothing but the binary. It reloads itself every 30 seconds.
use askama::Template;
use chrono::{DateTime, Utc};
use entity::job_run::{self, RunStatus};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::metrics::job_names;
use crate::error::JobError;
use crate::schedule::Entry;
use crate::secrets::scrub;

/// Runs drawn in a job's chart; the newest [`TABLE_RUNS`] of them are listed.
const CHART_RUNS: u64 = 60;
const TABLE_RUNS: usize = 10;
const ERROR_CHARS: usize = 300;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Page {
    generated: String,
    entries: Vec<EntryView>,
    jobs: Vec<JobView>,
    failing: usize,
}

struct EntryView {
    job: String,
    args: String,
    cron: String,
    timezone: String,
    next_tick: String,
}

struct JobView {
    name: String,
    failing: bool,
    runs: Vec<RunView>,
    chart: Chart,
}

struct RunView {
    started: String,
    key: String,
    status: String,
    failed: bool,
    duration: String,
    rows: i64,
    error: String,
}

struct Chart {
    width: u32,
    height: u32,
    line: String,
    dots: Vec<Dot>,
    y_max: String,
    x_from: String,
    x_to: String,
}

struct Dot {
    x: String,
    y: String,
    failed: bool,
    title: String,
}

/// Renders the page from the schedule and `job_runs`.
pub async fn render(db: &impl ConnectionTrait, entries: &[Entry]) -> Result<String, JobError> {
    let now = Utc::now();
    let mut jobs = Vec::new();
    for name in job_names(entries) {
        let runs = job_run::Entity::find()
            .filter(job_run::Column::Job.eq(name))
            .order_by_desc(job_run::Column::StartedAt)
            .order_by_desc(job_run::Column::Id)
            .limit(CHART_RUNS)
            .all(db)
            .await?;
        jobs.push(job_view(name, &runs));
    }
    let page = Page {
        generated: stamp(now),
        entries: entries.iter().map(|e| entry_view(e, now)).collect(),
        failing: jobs.iter().filter(|j| j.failing).count(),
        jobs,
    };
    page.render()
        .map_err(|e| JobError::Other(format!("rendering the page: {e}")))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn entry_view(e: &Entry, now: DateTime<Utc>) -> EntryView {
    let next_tick = match e.next_after(now) {
        Some(t) if e.timezone == chrono_tz::Tz::UTC => stamp(t),
        Some(t) => format!(
            "{} ({})",
            t.with_timezone(&e.timezone).format("%Y-%m-%d %H:%M:%S %Z"),
            stamp(t)
        ),
        None => "never".to_owned(),
    };
    EntryView {
        job: e.name.clone(),
        args: e.args.join(" "),
        cron: e.cron_text.clone(),
        timezone: e.timezone.name().to_owned(),
        next_tick,
    }
}

fn duration_ms(r: &job_run::Model) -> Option<i64> {
    r.finished_at.map(|f| (f - r.started_at).num_milliseconds())
}

fn job_view(name: &str, runs: &[job_run::Model]) -> JobView {
    // Failing: the latest run that ended, ended in an error.
    let failing = runs
        .iter()
        .find(|r| r.status != RunStatus::Running)
        .is_some_and(|r| r.status == RunStatus::Error);
    JobView {
        name: name.to_owned(),
        failing,
        runs: runs.iter().take(TABLE_RUNS).map(run_view).collect(),
        chart: chart(runs),
    }
}

fn run_view(r: &job_run::Model) -> RunView {
    let error = scrub(r.error.as_deref().unwrap_or("")).into_owned();
    let error = match error.char_indices().nth(ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &error[..i]),
        None => error,
    };
    RunView {
        started: stamp(r.started_at),
        key: r.lock_key.clone(),
        status: r.status.as_str().to_owned(),
        failed: r.status == RunStatus::Error,
        duration: duration_ms(r).map_or_else(|| "-".to_owned(), human_ms),
        rows: r.rows,
        error,
    }
}

fn human_ms(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{:.1} min", ms as f64 / 60_000.0),
    }
}

/// Durations (y) over start times (x), oldest on the left; errors in red.
fn chart(runs: &[job_run::Model]) -> Chart {
    const W: f64 = 640.0;
    const H: f64 = 160.0;
    const PAD: f64 = 8.0;
    let mut points: Vec<(&job_run::Model, i64)> = runs
        .iter()
        .filter_map(|r| duration_ms(r).map(|d| (r, d)))
        .collect();
    points.reverse();
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Chart {
            width: W as u32,
            height: H as u32,
            line: String::new(),
            dots: Vec::new(),
            y_max: "no finished runs yet".to_owned(),
            x_from: String::new(),
            x_to: String::new(),
        };
    };
    let t0 = first.0.started_at.timestamp_millis() as f64;
    let span = (last.0.started_at.timestamp_millis() as f64 - t0).max(1.0);
    let max = points.iter().map(|p| p.1).max().unwrap_or(1).max(1) as f64;
    let xy = |r: &job_run::Model, d: i64| {
        let x = if points.len() == 1 {
            W / 2.0
        } else {
            PAD + (r.started_at.timestamp_millis() as f64 - t0) / span * (W - 2.0 * PAD)
        };
        let y = H - PAD - d as f64 / max * (H - 2.0 * PAD);
        (x, y)
    };
    let line = points
        .iter()
        .map(|(r, d)| {
            let (x, y) = xy(r, *d);
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let dots = points
        .iter()
        .map(|(r, d)| {
            let (x, y) = xy(r, *d);
            Dot {
                x: format!("{x:.1}"),
                y: format!("{y:.1}"),
                failed: r.status == RunStatus::Error,
                title: format!(
                    "{} {} {}",
                    stamp(r.started_at),
                    r.status.as_str(),
                    human_ms(*d)
                ),
            }
        })
        .collect();
    Chart {
        width: W as u32,
        height: H as u32,
        line,
        dots,
        y_max: human_ms(max as i64),
        x_from: stamp(first.0.started_at),
        x_to: stamp(last.0.started_at),
    }
}
