//! Load generator for `bench/events.sh`: many holders run complete events concurrently against a
//! running psi server (wallet → server → webhook receiver → credential issued), and the events
//! per second are printed.
//!
//! It seeds its own service through the management API (a self-attested contact credential
//! required, a service-attested member credential issued, the interaction webhook pointing at a
//! receiver inside this process that checks psi's `X-Body-Signature` and issues), then runs
//! `--events` events with `--concurrency` holders at a time, each holder a new pairwise key
//! signing its request like `psi wallet run` does. The server must allow webhooks to loopback
//! (`PSI_OUTBOUND_ALLOW_LOOPBACK=true`). `--auth bearer` makes psi authenticate its webhook calls
//! with HS256 tokens instead of RSA body signatures.
//!
//! `--extensions N` authors N extensions in the same service after seeding, installs each and
//! attaches each to the interaction (docs/extensions.md): every extension's `on_receive` trigger
//! is this process's `/extension/receive` (checked like the webhook, answers
//! `{"issuedCredentials": []}`), its `on_finish` trigger `/extension/finish` (answers 200). Both
//! are signed with the same key and scheme as the webhook. The calls each got are printed at the
//! end: `on_receive` runs in the event, so it must have been called N times per event;
//! `on_finish` goes through the outbox, so the deliveries that arrived by the end of the measured
//! events are printed, and those that arrived within a further 10 s.
//!
//! ```text
//! cargo run --release -p psi-cli --example events_load -- \
//!     --server http://127.0.0.1:8080 --admin-token TOKEN --events 5000 --concurrency 32
//! ```

// The wallet's own client and key code, compiled here as well so the load is exactly what
// `psi wallet run` sends; the parts of it a load generator does not call are left unused.
#[allow(dead_code)]
#[path = "../src/cmd/wallet/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "../src/cmd/wallet/holder.rs"]
mod holder;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use clap::Parser;
use psi_link::Attribute;
use psi_webhook::{
    AUTHORIZATION_HEADER, PublicKey, SIGNATURE_HEADER, SharedSecret, UnixTime, Validation, Verifier,
};
use serde_json::{Value, json};

use client::{EventRequest, EventState, Presented, WalletClient};
use holder::HolderKey;

#[derive(Parser)]
struct Args {
    /// The psi server's base URL.
    #[arg(long)]
    server: String,
    /// The server's admin token (to seed the service).
    #[arg(long, env = "PSI_ADMIN_TOKEN")]
    admin_token: String,
    /// How many events to run (after a short warm-up).
    #[arg(long, default_value_t = 2000)]
    events: usize,
    /// How many holders run events at the same time.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// A name for the result line, e.g. the database backend.
    #[arg(long, default_value = "psi")]
    label: String,
    /// How psi authenticates its webhook calls: `signature` (X-Body-Signature, RSA, the
    /// service's default key) or `bearer` (an HS256 token with a SHA secret).
    #[arg(long, default_value = "signature", value_parser = ["signature", "bearer"])]
    auth: String,
    /// How many extensions (an `on_receive` and an `on_finish` trigger each, at this process's
    /// receiver) to author, install and attach to the interaction.
    #[arg(long, default_value_t = 0)]
    extensions: usize,
}

/// What the receiver needs, known once the service is seeded: how to check psi's webhook calls,
/// and the credential it issues.
struct Issuing {
    check: Check,
    member: String,
}

enum Check {
    /// `X-Body-Signature` with the service's public key.
    Signature(Verifier),
    /// A Bearer token from the service, with the shared secret.
    Bearer { verifier: Verifier, issuer: String },
}

impl Check {
    fn passes(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        match self {
            Check::Signature(verifier) => verifier
                .verify_signature(body, header(SIGNATURE_HEADER))
                .is_ok(),
            Check::Bearer { verifier, issuer } => verifier
                .verify_authorization(
                    header(AUTHORIZATION_HEADER),
                    body,
                    &Validation::new().expect_issuer(issuer.clone()),
                    UnixTime::now(),
                )
                .is_ok(),
        }
    }
}

/// The receiver's state: what it issues, once seeded, and the extensions' calls it got.
#[derive(Default)]
struct Shared {
    issuing: OnceLock<Issuing>,
    /// `on_receive` calls that passed the check.
    on_receive: AtomicUsize,
    /// `on_finish` deliveries, and their distinct message ids (a retried delivery repeats one).
    on_finish: AtomicUsize,
    on_finish_messages: Mutex<HashSet<String>>,
}

type Receiver = Arc<Shared>;

/// What the seeded service looks like to a holder.
struct Target {
    did: String,
    action_id: String,
    contact: String,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let shared: Receiver = Arc::default();
    let receiver = serve_receiver(shared.clone()).await?;
    let target = seed(&http, &args, receiver, &shared.issuing).await?;
    let wallet = WalletClient::new(&args.server)?;

