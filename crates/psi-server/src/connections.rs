//! Accepting connections, with explicit limits: how many connections are open at once, how long
//! a new connection may take to send its first request's headers, and how long a kept-alive
//! connection may sit idle before its next request. Without them a client that opens
//! connections and never finishes a request (slowloris) exhausts the descriptors and every
//! route, `/healthz` included, stops answering.
//!
//! ```text
//! accept ─▶ over `max`? ─▶ yes: 503 JSON, `Retry-After`, close
//!              │ no
//!              ▼
//!          hyper (HTTP/1.1, HTTP/2) ─▶ router
//!              first request's headers within `header_read_timeout`, else closed
//!              between requests: idle (and next headers) within `keep_alive_timeout`, else closed
//! ```
//!
//! A response that streams (the start page's status events) is not idle: the limits apply
//! only while the connection waits for a request. `request_timeout_secs` bounds each request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt};

use crate::config::error::ConfigError;

/// Descriptors kept back from `max` for the database pool, outbound calls and files.
const RESERVED_DESCRIPTORS: u64 = 256;
/// Connections being turned away at once; beyond it, further ones are closed without an answer.
const MAX_REFUSING: usize = 64;
/// How long a turned-away connection is given to read its answer.
const REFUSE_LINGER: Duration = Duration::from_secs(1);

/// The answer to a connection over the limit.
fn busy_answer() -> Vec<u8> {
    let body = r#"{"error":{"code":"too_many_connections","message":"too many connections, retry in a moment"}}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The `[connections]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionLimits {
    /// Most connections open at once; more are answered 503 and closed.
    pub max: usize,
    /// Time a new connection has to send its first request's headers.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time a connection may wait between requests, the next request's headers included.
    #[serde(with = "humantime_serde")]
    pub keep_alive_timeout: Duration,
}

impl ConnectionLimits {
    /// Checks the values (keys named as in the file).
    pub(crate) fn validate(self) -> Result<Self, ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: format!("connections.{key}"),
            message: message.into(),
        };
        if self.max == 0 {
            return Err(invalid("max", "must be at least 1"));
        }
        if self.header_read_timeout.is_zero() {
            return Err(invalid("header_read_timeout", "must be longer than zero"));
        }
        if self.keep_alive_timeout.is_zero() {
            return Err(invalid("keep_alive_timeout", "must be longer than zero"));
        }
        Ok(self)
    }

    /// `max`, lowered to what the process's descriptor limit can hold (raised to its hard limit
    /// first), with a warning when lowered.
    pub fn effective_max(&self) -> usize {
        let limit = match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => limit,
            Err(error) => {
                tracing::warn!(%error, "cannot read the open-file limit");
                return self.max;
            }
        };
        let room = usize::try_from(limit.saturating_sub(RESERVED_DESCRIPTORS).max(1))
            .unwrap_or(usize::MAX);
        if room < self.max {
            tracing::warn!(
                configured = self.max,
                open_file_limit = limit,
                max = room,
                "connections.max lowered to fit the open-file limit"
            );
        }
        self.max.min(room)
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets the requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let max = limits.effective_max();
    let open = Arc::new(Semaphore::new(max));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's header clock runs whenever a connection waits for a request head: on a kept-alive
    // connection that is the idle time plus the next headers.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.keep_alive_timeout);
    // HTTP/2: a peer that stops answering pings is dropped.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.keep_alive_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    tracing::debug!(max, ?limits, "accepting connections");
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            metrics::counter!("psi_connections_refused_total").increment(1);
            if let Ok(permit) = Arc::clone(&refusing).try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(permit);
                });
            }
            continue;
        };
        // Small answers go out at once instead of waiting for the peer's acknowledgement.
        let _ = stream.set_nodelay(true);
        let router = match make_service.call(peer).await {
            Ok(router) => router,
            Err(never) => match never {},
        };
        let started = Arc::new(AtomicBool::new(false));
        let first_request = Arc::clone(&started);
        let service = router.map_request(move |request: Request<Incoming>| {
            first_request.store(true, Ordering::Relaxed);
            request
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        let header_read_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, error, "connection ended");
                    }
                }
                () = no_request_within(&started, header_read_timeout) => {
                    metrics::counter!("psi_connections_timed_out_total").increment(1);
                    tracing::debug!(%peer, "closed: no request headers in time");
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Resolves when the connection's first request has not started `timeout` after it opened;
/// never once one has.
async fn no_request_within(started: &AtomicBool, timeout: Duration) {
    tokio::time::sleep(timeout).await;
    if started.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
}

/// Answers 503 and closes, reading what the client sent meanwhile so that the close does not
/// reset the connection before the answer is read.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(REFUSE_LINGER, async {
        stream.write_all(&busy_answer()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    })
    .await;
}

/// An accept error: out of descriptors (or a similar resource shortage) is waited out, a
/// connection that failed before it was accepted is skipped.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "accept failed; retrying shortly");
    tokio::time::sleep(Duration::from_millis(50)).await;
}
