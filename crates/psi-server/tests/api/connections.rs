//! Connection limits over raw TCP: slow and idle clients are closed on time, a connection over
//! the limit is told so, and a streaming answer outlives both timeouts.

use std::time::{Duration, Instant};

use figment::providers::Serialized;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, TestDb, spawn_app_on};

/// Slow clients held open at once.
const SLOW_CLIENTS: usize = 2000;
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(2);

/// A server on SQLite with these `[connections]` keys over short timeouts.
async fn spawn_limited(max: usize) -> TestApp {
    let db = TestDb::new(Backend::Sqlite).await;
    let figment = db
        .figment()
        .merge(Serialized::default("connections.max", max))
        .merge(Serialized::default("connections.header_read_timeout", "1s"))
        .merge(Serialized::default("connections.keep_alive_timeout", "2s"));
    spawn_app_on(db, figment).await
}

fn host_port(app: &TestApp) -> String {
    app.app.addr.to_string()
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(within, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    closed.ok().map(|()| received)
}

/// `GET /healthz` on a kept-alive connection, answered 200.
async fn healthz_on(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: psi\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    let n = stream.read(&mut buffer).await.unwrap();
    let head = String::from_utf8_lossy(&buffer[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

/// A slowloris client: the start of a request, then a header line every 200 ms, never the end.
/// Returns how long the server kept it open.
async fn slow_client(addr: String) -> Duration {
    let opened = Instant::now();
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    let _ = stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: psi\r\n")
        .await;
    let (mut read, mut write) = stream.into_split();
    let trickle = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(b"X-Slow: 1\r\n").await.is_err() {
                return;
            }
        }
    });
    let mut buffer = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while matches!(read.read(&mut buffer).await, Ok(n) if n > 0) {}
    })
    .await;
    trickle.abort();
    opened.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_slow_clients_are_closed_at_the_header_timeout_while_healthz_answers_fast() {
    let app = spawn_limited(10_000).await;
    let addr = host_port(&app);
    let slow: Vec<_> = (0..SLOW_CLIENTS)
        .map(|_| tokio::spawn(slow_client(addr.clone())))
        .collect();
    // `/healthz` on its own connection, while the slow clients hold theirs.
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < HEADER_READ_TIMEOUT + Duration::from_millis(500) {
        let sent = Instant::now();
        let response = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        latencies.push(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut open_for = Vec::new();
    for client in slow {
        open_for.push(client.await.unwrap());
    }
    open_for.sort();
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let slowest = *latencies.last().unwrap();
    println!(
        "healthz under {SLOW_CLIENTS} slow clients: {} samples, median {median:?}, max {slowest:?}; \
         slow clients closed after {:?}..{:?}",
        latencies.len(),
        open_for[0],
        open_for[open_for.len() - 1]
    );
    // Under 10 ms on a quiet machine (docs/RELIABILITY.md); the bound leaves room for the
    // other tests running beside this one. Without the limits, it times out.
    assert!(
        median < Duration::from_millis(50),
        "healthz median {median:?}"
    );
    assert!(slowest < Duration::from_secs(2), "healthz max {slowest:?}");
    assert!(
        open_for[0] >= HEADER_READ_TIMEOUT - Duration::from_millis(100),
        "closed before the header timeout: {:?}",
        open_for[0]
    );
    let last = open_for[open_for.len() - 1];
    assert!(
        last < HEADER_READ_TIMEOUT + Duration::from_secs(4),
        "a slow client was kept open for {last:?}"
    );
}

#[tokio::test]
async fn a_kept_alive_connection_serves_requests_and_is_closed_once_idle_for_the_keep_alive_timeout()
 {
    let app = spawn_limited(100).await;
    let mut stream = TcpStream::connect(host_port(&app)).await.unwrap();
    for _ in 0..2 {
        healthz_on(&mut stream).await;
        // Idle for less than the keep-alive timeout: still open for the next request.
        tokio::time::sleep(KEEP_ALIVE_TIMEOUT / 2).await;
    }
    let idle = Instant::now();
    let rest = read_to_close(&mut stream, KEEP_ALIVE_TIMEOUT * 2)
        .await
        .expect("closed once idle");
    assert!(rest.is_empty(), "{rest:?}");
    let after = idle.elapsed() + KEEP_ALIVE_TIMEOUT / 2;
    assert!(
        after >= KEEP_ALIVE_TIMEOUT - Duration::from_millis(100)
            && after < KEEP_ALIVE_TIMEOUT + Duration::from_millis(1000),
        "closed after {after:?} idle"
    );
}

#[tokio::test]
async fn a_connection_over_the_limit_is_answered_503_and_the_others_keep_working() {
    let app = spawn_limited(20).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(host_port(&app)).await.unwrap();
        // A whole request answered: the server has taken this connection.
        healthz_on(&mut stream).await;
        held.push(stream);
    }
    let mut over = TcpStream::connect(host_port(&app)).await.unwrap();
    let _ = over
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: psi\r\n\r\n")
        .await;
    let answer = read_to_close(&mut over, Duration::from_secs(5))
        .await
        .expect("the server closes it");
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "too_many_connections");

    // The held connections still work, and a freed place is taken again.
    let mut first = held.remove(0);
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: psi\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut first, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = reqwest::Client::new()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no place freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_status_stream_outlives_the_header_and_keep_alive_timeouts() {
    let app = spawn_limited(100).await;
    let demo = crate::demo_fixture::demo(&app).await;
    let path = format!(
        "/s/{}/{}/status/AAAAAAAAAAAAAAAAAAAAAA",
        demo.did, demo.interaction
    );
    let mut stream = TcpStream::connect(host_port(&app)).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: psi\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buffer = [0u8; 4096];
    let n = stream.read(&mut buffer).await.unwrap();
    let head = String::from_utf8_lossy(&buffer[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Longer than both timeouts: the stream is still open.
    let outlived = KEEP_ALIVE_TIMEOUT + HEADER_READ_TIMEOUT;
    let closed = read_to_close(&mut stream, outlived).await;
    assert!(closed.is_none(), "the stream ended: {closed:?}");
}
