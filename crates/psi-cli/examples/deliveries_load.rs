//! Helper of `bench/deliveries.sh`: fills a psi server's outbox with notifications, and receives
//! them as fast as a receiver can, reporting deliveries per second.
//!
//! ```text
//! # a service with one endpoint pointing at the receiver; prints "<did> <endpoint id>"
//! deliveries_load setup --server http://127.0.0.1:8080 --admin-token T \
//!     --receiver http://127.0.0.1:9000/hook --auth bearer
//! # N test messages through the management API (the server may have no workers)
//! deliveries_load enqueue --server ... --admin-token T --did D --endpoint E --count 20000
//! # counts distinct messageIds until N arrived, then prints the rate and exits
//! deliveries_load receive --port 9000 --count 20000
//! # end to end: receives on the port while 32 closed-loop clients send N test messages;
//! # prints the rate and the send→receive latency percentiles (TIMELINE=1: and, per 250 ms of
//! # send time, how many were sent and the slowest arrival, on standard error)
//! deliveries_load e2e --server ... --did D --endpoint E --port 9000 --count 20000
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinSet;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates a service with a notification endpoint at `--receiver`; prints its DID and the
    /// endpoint's id.
    Setup {
        #[command(flatten)]
        server: Server,
        #[arg(long)]
        receiver: String,
        /// `bearer`: HS256 tokens with a SHA secret; `signature`: RSA `X-Body-Signature`.
        #[arg(long, default_value = "bearer")]
        auth: String,
    },
    /// Sends `--count` test messages to the endpoint, `--concurrency` requests at a time.
    Enqueue {
        #[command(flatten)]
        messages: Messages,
    },
    /// Receives notifications on 127.0.0.1:`--port` until `--count` distinct messages arrived.
    Receive {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        count: usize,
        /// A label for the result line.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Receives on 127.0.0.1:`--port` while `--concurrency` clients send `--count` test messages,
    /// each sending its next once psi accepted the last (a closed loop); prints the rate from the
    /// first send to the last message received and the send→receive latencies.
    E2e {
        #[command(flatten)]
        messages: Messages,
        #[arg(long)]
        port: u16,
        #[arg(long, default_value = "")]
        label: String,
    },
}

/// Test messages to send: `--count` to the endpoint, `--concurrency` requests at a time.
#[derive(clap::Args)]
struct Messages {
    #[command(flatten)]
    server: Server,
    #[arg(long)]
    did: String,
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    count: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

impl Messages {
    /// Sends them, each client its next once psi accepted the last; `sent` gets each message's
    /// id and when its request started.
    async fn send(&self, sent: impl Fn(String, Instant) + Clone + Send + 'static) -> Result<()> {
        let http = reqwest::Client::new();
        let path = format!(
            "/api/v1/services/{}/endpoints/{}/test",
            self.did, self.endpoint
        );
        let (count, concurrency) = (self.count, self.concurrency);
        let mut senders = JoinSet::new();
        for sender in 0..concurrency {
            let (server, http, path) = (self.server.clone(), http.clone(), path.clone());
            let sent = sent.clone();
            let share = count / concurrency + usize::from(sender < count % concurrency);
            senders.spawn(async move {
                for _ in 0..share {
                    let at = Instant::now();
                    let answer = server.post(&http, &path, json!({})).await?;
                    let id = answer["message_id"].as_str().context("message_id")?;
                    sent(id.to_owned(), at);
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = senders.join_next().await {
            done??;
        }
        Ok(())
    }
}

#[derive(clap::Args, Clone)]
struct Server {
    /// The psi server's base URL.
    #[arg(long)]
    server: String,
    #[arg(long, env = "PSI_ADMIN_TOKEN")]
    admin_token: String,
}

impl Server {
    async fn post(&self, http: &reqwest::Client, path: &str, body: Value) -> Result<Value> {
        let response = http
            .post(format!("{}{path}", self.server))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "POST {path}: {status} {text}");
        Ok(serde_json::from_str(&text)?)
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    match Args::parse().command {
        Command::Setup {
            server,
            receiver,
            auth,
        } => setup(&server, &receiver, &auth).await,
        Command::Enqueue { messages } => enqueue(&messages).await,
        Command::Receive { port, count, label } => receive(port, count, &label).await,
        Command::E2e {
            messages,
            port,
            label,
        } => e2e(&messages, port, &label).await,
    }
}

async fn setup(server: &Server, receiver: &str, auth: &str) -> Result<()> {
    let http = reqwest::Client::new();
    let service = server
        .post(
            &http,
            "/api/v1/services",
            json!({"name": "Deliveries bench"}),
        )
        .await?;
    let did = service["did"].as_str().context("did")?;
    let key = if auth == "bearer" {
        let path = format!("/api/v1/services/{did}/keys");
        server
            .post(
                &http,
                &path,
                json!({"name": "shared", "type": "sha_secret"}),
            )
            .await?;
        "shared"
    } else {
        "default"
    };
    let endpoint = server
        .post(
            &http,
            &format!("/api/v1/services/{did}/endpoints"),
            json!({"url": receiver, "key": key, "auth": auth, "timeout_ms": 5000}),
        )
        .await?;
    println!("{did} {}", endpoint["id"].as_str().context("endpoint id")?);
    Ok(())
}

async fn enqueue(messages: &Messages) -> Result<()> {
    let started = Instant::now();
    messages.send(|_, _| ()).await?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "enqueued {} messages in {seconds:.1} s ({:.0}/s)",
        messages.count,
        messages.count as f64 / seconds
    );
    Ok(())
}

/// What the receiver has seen.
struct Tally {
    ids: HashSet<String>,
    calls: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    wanted: usize,
}

async fn receive(port: u16, count: usize, label: &str) -> Result<()> {
    let tally = Arc::new(Mutex::new(Tally {
        ids: HashSet::with_capacity(count),
        calls: 0,
        first: None,
        last: None,
        wanted: count,
    }));
    let done = Arc::new(Notify::new());
    let app = Router::new()
        .route("/hook", post(take))
        .with_state((Arc::clone(&tally), Arc::clone(&done)));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listen on port {port}"))?;
    println!("listening");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    done.notified().await;
    server.abort();
    let tally = tally.lock().unwrap();
    let (first, last) = (tally.first.context("first")?, tally.last.context("last")?);
    let seconds = (last - first).as_secs_f64();
    println!(
        "{label}: {count} deliveries in {seconds:.2} s = {:.0} deliveries/s ({} calls, {} repeated)",
        count as f64 / seconds,
        tally.calls,
        tally.calls - tally.ids.len()
    );
    Ok(())
}

type Shared = (Arc<Mutex<Tally>>, Arc<Notify>);

async fn take(State((tally, done)): State<Shared>, body: Bytes) -> &'static str {
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| body["messageId"].as_str().map(str::to_owned));
    let mut tally = tally.lock().unwrap();
    let now = Instant::now();
    tally.first.get_or_insert(now);
    tally.calls += 1;
    if let Some(id) = id
        && tally.ids.insert(id)
        && tally.ids.len() == tally.wanted
    {
        tally.last = Some(now);
        done.notify_one();
    }
    "ok"
}

/// When each message was sent and when it arrived, whichever came first.
#[derive(Default)]
struct Timings {
    sent: HashMap<String, Instant>,
    received: HashMap<String, Instant>,
    /// Each message's send→receive latency, with when it was sent.
    latencies: Vec<(Instant, Duration)>,
    last: Option<Instant>,
}

impl Timings {
    fn sent(&mut self, id: String, at: Instant) {
        match self.received.remove(&id) {
            Some(received) => self.latencies.push((at, received - at)),
            None => drop(self.sent.insert(id, at)),
        }
    }