    let warm_up = args.concurrency.min(args.events);
    run(&wallet, &target, warm_up, args.concurrency).await?;
    let started = Instant::now();
    let mut latencies = run(&wallet, &target, args.events, args.concurrency).await?;
    let elapsed = started.elapsed();
    let finished_by_the_end = shared.on_finish.load(Ordering::Relaxed);

    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[index].as_secs_f64() * 1000.0
    };
    println!(
        "{}: {} events in {:.2} s: {:.0} events/s (concurrency {}, latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms)",
        args.label,
        args.events,
        elapsed.as_secs_f64(),
        args.events as f64 / elapsed.as_secs_f64(),
        args.concurrency,
        percentile(0.5),
        percentile(0.9),
        percentile(0.99),
    );
    if args.extensions > 0 {
        report_extensions(
            &shared,
            args.extensions,
            warm_up + args.events,
            finished_by_the_end,
        )
        .await;
    }
    Ok(())
}

/// Prints the calls the extensions' triggers got, `expected` events each (warm-up included);
/// waits up to 10 s for the `on_finish` deliveries still on their way.
async fn report_extensions(
    shared: &Shared,
    extensions: usize,
    events: usize,
    finished_by_the_end: usize,
) {
    let expected = extensions * events;
    let waited = Instant::now();
    let distinct = || shared.on_finish_messages.lock().unwrap().len();
    while distinct() < expected && waited.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "    {extensions} extensions attached, {events} events with the warm-up: on_receive called \
         {} times (expected {expected}); on_finish delivered {finished_by_the_end} by the end of \
         the run, {} ({} distinct messages) {:.1} s later (expected {expected})",
        shared.on_receive.load(Ordering::Relaxed),
        shared.on_finish.load(Ordering::Relaxed),
        distinct(),
        waited.elapsed().as_secs_f64(),
    );
}

/// Runs `events` complete events, `concurrency` at a time; returns each event's latency. Any
/// event that does not complete with one credential stops the run with its reason.
async fn run(
    wallet: &WalletClient,
    target: &Target,
    events: usize,
    concurrency: usize,
) -> Result<Vec<Duration>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (wallet, next) = (wallet.clone(), next.clone());
        let (did, action_id, contact) = (
            target.did.clone(),
            target.action_id.clone(),
            target.contact.clone(),
        );
        workers.spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < events {
                let holder = HolderKey::generate();
                let request = EventRequest {
                    action_id: action_id.clone(),
                    instance_id: None,
                    prefilled: Vec::new(),
                    presented: vec![Presented::SelfAttested {
                        credential_id: contact.clone(),
                        attributes: vec![Attribute {
                            name: "Name".into(),
                            value: format!("Holder {}", holder.did()),
                        }],
                    }],
                    callback: None,
                    session: None,
                };
                let started = Instant::now();
                let reply = wallet
                    .start_event(&did, &holder, &request, client::new_nonce())
                    .await?;
                latencies.push(started.elapsed());
                if reply.state != EventState::Completed || reply.issued.len() != 1 {
                    bail!(
                        "event {} ended {} with {} credential(s): {}",
                        reply.event_id,
                        reply.state.as_str(),
                        reply.issued.len(),
                        reply.message.unwrap_or_default()
                    );
                }
            }
            Ok(latencies)
        });
    }
    let mut all = Vec::with_capacity(events);
    while let Some(result) = workers.join_next().await {
        all.extend(result.context("a worker panicked")??);
    }
    Ok(all)
}

