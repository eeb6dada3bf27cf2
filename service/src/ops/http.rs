//! The scheduler's HTTP endpoints (axum): `/metrics`, `/healthz`, `/`.
//!
//! `/` and `/metrics` show job errors, which can carry data: with a token
//! (`SITEJOBS_HTTP_TOKEN`) they answer 401 unless the request says
//! `Authorization: Bearer <token>`. `/healthz` always answers, for probes.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use super::{page, Monitor};
use crate::error::JobError;
use crate::schedule::Entry;
use crate::secrets::scrub;

/// How long `/healthz` waits for the database before calling it down.
const DB_PROBE: Duration = Duration::from_secs(3);

struct Inner {
    db: DatabaseConnection,
    monitor: Arc<Monitor>,
    entries: Vec<Entry>,
    token: Option<String>,
}

type AppState = Arc<Inner>;

/// Binds `addr` (`127.0.0.1:9187`, `[::1]:9187`, `0.0.0.0:9187`; port 0 picks one).
pub async fn bind(addr: &str) -> Result<TcpListener, JobError> {
    let parsed: SocketAddr = addr.parse().map_err(|_| {
        JobError::bad_input(format!(
            "--listen '{addr}' is not an address such as 127.0.0.1:9187"
        ))
    })?;
    TcpListener::bind(parsed)
        .await
        .map_err(|e| JobError::Other(format!("cannot listen on {addr}: {e}")))
}

/// Serves the endpoints on `listener` until the task is aborted.
pub fn serve(
    listener: TcpListener,
    db: DatabaseConnection,
    monitor: Arc<Monitor>,
    entries: Vec<Entry>,
    token: Option<String>,
) -> tokio::task::JoinHandle<()> {
    let state = Arc::new(Inner {
        db,
        monitor,
        entries,
        token: token.filter(|t| !t.is_empty()),
    });
    let guarded = Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), bearer));
    let app = Router::new()
        .route("/healthz", get(healthz))
        .merge(guarded)
        .with_state(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the HTTP endpoints stopped");
        }
    })
}

/// The token check, in constant time so its length of match leaks nothing.
async fn bearer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        "unauthorized: send Authorization: Bearer <SITEJOBS_HTTP_TOKEN>\n",
    )
        .into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn failure(e: &JobError) -> Response {
    let line = scrub(&e.to_string()).replace('\n', " ");
    tracing::warn!(error = %line, "HTTP request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("error: {line}\n"),
    )
        .into_response()
}

async fn index(State(state): State<AppState>) -> Response {
    match page::render(&state.db, &state.entries).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => failure(&e),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    match state
        .monitor
        .metrics
        .render(&state.db, &state.entries)
        .await
    {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            scrub(&text).into_owned(),
        )
            .into_response(),
        Err(e) => failure(&e),
    }
}

/// 200 while the schedule loops run and the database answers; else 503 and why.
async fn healthz(State(state): State<AppState>) -> Response {
    let down = |why: String| (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response();
    if state.monitor.is_stopping() {
        return down("stopping: the scheduler is shutting down".into());
    }
    if state.monitor.loops() == 0 {
        return down("no schedule loop is running".into());
    }
    match tokio::time::timeout(DB_PROBE, state.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(e)) => down(format!(
            "database: {}",
            scrub(&crate::error::clean_db_message(&e))
        )),
        Err(_) => down(format!(
            "database: no answer within {}s",
            DB_PROBE.as_secs()
        )),
    }
}
