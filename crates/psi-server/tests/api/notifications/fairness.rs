//! Fair claims, per-endpoint caps and leases: an endpoint that hangs with a backlog does not delay
//! other endpoints, a worker claims more while its slow calls run, a lease is renewed while its
//! call runs, and a dead worker's lease is taken over when it ends.

use std::time::Duration;

use psi_server::delivery::{self, EventType, Step};
use psi_testkit::{Receiver, Reply, now_ms};
use serde_json::{Value, json};

use super::delivery::revoked;
use super::{delivering, spawn_delivering};
use crate::backend_tests;
use crate::helpers::{Backend, TestApp, start};

backend_tests!(
    hanging_endpoints_with_200_queued_each_do_not_delay_another_services_notification,
    deliveries_waiting_for_an_endpoint_disabled_meanwhile_are_not_sent,
    a_shutdown_waits_for_the_calls_in_flight_not_for_the_deliveries_behind_them,
    a_worker_keeps_claiming_while_its_slow_calls_run,
    a_lease_is_renewed_while_a_call_outlasts_it_so_no_other_worker_claims_it,
    a_claim_left_by_a_dead_worker_is_taken_again_within_15_seconds,
);

const WITHIN: Duration = Duration::from_secs(15);
/// The default `[delivery] in_flight_per_endpoint`.
const DEFAULT_CAP: usize = 8;
/// How many times its cap a process leases of an endpoint.
const LEASE_AHEAD: usize = 4;
/// Longer than any test: a receiver answering after this never answers in time.
const NEVER: Duration = Duration::from_secs(600);

/// A service with an endpoint that never answers in time (`timeout_ms`), with `queued`
/// notifications waiting for it. Returns the receiver, the service and the endpoint.
async fn hanging_with_queued(
    app: &TestApp,
    name: &str,
    timeout_ms: u64,
    queued: usize,
) -> (Receiver, String, Value) {
    let hanging = Receiver::start().await;
    hanging.answer(Reply::status(200).after(NEVER));
    let stuck = app.create_service(name).await;
    let endpoint = app
        .create_endpoint(
            &stuck,
            &hanging.url("/hook"),
            json!({"timeout_ms": timeout_ms}),
        )
        .await;
    enqueue_revocations(app, &stuck, queued).await;
    (hanging, stuck, endpoint)
}

/// Enqueues `count` notifications of service `did` in one transaction, then wakes the workers.
async fn enqueue_revocations(app: &TestApp, did: &str, count: usize) {
    let scope = app.scope(did).await;
    let mut tx = app.app.state().db.begin().await.unwrap();
    let mut due = delivery::Due::default();
    for n in 0..count {
        let (_, more) = delivery::enqueue(
            &mut tx,
            &scope,
            EventType::CredentialRevoked,
            &revoked(&format!("j{n}")),
        )
        .await
        .unwrap();
        due = due.and(more);
    }
    tx.commit().await.unwrap();
    due.announce();
}

/// Waits until `endpoint` has `count` live leases (workers claim one after another, so they
/// reach it a moment after the first calls); returns how many it has then.
async fn leased(app: &TestApp, endpoint: &Value, count: i64) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) FROM deliveries WHERE endpoint_id = '{}' AND lease_until IS NOT NULL",
        endpoint["id"].as_str().unwrap()
    );
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        let (leased,): (i64,) = sqlx::query_as(&sql)
            .fetch_one(app.app.state().db.pool())
            .await
            .unwrap();
        if leased >= count || std::time::Instant::now() > deadline {
            return leased;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn hanging_endpoints_with_200_queued_each_do_not_delay_another_services_notification(
    backend: Backend,
) {
    // The default workers, calls per worker, cap and lease: 4 × 16 calls. Each hanging endpoint
    // leases 32 deliveries, so, were waiting deliveries to take calls' room, three would fill it.
    let app = spawn_delivering(backend, &[]).await;
    let leased_cap = i64::try_from(DEFAULT_CAP * LEASE_AHEAD).unwrap();
    let mut stuck = Vec::new();
    for name in ["Stuck", "Stuck too", "Stuck as well"] {
        let (hanging, _, endpoint) = hanging_with_queued(&app, name, 10_000, 200).await;
        hanging.wait_for_calls("/hook", DEFAULT_CAP, WITHIN).await;
        assert_eq!(
            leased(&app, &endpoint, leased_cap).await,
            leased_cap,
            "claims lease ahead of the calls, which wait in the process for the endpoint's lane"
        );
        stuck.push(hanging);
    }

    let prompt = app.create_service("Prompt").await;
    let receiver = Receiver::start().await;
    let endpoint = app
        .create_endpoint(&prompt, &receiver.url("/hook"), json!({}))
        .await;
    let sent = now_ms();
    let message_id = app
        .send_test(&prompt, endpoint["id"].as_str().unwrap())
        .await;
    let call = receiver.wait_for_calls("/hook", 1, WITHIN).await[0].clone();
    let latency = call.at - sent;
    eprintln!(
        "{backend:?}: delivered in {latency} ms while three endpoints hang with 200 queued each"
    );
    assert!(latency < 1000, "delivered after {latency} ms");
    assert_eq!(call.json()["messageId"], message_id.as_str());
    app.wait_for_status(&prompt, &message_id, "succeeded", Duration::from_secs(1))
        .await;
    for hanging in &stuck {
        assert_eq!(
            hanging.calls().len(),
            DEFAULT_CAP,
            "each hanging endpoint has its cap of calls in flight, across the four workers"
        );
    }
    app.stop().await;
}

async fn deliveries_waiting_for_an_endpoint_disabled_meanwhile_are_not_sent(backend: Backend) {
    let app = spawn_delivering(backend, &[]).await;
    // Its calls end after 5 s, later than the first lease renewal (3 s).
    let (hanging, did, endpoint) = hanging_with_queued(&app, "Stuck", 5000, 200).await;
    hanging.wait_for_calls("/hook", DEFAULT_CAP, WITHIN).await;
    let leased_cap = i64::try_from(DEFAULT_CAP * LEASE_AHEAD).unwrap();
    assert_eq!(leased(&app, &endpoint, leased_cap).await, leased_cap);
    let id = endpoint["id"].as_str().unwrap();
    let path = format!("/api/v1/services/{did}/endpoints/{id}/disable");
    let response = app
        .post(&path, crate::helpers::ADMIN_TOKEN, &json!({}))
        .await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    // The calls in flight time out; the 24 deliveries waiting behind them were given up.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        hanging.calls().len(),
        DEFAULT_CAP,
        "no call started after the endpoint was disabled"
    );
    app.stop().await;
}