    /// Returns whether this was the message's first arrival.
    fn received(&mut self, id: String, at: Instant) -> bool {
        match self.sent.remove(&id) {
            Some(sent) => self.latencies.push((sent, at - sent)),
            None if self.received.contains_key(&id) => return false,
            None => drop(self.received.insert(id, at)),
        }
        self.last = Some(at);
        true
    }
}

type E2eShared = (Arc<Mutex<Timings>>, Arc<Notify>, usize);

async fn e2e(messages: &Messages, port: u16, label: &str) -> Result<()> {
    let count = messages.count;
    let timings = Arc::new(Mutex::new(Timings::default()));
    let done = Arc::new(Notify::new());
    let app = Router::new().route("/hook", post(arrive)).with_state((
        Arc::clone(&timings),
        Arc::clone(&done),
        count,
    ));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listen on port {port}"))?;
    let receiver = tokio::spawn(async move { axum::serve(listener, app).await });
    let started = Instant::now();
    let sent = Arc::clone(&timings);
    messages
        .send(move |id, at| sent.lock().unwrap().sent(id, at))
        .await?;
    let notified = done.notified();
    let all_in = timings.lock().unwrap().latencies.len() == count;
    if !all_in {
        tokio::time::timeout(Duration::from_secs(120), notified)
            .await
            .context("not every message arrived within 120 s")?;
    }
    receiver.abort();
    let timings = timings.lock().unwrap();
    let seconds = (timings.last.context("nothing arrived")? - started).as_secs_f64();
    if std::env::var("TIMELINE").is_ok_and(|v| v == "1") {
        timeline(started, &timings.latencies);
    }
    let mut latencies: Vec<Duration> = timings.latencies.iter().map(|(_, l)| *l).collect();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let at = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies[at].as_secs_f64() * 1000.0
    };
    println!(
        "{label}: {count} sent and received in {seconds:.2} s = {:.0}/s end to end, \
         send→receive p50 {:.1} ms, p99 {:.1} ms",
        count as f64 / seconds,
        percentile(0.50),
        percentile(0.99)
    );
    Ok(())
}

/// With `TIMELINE=1`: per 250 ms of send time, how many were sent and their slowest arrival, on
/// standard error, to see when a latency tail forms.
fn timeline(started: Instant, latencies: &[(Instant, Duration)]) {
    let mut windows: std::collections::BTreeMap<u128, (usize, Duration)> = Default::default();
    for (sent, latency) in latencies {
        let window = windows
            .entry((*sent - started).as_millis() / 250)
            .or_default();
        window.0 += 1;
        window.1 = window.1.max(*latency);
    }
    for (window, (sent, slowest)) in windows {
        eprintln!(
            "  {:>6} ms: {sent:>5} sent, slowest {:.1} ms",
            window * 250,
            slowest.as_secs_f64() * 1000.0
        );
    }
}

async fn arrive(State((timings, done, count)): State<E2eShared>, body: Bytes) -> &'static str {
    let at = Instant::now();
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| body["messageId"].as_str().map(str::to_owned));
    let mut timings = timings.lock().unwrap();
    if let Some(id) = id
        && timings.received(id, at)
        && timings.latencies.len() == count
    {
        done.notify_one();
    }
    "ok"
}
