//! Delivery itself: the outbox transaction, waking, retries on a compressed schedule,
//! `Retry-After`, exhaustion, disabling failing endpoints, listings. Leases and fairness are in
//! `fairness.rs`.

use std::time::Duration;

use psi_server::delivery::{self, CredentialNotification, EventType, NotifiedCredential};
use psi_server::scope::ServiceScope;
use psi_testkit::{Receiver, Reply, now_ms};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{attempts_oldest_first, spawn_delivering};
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json};

backend_tests!(
    a_notification_is_stored_with_the_change_or_not_at_all,
    a_new_message_wakes_idle_workers_at_once,
    retries_follow_the_compressed_schedule_until_the_receiver_comes_back,
    retry_after_lengthens_the_wait_up_to_its_cap,
    a_delivery_whose_schedule_is_used_up_fails_and_so_does_its_message,
    an_endpoint_failing_for_the_disable_period_is_disabled_and_the_service_told,
    message_and_attempt_listings_filter_and_page_with_a_cursor,
    a_batch_larger_than_the_connection_pool_is_delivered_without_waiting_for_a_connection,
);

const WITHIN: Duration = Duration::from_secs(15);

pub fn revoked(jti: &str) -> CredentialNotification {
    CredentialNotification {
        subscriber_connect_did: "holder-did".into(),
        action_event_id: None,
        credentials: vec![NotifiedCredential {
            jti: jti.into(),
            credential_id: "did:3:CL:1:tag".into(),
            schema_id: "did:2:Schema:1.0".into(),
            fields: vec![],
            utc_issued_at: 1,
            revoked: true,
            utc_revoked_at: Some(2),
        }],
    }
}

/// Enqueues `credential.revoked` for the service in its own committed transaction.
pub async fn enqueue_revoked(app: &TestApp, scope: &ServiceScope, jti: &str) -> String {
    let mut tx = app.app.state().db.begin().await.unwrap();
    let (id, due) = delivery::enqueue(&mut tx, scope, EventType::CredentialRevoked, &revoked(jti))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    due.announce();
    id.to_string()
}