async fn a_shutdown_waits_for_the_calls_in_flight_not_for_the_deliveries_behind_them(
    backend: Backend,
) {
    let app = spawn_delivering(backend, &[]).await;
    let (hanging, _, endpoint) = hanging_with_queued(&app, "Stuck", 2000, 200).await;
    hanging.wait_for_calls("/hook", DEFAULT_CAP, WITHIN).await;
    let leased_cap = i64::try_from(DEFAULT_CAP * LEASE_AHEAD).unwrap();
    assert_eq!(leased(&app, &endpoint, leased_cap).await, leased_cap);
    let stopping = std::time::Instant::now();
    app.stop().await;
    let took = stopping.elapsed();
    // The calls in flight end at their 2 s timeout; the 24 waiting would take three more rounds.
    assert!(
        took < Duration::from_millis(3500),
        "the shutdown took {took:?}"
    );
    assert_eq!(
        hanging.calls().len(),
        DEFAULT_CAP,
        "no call started after the shutdown began"
    );
}

async fn a_worker_keeps_claiming_while_its_slow_calls_run(backend: Backend) {
    let app = spawn_delivering(backend, &[("workers", json!(1)), ("batch_size", json!(4))]).await;
    let slow = Receiver::start().await;
    slow.answer(Reply::status(200).after(Duration::from_secs(3)));
    let sluggish = app.create_service("Sluggish").await;
    let slow_endpoint = app
        .create_endpoint(&sluggish, &slow.url("/hook"), json!({"timeout_ms": 10000}))
        .await;
    let slow_message = app
        .send_test(&sluggish, slow_endpoint["id"].as_str().unwrap())
        .await;
    let slow_call = slow.wait_for_calls("/hook", 1, WITHIN).await[0].clone();

    let brisk = app.create_service("Brisk").await;
    let fast = Receiver::start().await;
    let endpoint = app
        .create_endpoint(&brisk, &fast.url("/hook"), json!({}))
        .await;
    for n in 1..=5 {
        let sent = now_ms();
        let id = app
            .send_test(&brisk, endpoint["id"].as_str().unwrap())
            .await;
        let call = fast.wait_for_calls("/hook", n, WITHIN).await[n - 1].clone();
        assert_eq!(call.json()["messageId"], id.as_str());
        assert!(
            call.at - sent < 1000,
            "delivered after {} ms",
            call.at - sent
        );
        app.wait_for_status(&brisk, &id, "succeeded", Duration::from_secs(1))
            .await;
    }
    assert!(
        now_ms() - slow_call.at < 3000,
        "all delivered and recorded while the slow call ran"
    );
    assert_eq!(
        app.message(&sluggish, &slow_message).await["status"],
        "pending"
    );
    app.wait_for_status(&sluggish, &slow_message, "succeeded", WITHIN)
        .await;
    app.stop().await;
}

async fn a_lease_is_renewed_while_a_call_outlasts_it_so_no_other_worker_claims_it(
    backend: Backend,
) {
    let app = spawn_delivering(
        backend,
        &[
            ("workers", json!(2)),
            ("lease", json!("600ms")),
            ("lease_renewal", json!("200ms")),
            ("poll_interval", json!("50ms")),
        ],
    )
    .await;
    let did = app.create_service("Patient").await;
    let receiver = Receiver::start().await;
    receiver.queue("/hook", [Reply::status(200).after(Duration::from_secs(2))]);
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({"timeout_ms": 5000}))
        .await;
    let message_id = app.send_test(&did, endpoint["id"].as_str().unwrap()).await;
    let message = app
        .wait_for_status(&did, &message_id, "succeeded", WITHIN)
        .await;
    // Time for a second claim to show, had the lease been let go.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.calls().len(), 1, "called once, not again");
    assert_eq!(message["deliveries"][0]["attempts"], 1);
    let attempts = message["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert!(attempts[0]["duration_ms"].as_i64().unwrap() >= 2000);
    app.stop().await;
}

