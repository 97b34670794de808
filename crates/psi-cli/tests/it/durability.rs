//! Durability of notification delivery with the real `psi serve`: 1,000 notifications are
//! pending, the process delivering them is killed with SIGKILL mid-delivery, and every message
//! still reaches the receiver (each id at least once), after a restart or, on PostgreSQL, through
//! a second process that keeps running. With the default lease (10 s, renewed while calls run)
//! the killed process's calls are sent again within 15 s, and only they can arrive twice. And a
//! process that only takes API calls wakes the one that delivers, through PostgreSQL.
//!
//! PostgreSQL comes from `PSI_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each test works in a schema of its own, dropped at the end.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use psi_testkit::{Call, Receiver, Reply, now_ms};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinSet;

use crate::common::{Backend, PgSchema, free_port, random_master_key};

const ADMIN_TOKEN: &str = "durability-admin-token-0123456789";
const MESSAGES: usize = 1000;
/// Receipts after which the delivering process is killed.
const KILL_AFTER: usize = 200;
const WITHIN: Duration = Duration::from_secs(120);
/// From the kill to the last of the killed process's calls sent again, the restart included.
const RECOVERY: Duration = Duration::from_secs(15);
/// How long calls are held before the kill: far longer than the kill takes to follow, well within
/// the endpoint's 2 s timeout (a survivor's held calls succeed).
const HOLD: Duration = Duration::from_secs(1);
/// The most deliveries of one endpoint leased at once: the default `[delivery]
/// in_flight_per_endpoint` (8) times the 4 a claim leases ahead. A killed process sent at most
/// these without recording the outcome, so at most these messages can arrive twice.
const LEASED: usize = 8 * 4;
/// How soon a process woken by another's notification delivers (its poll interval is a minute).
const WOKEN: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_notifications_all_arrive_after_psi_is_killed_mid_delivery_and_restarted_on_sqlite()
{
    killed_and_restarted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_notifications_all_arrive_after_psi_is_killed_mid_delivery_and_restarted_on_postgres()
 {
    killed_and_restarted(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_processes_on_postgres_the_survivor_delivers_what_the_killed_one_had_claimed() {
    let inbox = Inbox::start().await;
    let db = Database::new(Backend::Postgres).await;
    let ids = enqueue_with_a_process_that_does_not_deliver(&db, &inbox).await;

    let doomed = Psi::start(&db, 2);
    let survivor = Psi::start(&db, 2);
    doomed.ready().await;
    survivor.ready().await;
    let kill = inbox.kill_mid_delivery(&doomed).await;
    // The calls held at the kill may all have been the survivor's: none need arrive twice.
    inbox.wait_for_all(&ids, &[]).await;
    inbox.assert_recovered("PostgreSQL, a survivor", &kill, &ids);
    assert_settled(&survivor, &db.did(), &ids).await;
    survivor.kill();
}

/// What a process without workers enqueues, a delivering process that would poll only every
/// minute delivers at once: the first process's notifier tells it, message after message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_process_without_workers_wakes_the_one_that_delivers() {
    let inbox = Inbox::start().await;
    let db = Database::new(Backend::Postgres).await;
    db.set_poll_interval("60s");
    let api = Psi::start(&db, 0);
    api.ready().await;
    let path = register(&api, &db, &inbox).await;
    let delivering = Psi::start(&db, 2);
    delivering.ready().await;
    for n in 1..=3 {
        let sent = api.call("POST", &path, json!({})).await;
        let id = sent["message_id"].as_str().unwrap();
        let what = format!("message {n} within {WOKEN:?}");
        inbox
            .receiver
            .wait_for(&what, WOKEN, |calls| tally(calls).contains_key(id))
            .await;
    }
    api.kill();
    delivering.kill();
}

async fn killed_and_restarted(backend: Backend) {
    let inbox = Inbox::start().await;
    let db = Database::new(backend).await;
    let ids = enqueue_with_a_process_that_does_not_deliver(&db, &inbox).await;

    let doomed = Psi::start(&db, 2);
    doomed.ready().await;
    let kill = inbox.kill_mid_delivery(&doomed).await;
    assert!(!kill.held.is_empty(), "calls were in flight at the kill");

    let restarted = Psi::start(&db, 2);
    restarted.ready().await;
    // Every call in flight at the kill was the killed process's: each arrives again.
    inbox.wait_for_all(&ids, &kill.held).await;
    inbox.assert_recovered(&format!("{backend:?}, restarted"), &kill, &ids);
    assert_settled(&restarted, &db.did(), &ids).await;
    restarted.kill();
}

/// Starts psi without workers, registers a service with an endpoint at the inbox, sends
/// `MESSAGES` test messages through the API, then kills that process too. Returns the message
/// ids.
async fn enqueue_with_a_process_that_does_not_deliver(db: &Database, inbox: &Inbox) -> Vec<String> {
    let api = Psi::start(db, 0);
    api.ready().await;
    let path = register(&api, db, inbox).await;
    let mut senders = JoinSet::new();
    let per_sender = MESSAGES / 10;
    for _ in 0..10 {
        let (api, path) = (api.handle(), path.clone());
        senders.spawn(async move {
            let mut ids = Vec::with_capacity(per_sender);
            for _ in 0..per_sender {
                let sent = api.call("POST", &path, json!({})).await;
                ids.push(sent["message_id"].as_str().unwrap().to_owned());
            }
            ids
        });
    }
    let ids: Vec<String> = senders.join_all().await.into_iter().flatten().collect();
    assert_eq!(ids.len(), MESSAGES);
    api.kill();
    assert_eq!(
        inbox.unique(),
        0,
        "a process without workers delivers nothing"
    );
    ids
}

/// Registers, through `api`, a service with a Bearer (HS256) endpoint at the inbox; returns the
/// path that sends it a test message.
async fn register(api: &Psi, db: &Database, inbox: &Inbox) -> String {
    let did = api
        .call("POST", "/api/v1/services", json!({"name": "Durable"}))
        .await["did"]
        .as_str()
        .unwrap()
        .to_owned();
    db.set_did(&did);
    api.call(
        "POST",
        &format!("/api/v1/services/{did}/keys"),
        json!({"name": "shared", "type": "sha_secret"}),
    )
    .await;
    let endpoint = api
        .call(
            "POST",
            &format!("/api/v1/services/{did}/endpoints"),
            json!({"url": inbox.receiver.url("/hook"), "key": "shared", "auth": "bearer", "timeout_ms": 2000}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    format!("/api/v1/services/{did}/endpoints/{endpoint}/test")
}

/// Every message's delivery is recorded as succeeded: none pending, none failed.
async fn assert_settled(psi: &Psi, did: &str, ids: &[String]) {
    let deadline = tokio::time::Instant::now() + WITHIN;
    for status in ["pending", "failed"] {
        loop {
            let page = psi
                .call(
                    "GET",
                    &format!("/api/v1/services/{did}/messages?status={status}&limit=500"),
                    Value::Null,
                )
                .await;
            if page["data"].as_array().unwrap().is_empty() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "messages still {status}: {page}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let sample = psi
        .call(
            "GET",
            &format!("/api/v1/services/{did}/messages/{}", ids[0]),
            Value::Null,
        )
        .await;
    assert_eq!(sample["status"], "succeeded", "{sample}");
}

/// How the receiver answers until the kill and after it: 200, a little later.
fn quick_reply() -> Reply {
    Reply::text(200, "ok").after(Duration::from_millis(20))
}

/// The kit's receiver at `/hook`, answering 200 a little later, so calls are in flight when the
/// sender dies; and what these tests read from its calls.
struct Inbox {
    receiver: Receiver,
}

impl Inbox {
    async fn start() -> Inbox {
        let receiver = Receiver::start().await;
        receiver.answer(quick_reply());
        Inbox { receiver }
    }

    /// How many distinct messages arrived.
    fn unique(&self) -> usize {
        tally(&self.receiver.calls()).len()
    }

    /// Kills `doomed` mid-delivery, while calls are held unanswered.
    async fn kill_mid_delivery(&self, doomed: &Psi) -> Kill {
        let held_from = self.wait_mid_delivery().await;
        let held = held_ids(&self.receiver.calls(), held_from);
        doomed.kill();
        let at = now_ms();
        self.receiver.answer(quick_reply());
        let arrived = self.unique();
        assert!(
            arrived < MESSAGES,
            "the kill must come before every message arrived"
        );
        Kill { at, arrived, held }
    }

    /// Waits until `KILL_AFTER` messages arrived, then holds the calls that come next for
    /// [`HOLD`] and waits for one: calls are surely in flight when the kill follows, however
    /// late this side looks. Returns when (Unix ms) the holding began.
    async fn wait_mid_delivery(&self) -> i64 {
        let what = format!("{KILL_AFTER} distinct messages");
        self.receiver
            .wait_for(&what, WITHIN, |calls| tally(calls).len() >= KILL_AFTER)
            .await;
        self.receiver.answer(Reply::text(200, "ok").after(HOLD));
        let held_from = now_ms();
        self.receiver
            .wait_for("calls held in flight", WITHIN, |calls| {
                !held_ids(calls, held_from).is_empty()
            })
            .await;
        held_from
    }

    /// Checks, once every id in `ids` arrived, that only they did, that the messages the killed
    /// process held (those that arrived twice, at most the deliveries leased) were sent again
    /// within [`RECOVERY`] of the kill. Prints the figures.
    fn assert_recovered(&self, case: &str, kill: &Kill, ids: &[String]) {
        let since_kill = |at: i64| Duration::from_millis((at - kill.at).try_into().unwrap_or(0));
        let all = since_kill(now_ms());
        let seen = tally(&self.receiver.calls());
        assert!(
            seen.keys().all(|id| ids.contains(id)),
            "only the enqueued messages arrive"
        );
        let again: Vec<i64> = seen
            .values()
            .filter(|(calls, _)| *calls > 1)
            .map(|(_, last)| *last)
            .collect();
        let Some(last_again) = again.iter().max() else {
            eprintln!("{case}: none of the killed process's calls was in flight; none lost");
            return;
        };
        let recovered = since_kill(*last_again);
        eprintln!(
            "{case}: killed after {} of {MESSAGES} messages arrived; {} arrived twice, \
             the last of them {recovered:.1?} after the kill; all {MESSAGES} arrived \
             {all:.1?} after the kill, none lost",
            kill.arrived,
            again.len()
        );
        assert!(
            again.len() <= LEASED,
            "{} messages arrived twice, more than were leased",
            again.len()
        );
        assert!(
            recovered < RECOVERY,
            "the killed process's calls were sent again {recovered:?} after the kill"
        );
    }

    /// Waits until every id in `ids` arrived, and those in `again` a second time.
    async fn wait_for_all(&self, ids: &[String], again: &[String]) {
        let what = format!("all {} messages, {} of them twice", ids.len(), again.len());
        self.receiver
            .wait_for(&what, WITHIN, |calls| {
                let seen = tally(calls);
                ids.iter().all(|id| seen.contains_key(id))
                    && again.iter().all(|id| seen.get(id).is_some_and(|s| s.0 > 1))
            })
            .await;
    }
}

/// What a kill left: when it came (Unix ms), how many messages had arrived, and the messages
/// whose calls were held unanswered at that moment.
struct Kill {
    at: i64,
    arrived: usize,
    held: Vec<String>,
}

/// The messages of calls that arrived since `from` (Unix ms) and are still unanswered.
fn held_ids(calls: &[Call], from: i64) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.at >= from && c.answered_at.is_none())
        .map(|c| {
            c.json()["messageId"]
                .as_str()
                .expect("messageId")
                .to_owned()
        })
        .collect()
}

/// Calls per `messageId`, and when the last one arrived (Unix ms).
fn tally(calls: &[Call]) -> HashMap<String, (usize, i64)> {
    let mut seen = HashMap::new();
    for call in calls {
        let id = call.json()["messageId"]
            .as_str()
            .expect("messageId")
            .to_owned();
        let (count, last) = seen.entry(id).or_insert((0, call.at));
        *count += 1;
        *last = call.at;
    }
    seen
}

/// Where the processes keep their data: a data directory (SQLite) or a PostgreSQL schema.
struct Database {
    dir: TempDir,
    /// `None` on SQLite; the schema is dropped at the end of the test.
    schema: Option<PgSchema>,
    master_key: String,
    did: Mutex<String>,
    /// `[delivery] poll_interval` of the processes started from now on.
    poll_interval: Mutex<&'static str>,
}

impl Database {
    async fn new(backend: Backend) -> Database {
        Database {
            dir: tempfile::tempdir().unwrap(),
            schema: PgSchema::for_backend(backend, "psi_durability").await,
            master_key: random_master_key(),
            did: Mutex::new(String::new()),
            poll_interval: Mutex::new("200ms"),
        }
    }

    fn set_did(&self, did: &str) {
        *self.did.lock().unwrap() = did.to_owned();
    }

    fn set_poll_interval(&self, interval: &'static str) {
        *self.poll_interval.lock().unwrap() = interval;
    }

    fn did(&self) -> String {
        self.did.lock().unwrap().clone()
    }

    /// The configuration of a process with `workers` delivery workers listening on `port`: the
    /// default lease, renewal and per-endpoint cap, a compressed retry schedule, the poll interval
    /// set (200 ms unless changed).
    fn config(&self, port: u16, workers: usize) -> String {
        let mut config = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {:?}\nadmin_token = \"{ADMIN_TOKEN}\"\n\
             log_level = \"warn\"\nmaster_key = \"{}\"\n",
            self.dir.path().join("data"),
            self.master_key,
        );
        if let Some(url) = self.schema.as_ref().map(PgSchema::url) {
            config.push_str(&format!("database_url = {url:?}\n"));
        }
        config.push_str(&format!(
            "[outbound]\nallow_loopback = true\n[delivery]\nworkers = {workers}\nbatch_size = 8\n\
             poll_interval = \"{}\"\nschedule = [\"100ms\", \"200ms\", \"400ms\"]\n",
            self.poll_interval.lock().unwrap()
        ));
        config
    }
}

/// A `psi serve` process.
struct Psi {
    child: Mutex<Option<Child>>,
    handle: Api,
    /// Its standard error, shown when it does not start.
    log: PathBuf,
}

/// Calls to one process's API.
#[derive(Clone)]
struct Api {
    url: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("psi answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }
}

impl Psi {
    /// Starts `psi serve` on a free port with `workers` delivery workers.
    fn start(db: &Database, workers: usize) -> Psi {
        let port = free_port();
        let config = db.dir.path().join(format!("psi-{port}.toml"));
        std::fs::write(&config, db.config(port, workers)).unwrap();
        let log = db.dir.path().join(format!("psi-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_psi"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::from(File::create(&log).unwrap()))
            .spawn()
            .expect("psi starts");
        Psi {
            child: Mutex::new(Some(child)),
            handle: Api {
                url: format!("http://127.0.0.1:{port}"),
                http: reqwest::Client::new(),
            },
            log,
        }
    }

    fn handle(&self) -> Api {
        self.handle.clone()
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        self.handle.call(method, path, body).await
    }

    /// Waits for `/healthz`.
    async fn ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let health = self
                .handle
                .http
                .get(format!("{}/healthz", self.handle.url))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            if let Some(child) = self.child.lock().unwrap().as_mut() {
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "psi exited before it was ready: {}",
                    self.stderr()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "psi is not ready: {}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no flush, claims left as they are.
    fn kill(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            child.kill().expect("SIGKILL");
            child.wait().unwrap();
        }
    }
}

impl Drop for Psi {
    fn drop(&mut self) {
        self.kill();
    }
}