/// Creates the service, its schemas, definitions and interaction; tells the receiver the
/// service's public key and what to issue.
async fn seed(
    http: &reqwest::Client,
    args: &Args,
    receiver: SocketAddr,
    issuing: &OnceLock<Issuing>,
) -> Result<Target> {
    let post = |path: String, body: Value| async move {
        let response = http
            .post(format!("{}{path}", args.server))
            .bearer_auth(&args.admin_token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        ensure!(status.is_success(), "POST {path}: {status} {body}");
        anyhow::Ok(body)
    };
    let text = |value: &Value, field: &str| -> Result<String> {
        value[field]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no {field} in {value}"))
    };
    let service = post("/api/v1/services".into(), json!({"name": "Events bench"})).await?;
    let did = text(&service, "did")?;
    let base = format!("/api/v1/services/{did}");
    let contact_schema = post(
        format!("{base}/schemas"),
        json!({"name": "Contact", "version": "1.0", "attributes": [{"name": "Name", "type": "text"}]}),
    )
    .await?;
    let member_schema = post(
        format!("{base}/schemas"),
        json!({"name": "Member", "version": "1.0", "attributes": [{"name": "Level", "type": "text"}]}),
    )
    .await?;
    let definition = |schema: String, tag: &'static str, attestation: &'static str| {
        post(
            format!("{base}/credential-definitions"),
            json!({"schema": schema, "tag": tag, "attestation": attestation}),
        )
    };
    let contact = text(
        &definition(text(&contact_schema, "schema_id")?, "contact", "self").await?,
        "credential_id",
    )?;
    let member = text(
        &definition(text(&member_schema, "schema_id")?, "member", "service").await?,
        "credential_id",
    )?;
    let (key_name, check) = if args.auth == "bearer" {
        let key = post(
            format!("{base}/keys"),
            json!({"name": "bench", "type": "sha_secret"}),
        )
        .await?;
        let secret = SharedSecret::from_base64(&text(&key, "secret")?)?;
        let check = Check::Bearer {
            verifier: Verifier::shared_secret(secret),
            issuer: did.clone(),
        };
        ("bench", check)
    } else {
        let pem = http
            .get(format!(
                "{}/service-dashboard-backend/service/{did}/public-info/public-key/default",
                args.server
            ))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        (
            "default",
            Check::Signature(Verifier::rsa(PublicKey::from_pem(&pem)?)),
        )
    };
    let interaction = post(
        format!("{base}/interactions"),
        json!({"name": "Join", "required_credentials": [{"credential_id": contact}],
               "issued_credentials": [member],
               "webhook": {"url": format!("http://{receiver}/hook"), "key": key_name,
                           "auth": args.auth, "timeout_ms": 10000}}),
    )
    .await?;
    let action_id = text(&interaction, "id")?;
    // The extensions: authored by this service, signed like the webhook, installed here and
    // attached to the interaction in order.
    for n in 1..=args.extensions {
        let extension = post(
            format!("{base}/extensions"),
            json!({"name": format!("Bench {n}"), "key": key_name, "auth": args.auth}),
        )
        .await?;
        let extension = text(&extension, "id")?;
        post(
            format!("{base}/extensions/{extension}/versions"),
            json!({"version": "1.0.0", "triggers": {
                "on_receive": {"url": format!("http://{receiver}/extension/receive"),
                               "timeout_ms": 10000},
                "on_finish": {"url": format!("http://{receiver}/extension/finish")}}}),
        )
        .await?;
        let installation = post(
            format!("{base}/installations"),
            json!({"extension_id": extension}),
        )
        .await?;
        post(
            format!("{base}/interactions/{action_id}/extensions"),
            json!({"installation_id": text(&installation, "id")?}),
        )
        .await?;
    }
    if issuing.set(Issuing { check, member }).is_err() {
        bail!("the receiver was set up twice");
    }
    Ok(Target {
        did,
        action_id,
        contact,
    })
}

/// The third party: checks psi's signature or token and issues a member credential for every
/// event.
async fn serve_receiver(shared: Receiver) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = Router::new()
        .route("/hook", post(hook))
        .route("/extension/receive", post(extension_receive))
        .route("/extension/finish", post(extension_finish))
        .with_state(shared);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

async fn hook(
    State(shared): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let Some(Issuing { check, member }) = shared.issuing.get() else {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ok": false})));
    };
    if !check.passes(&headers, &body) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"ok": false})));
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"ok": false})));
    };
    (
        StatusCode::OK,
        Json(json!({
            "serviceDid": request["publicServiceDid"],
            "subscriberConnectDid": request["subscriberConnectDid"],
            "actionEventId": request["actionEventId"],
            "issuedCredentials": [{"credentialId": member, "fields": [{"name": "Level", "value": "gold"}],
                                   "utcIssuedAt": 1_700_000_000_000_i64, "revoked": false}],
            "revokedCredentials": [],
            "ok": true
        })),
    )
}

/// An extension's `on_receive`: checks psi's signature or token like the webhook, issues nothing.
async fn extension_receive(
    State(shared): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let Some(Issuing { check, .. }) = shared.issuing.get() else {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ok": false})));
    };
    if !check.passes(&headers, &body) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"ok": false})));
    }
    shared.on_receive.fetch_add(1, Ordering::Relaxed);
    (StatusCode::OK, Json(json!({"issuedCredentials": []})))
}

/// An extension's `on_finish` delivery: counted (and its message id), answered 200.
async fn extension_finish(State(shared): State<Receiver>, body: Bytes) -> StatusCode {
    shared.on_finish.fetch_add(1, Ordering::Relaxed);
    if let Ok(message) = serde_json::from_slice::<Value>(&body)
        && let Some(id) = message["messageId"].as_str()
    {
        shared
            .on_finish_messages
            .lock()
            .unwrap()
            .insert(id.to_owned());
    }
    StatusCode::OK
}