async fn a_claim_left_by_a_dead_worker_is_taken_again_within_15_seconds(backend: Backend) {
    // The default lease, renewal and poll interval; workers stepped by hand.
    let app = spawn_delivering(backend, &[("workers", json!(0))]).await;
    let did = app.create_service("Crashy").await;
    let receiver = Receiver::start().await;
    receiver.queue("/hook", [Reply::status(200).after(NEVER)]);
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    let message_id = app.send_test(&did, endpoint["id"].as_str().unwrap()).await;

    let worker = app.worker();
    let claimed_at = now_ms();
    let dying = tokio::spawn({
        let worker = worker.clone();
        async move { worker.step().await }
    });
    let first = receiver.wait_for_calls("/hook", 1, WITHIN).await[0].clone();
    // Dies mid-call: no outcome recorded, no lease renewed.
    dying.abort();
    assert!(dying.await.unwrap_err().is_cancelled());

    // The claim stands until its lease ends.
    let Step::Empty {
        next_due: Some(due),
    } = worker.step().await.unwrap()
    else {
        panic!("the leased delivery must not be claimed again yet");
    };
    assert!(
        (claimed_at + 10_000..=now_ms() + 10_000).contains(&due),
        "due {} ms after the claim",
        due - claimed_at
    );

    // A process with workers on the same database takes it over when the lease ends.
    let rescuer = start(delivering(&app.db, &[])).await;
    let calls = receiver.wait_for_calls("/hook", 2, WITHIN).await;
    let recovered = calls[1].at - first.at;
    eprintln!("{backend:?}: a dead worker's delivery was sent again {recovered} ms after");
    assert!(recovered < 15_000, "sent again {recovered} ms after");
    assert_eq!(calls[1].json()["messageId"], message_id.as_str());
    let message = app
        .wait_for_status(&did, &message_id, "succeeded", WITHIN)
        .await;
    assert_eq!(
        message["deliveries"][0]["attempts"], 2,
        "the lost attempt counts"
    );
    assert_eq!(message["attempts"].as_array().unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.calls().len(), 2, "sent once more, not more");
    rescuer
        .stop()
        .await
        .expect("the second server stops cleanly");
}

/// PostgreSQL writes a claim's update as a heap-only tuple: it changes no indexed column (leases
/// are counted in the process, not through an index), and the table keeps room on its pages for
/// the new row version. So claims rewrite none of the table's indexes, read from PostgreSQL's own
/// counters once the server's connections have closed (a backend reports them as it ends).
#[tokio::test]
async fn on_postgres_claims_are_heap_only_updates() {
    const MESSAGES: usize = 200;
    let app = spawn_delivering(Backend::Postgres, &[]).await;
    let receiver = Receiver::start().await;
    let did = app.create_service("Acme").await;
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    enqueue_revocations(&app, &did, MESSAGES).await;
    receiver.wait_for_calls("/hook", MESSAGES, WITHIN).await;
    let settled = format!(
        "SELECT COUNT(*) FROM deliveries WHERE endpoint_id = '{}' AND status = 'succeeded'",
        endpoint["id"].as_str().unwrap()
    );
    let pool = app.db.raw_pool().await;
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        let (count,): (i64,) = sqlx::query_as(&settled).fetch_one(&pool).await.unwrap();
        if count == i64::try_from(MESSAGES).unwrap() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{count} settled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let TestApp {
        app: server, db, ..
    } = app;
    server.stop().await.expect("the server stops cleanly");

    // Each delivery is updated twice: claimed, then settled (which changes indexed columns).
    let counters = "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables \
                    WHERE relname = 'deliveries' AND schemaname = current_schema()";
    let claims = i64::try_from(MESSAGES).unwrap();
    let deadline = std::time::Instant::now() + WITHIN;
    let (updates, heap_only) = loop {
        let (updates, heap_only): (i64, i64) =
            sqlx::query_as(counters).fetch_one(&pool).await.unwrap();
        if updates >= 2 * claims || std::time::Instant::now() > deadline {
            break (updates, heap_only);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("deliveries: {updates} updates, {heap_only} heap-only");
    assert_eq!(updates, 2 * claims, "a claim and an outcome per delivery");
    // Were a lease column indexed, none would be (the outcome changes indexed columns too); a few
    // claims may find their page full of versions not yet pruned.
    assert!(
        heap_only >= claims / 2,
        "{heap_only} of {claims} claims were heap-only updates"
    );
    pool.close().await;
    drop(db);
}