/// The gaps between consecutive attempts, in milliseconds.
fn gaps(message: &Value) -> Vec<i64> {
    let at: Vec<i64> = attempts_oldest_first(message)
        .iter()
        .map(|a| a["at"].as_i64().unwrap())
        .collect();
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

fn statuses(message: &Value) -> Vec<Value> {
    attempts_oldest_first(message)
        .iter()
        .map(|a| a["status"].clone())
        .collect()
}

async fn a_notification_is_stored_with_the_change_or_not_at_all(backend: Backend) {
    let app = spawn_delivering(backend, &[("workers", json!(0))]).await;
    let did = app.create_service("Atomic").await;
    let scope = app.scope(&did).await;
    let receiver = Receiver::start().await;
    app.create_endpoint(
        &did,
        &receiver.url("/hook"),
        json!({"event_types": ["credential.revoked"]}),
    )
    .await;
    let db = &app.app.state().db;

    let mut tx = db.begin().await.unwrap();
    let rolled_back = delivery::enqueue(
        &mut tx,
        &scope,
        EventType::CredentialRevoked,
        &revoked("j1"),
    )
    .await
    .unwrap()
    .0
    .to_string();
    tx.rollback().await.unwrap();
    let path = format!("/api/v1/services/{did}/messages/{rolled_back}");
    assert_eq!(
        app.get(&path, ADMIN_TOKEN).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.worker().drain().await.unwrap(), 0);

    let committed = enqueue_revoked(&app, &scope, "j2").await;
    assert_eq!(app.worker().drain().await.unwrap(), 1);
    let body = receiver.calls()[0].json();
    assert_eq!(body["type"], "credential.revoked");
    assert_eq!(body["messageId"], committed.as_str());
    assert_eq!(body["subscriberConnectDid"], "holder-did");
    assert_eq!(body["credentials"][0]["jti"], "j2");
    assert_eq!(body["credentials"][0]["utcRevokedAt"], 2);

    // A type no endpoint subscribes to is kept, for listing and later replays.
    let mut tx = db.begin().await.unwrap();
    let unwanted = delivery::enqueue(&mut tx, &scope, EventType::EventFailed, &json!({"x": 1}))
        .await
        .unwrap()
        .0
        .to_string();
    tx.commit().await.unwrap();
    let message = app.message(&did, &unwanted).await;
    assert_eq!(message["status"], "undelivered");
    assert_eq!(message["payload"]["x"], 1);
    assert_eq!(app.worker().drain().await.unwrap(), 0);

    // A payload that is not a JSON object is refused, and the transaction can still commit.
    let mut tx = db.begin().await.unwrap();
    let error = delivery::enqueue(&mut tx, &scope, EventType::EventFailed, &json!([1, 2]))
        .await
        .unwrap_err();
    assert!(matches!(error, sqlx::Error::Encode(_)), "{error}");
    tx.commit().await.unwrap();
}

async fn a_new_message_wakes_idle_workers_at_once(backend: Backend) {
    let app = spawn_delivering(
        backend,
        &[("workers", json!(2)), ("poll_interval", json!("1h"))],
    )
    .await;
    let did = app.create_service("Awake").await;
    let receiver = Receiver::start().await;
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    // Let the workers go idle first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = now_ms();
    let message_id = app.send_test(&did, endpoint["id"].as_str().unwrap()).await;
    let calls = receiver
        .wait_for_calls("/hook", 1, Duration::from_secs(5))
        .await;
    assert_eq!(calls[0].json()["messageId"], message_id.as_str());
    assert!(calls[0].at - sent < 3000, "woken, not polled");
    app.stop().await;
}

async fn retries_follow_the_compressed_schedule_until_the_receiver_comes_back(backend: Backend) {
    let schedule = [200, 400, 800];
    let jitter = 0.1;
    let app = spawn_delivering(
        backend,
        &[
            ("workers", json!(2)),
            ("schedule", json!(["200ms", "400ms", "800ms"])),
            ("jitter", json!(jitter)),
            // Retries are found by their due time, not by polling.
            ("poll_interval", json!("1h")),
        ],
    )
    .await;
    let did = app.create_service("Flaky").await;
    let receiver = Receiver::start().await;
    receiver.queue(
        "/hook",
        [Reply::status(503), Reply::status(503), Reply::status(503)],
    );
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    let message_id = app.send_test(&did, endpoint["id"].as_str().unwrap()).await;

    let message = app
        .wait_for_status(&did, &message_id, "succeeded", WITHIN)
        .await;
    assert_eq!(
        statuses(&message),
        [json!(503), json!(503), json!(503), json!(200)]
    );
    assert_eq!(message["deliveries"][0]["attempts"], 4);
    for (gap, wait) in gaps(&message).into_iter().zip(schedule) {
        let low = (f64::from(wait) * (1.0 - jitter)) as i64 - 5;
        let high = (f64::from(wait) * (1.0 + jitter)) as i64 + 700;
        assert!(
            (low..=high).contains(&gap),
            "gap {gap} ms for a wait of {wait} ms"
        );
    }
    let calls = receiver.calls();
    assert_eq!(calls.len(), 4);
    assert!(
        calls
            .iter()
            .all(|c| c.json()["messageId"] == message_id.as_str()),
        "every attempt carries the same message id"
    );
    let endpoint = app.endpoint(&did, endpoint["id"].as_str().unwrap()).await;
    assert!(
        endpoint.get("failing_since").is_none(),
        "the success cleared it"
    );
    app.stop().await;
}

async fn retry_after_lengthens_the_wait_up_to_its_cap(backend: Backend) {
    let app = spawn_delivering(
        backend,
        &[
            ("workers", json!(1)),
            ("schedule", json!(["50ms", "50ms", "50ms"])),
            ("jitter", json!(0.0)),
            ("max_retry_after", json!("1500ms")),
            ("poll_interval", json!("1h")),
        ],
    )
    .await;
    let did = app.create_service("Busy").await;
    let receiver = Receiver::start().await;
    receiver.queue(
        "/hook",
        [
            Reply::status(503).with_header("retry-after", "1"),
            Reply::status(429).with_header("retry-after", "3600"),
        ],
    );
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    let message_id = app.send_test(&did, endpoint["id"].as_str().unwrap()).await;
    let message = app
        .wait_for_status(&did, &message_id, "succeeded", WITHIN)
        .await;
    assert_eq!(statuses(&message), [json!(503), json!(429), json!(200)]);
    let gaps = gaps(&message);
    assert!(
        (995..=1800).contains(&gaps[0]),
        "Retry-After: 1 waited {} ms",
        gaps[0]
    );
    assert!(
        (1495..=2300).contains(&gaps[1]),
        "Retry-After: 3600, capped at 1.5 s, waited {} ms",
        gaps[1]
    );
    app.stop().await;
}

async fn a_delivery_whose_schedule_is_used_up_fails_and_so_does_its_message(backend: Backend) {
    let app = spawn_delivering(
        backend,
        &[
            ("workers", json!(2)),
            ("schedule", json!(["50ms", "100ms"])),
            ("poll_interval", json!("1h")),
        ],
    )
    .await;
    let did = app.create_service("Down").await;
    let receiver = Receiver::start().await;
    receiver.answer(Reply::status(500));
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let message_id = app.send_test(&did, endpoint_id).await;

    let message = app
        .wait_for_status(&did, &message_id, "failed", WITHIN)
        .await;
    assert_eq!(statuses(&message), [json!(500), json!(500), json!(500)]);
    let delivery = &message["deliveries"][0];
    assert_eq!(delivery["status"], "failed");
    assert_eq!(delivery["attempts"], 3);
    assert!(delivery["next_attempt_at"].is_null());
    for attempt in attempts_oldest_first(&message) {
        assert_eq!(attempt["error"], "it answered HTTP 500");
        assert_eq!(attempt["response_excerpt"], "answered 500");
        assert!(attempt["duration_ms"].as_i64().unwrap() >= 0);
    }
    // Nothing more is attempted once the schedule is used up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.calls().len(), 3);

    let failed = expect_json(
        app.get(
            &format!("/api/v1/services/{did}/messages?status=failed&endpoint={endpoint_id}"),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(failed["data"][0]["id"], message_id.as_str());
    let attempts = |status: &'static str| {
        let path = format!("/api/v1/services/{did}/attempts?message={message_id}&status={status}");
        let app = &app;
        async move { expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await }
    };
    assert_eq!(
        attempts("failed").await["data"].as_array().unwrap().len(),
        3
    );
    assert_eq!(attempts("succeeded").await["data"], json!([]));
    let endpoint = app.endpoint(&did, endpoint_id).await;
    assert_eq!(
        endpoint["enabled"], true,
        "not failing long enough to be disabled"
    );
    assert!(endpoint["failing_since"].as_i64().is_some());
    app.stop().await;
}

async fn an_endpoint_failing_for_the_disable_period_is_disabled_and_the_service_told(
    backend: Backend,
) {
    let app = spawn_delivering(
        backend,
        &[
            ("workers", json!(2)),
            ("schedule", json!(vec!["100ms"; 40])),
            ("disable_after", json!("500ms")),
            ("poll_interval", json!("1h")),
        ],
    )
    .await;
    let did = app.create_service("Failing").await;
    let failing = Receiver::start().await;
    failing.answer(Reply::status(500));
    let watcher = Receiver::start().await;
    let endpoint = app
        .create_endpoint(&did, &failing.url("/hook"), json!({}))
        .await;
    let id = endpoint["id"].as_str().unwrap();
    app.create_endpoint(
        &did,
        &watcher.url("/hook"),
        json!({"event_types": ["endpoint.disabled"]}),
    )
    .await;
    let message_id = app.send_test(&did, id).await;

    let notice = watcher.wait_for_calls("/hook", 1, WITHIN).await[0].json();
    assert_eq!(notice["type"], "endpoint.disabled");
    assert_eq!(notice["endpointId"], id);
    assert_eq!(notice["url"], failing.url("/hook"));
    let endpoint = app.endpoint(&did, id).await;
    assert_eq!(endpoint["enabled"], false);
    assert_eq!(endpoint["disabled_reason"], "failing");
    let (since, disabled_at) = (
        endpoint["failing_since"].as_i64().unwrap(),
        endpoint["disabled_at"].as_i64().unwrap(),
    );
    assert!(
        disabled_at - since >= 500,
        "disabled after {} ms",
        disabled_at - since
    );
    assert_eq!(notice["failingSince"], since);
    assert_eq!(notice["disabledAt"], disabled_at);
    let notices = expect_json(
        app.get(
            &format!("/api/v1/services/{did}/messages?event_type=endpoint.disabled"),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(notices["data"].as_array().unwrap().len(), 1);

    // The pending delivery waits for the endpoint, and nothing more is sent to it.
    let message = app.message(&did, &message_id).await;
    assert_eq!(message["status"], "pending");
    assert!(message["deliveries"][0]["next_attempt_at"].is_null());
    let sent = failing.calls().len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(failing.calls().len(), sent);

    failing.answer(Reply::status(200));
    let path = format!("/api/v1/services/{did}/endpoints/{id}/enable");
    expect_json(
        app.post(&path, ADMIN_TOKEN, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    app.wait_for_status(&did, &message_id, "succeeded", WITHIN)
        .await;
    let endpoint = app.endpoint(&did, id).await;
    assert_eq!(endpoint["enabled"], true);
    assert!(endpoint.get("failing_since").is_none());
    app.stop().await;
}

async fn message_and_attempt_listings_filter_and_page_with_a_cursor(backend: Backend) {
    let app = spawn_delivering(backend, &[("workers", json!(0))]).await;
    let did = app.create_service("Paged").await;
    let receiver = Receiver::start().await;
    let endpoint = app
        .create_endpoint(
            &did,
            &receiver.url("/hook"),
            json!({"event_types": ["event.failed"]}),
        )
        .await;
    let id = endpoint["id"].as_str().unwrap();
    let mut sent = Vec::new();
    for _ in 0..5 {
        sent.push(app.send_test(&did, id).await);
    }
    let scope = app.scope(&did).await;
    let other = enqueue_revoked(&app, &scope, "j").await;
    app.worker().drain().await.unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/services/{did}/messages?event_type=test&limit=2");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(data.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "each once: {seen:?}");
    seen.sort();
    sent.sort();
    assert_eq!(seen, sent);

    let all = expect_json(
        app.get(&format!("/api/v1/services/{did}/messages"), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(all["data"][0]["id"], other.as_str());
    assert_eq!(all["data"][0]["status"], "undelivered");
    let by_endpoint = expect_json(
        app.get(
            &format!("/api/v1/services/{did}/messages?endpoint={id}&status=succeeded"),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_endpoint["data"].as_array().unwrap().len(), 5);
    let later = expect_json(
        app.get(
            &format!(
                "/api/v1/services/{did}/messages?since={}",
                now_ms() + 60_000
            ),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(later["data"], json!([]));

    let page = expect_json(
        app.get(
            &format!("/api/v1/services/{did}/attempts?endpoint={id}&limit=3"),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    let rest = expect_json(
        app.get(
            &format!(
                "/api/v1/services/{did}/attempts?endpoint={id}&limit=3&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 2);
    assert!(rest["next_cursor"].is_null());
}

async fn a_batch_larger_than_the_connection_pool_is_delivered_without_waiting_for_a_connection(
    backend: Backend,
) {
    // Calls hold no connection, so recording a batch never waits for one a call holds.
    let db = crate::helpers::TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(figment::providers::Serialized::default(
            "outbound.allow_loopback",
            true,
        ))
        .merge(figment::providers::Serialized::default(
            "database_max_connections",
            2,
        ))
        .merge(figment::providers::Serialized::default(
            "delivery.workers",
            0,
        ))
        .merge(figment::providers::Serialized::default(
            "delivery.batch_size",
            64,
        ))
        .merge(figment::providers::Serialized::default(
            "delivery.in_flight_per_endpoint",
            64,
        ));
    let app = crate::helpers::spawn_app_on(db, figment).await;
    let did = app.create_service("Crowded").await;
    let receiver = Receiver::start().await;
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    for _ in 0..64 {
        app.send_test(&did, endpoint["id"].as_str().unwrap()).await;
    }
    let drained = tokio::time::timeout(Duration::from_secs(8), app.worker().drain())
        .await
        .expect("no step waits for a connection")
        .unwrap();
    assert_eq!(drained, 64);
    assert_eq!(receiver.calls().len(), 64);
}
