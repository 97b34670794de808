//! Prometheus metrics: request counts and latencies by method, route template and status.
//!
//! `/metrics` is served on the main listener to anyone by default. `metrics_token` makes it
//! answer only `Authorization: Bearer <metrics_token>`; `metrics_listen` moves it to a listener
//! of its own (e.g. an address only the monitoring network reaches), where the main listener
//! answers it 404.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::auth::{bearer_token, token_matches};
use super::error::{ApiError, ErrorBody};
use crate::config::Config;

const REQUESTS: &str = "http_requests_total";
const DURATION: &str = "http_request_duration_seconds";
/// Seconds; 5 ms is the start page's goal, 20 ms the dashboard's.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder (the `metrics` facade has one global recorder; every server in the
/// process reports to it).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.into()), DURATION_BUCKETS)
            .expect("the bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics stays empty");
        }
        handle
    })
}

/// How often the recorded latencies are folded into their buckets when nobody scrapes.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the recorder; call once before serving.
pub fn init() {
    handle();
}

/// Folds the recorded latencies into their buckets every [`UPKEEP_EVERY`], until `shutdown`.
/// The recorder keeps each request's sample until then: without it, a server nobody scrapes
/// would hold one sample per request served, and never give that memory back.
pub async fn upkeep(shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(UPKEEP_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => handle().run_upkeep(),
        }
    }
}

/// Middleware: counts and times every request under its route template (not its raw path, which
/// would give one series per DID).
pub async fn track(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_owned();
    let response = next.run(request).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!(REQUESTS, &labels).increment(1);
    metrics::histogram!(DURATION, &labels).record(start.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the Prometheus text format.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String,
        content_type = "text/plain"),
        (status = 401, description = "`metrics_token` is set and not presented", body = ErrorBody),
        (status = 404, description = "`metrics_listen` is set: served there only", body = ErrorBody)))]
pub async fn render(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if state.config.metrics_listen.is_some() {
        return Err(ApiError::NotFound("no route for /metrics".into()));
    }
    exposition(state.config.metrics_token.as_ref(), &headers)
}

/// The metrics, to a caller with `token` when one is set.
fn exposition(token: Option<&SecretString>, headers: &HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = token
        && !bearer_token(headers).is_some_and(|presented| token_matches(presented, token))
    {
        return Err(ApiError::Unauthorized);
    }
    let handle = handle();
    handle.run_upkeep();
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response())
}

/// With `metrics_listen` set: serves `/metrics` there, and nothing else, until `shutdown`.
/// Returns the address it listens on.
pub async fn serve_apart(
    config: &Config,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<SocketAddr>> {
    let Some(listen) = config.metrics_listen else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (metrics_listen)"))?;
    let addr = listener.local_addr()?;
    let token = config.metrics_token.clone();
    let router = Router::new().route(
        "/metrics",
        get(move |headers: HeaderMap| async move { exposition(token.as_ref(), &headers) }),
    );
    let server =
        axum::serve(listener, router).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    tokio::spawn(async move {
        if let Err(error) = server.await {
            tracing::error!(%error, "the metrics listener failed");
        }
    });
    Ok(Some(addr))
}
