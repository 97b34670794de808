//! Replays: one message, one message to one endpoint, everything failed (or missed) since a time.

use psi_server::delivery::{self, EventType};
use psi_testkit::{Receiver, Reply, now_ms};
use reqwest::StatusCode;
use serde_json::json;

use super::spawn_delivering;
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_error, expect_json};

backend_tests!(
    replaying_a_failed_message_delivers_it_again_with_the_same_message_id,
    a_message_replays_to_an_endpoint_added_after_it,
    replaying_since_a_time_redelivers_what_failed_or_was_missed_after_it_and_nothing_before,
);

/// Workers stepped by hand; a delivery gets a single attempt.
async fn single_attempt(backend: Backend) -> (TestApp, String, Receiver) {
    let app = spawn_delivering(backend, &[("workers", json!(0)), ("schedule", json!([]))]).await;
    let did = app.create_service("Replays").await;
    (app, did, Receiver::start().await)
}

async fn replay(app: &TestApp, path: &str, body: serde_json::Value) -> u64 {
    let answer = expect_json(
        app.post(path, ADMIN_TOKEN, &body).await,
        StatusCode::ACCEPTED,
    )
    .await;
    answer["replayed"].as_u64().unwrap()
}

async fn replaying_a_failed_message_delivers_it_again_with_the_same_message_id(backend: Backend) {
    let (app, did, receiver) = single_attempt(backend).await;
    receiver.answer(Reply::status(500));
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    let message_id = app.send_test(&did, endpoint["id"].as_str().unwrap()).await;
    app.worker().drain().await.unwrap();
    assert_eq!(app.message(&did, &message_id).await["status"], "failed");

    receiver.answer(Reply::status(200));
    let path = format!("/api/v1/services/{did}/messages/{message_id}/replay");
    assert_eq!(replay(&app, &path, json!({})).await, 1);
    assert_eq!(app.worker().drain().await.unwrap(), 1);

    let message = app.message(&did, &message_id).await;
    assert_eq!(message["status"], "succeeded");
    assert_eq!(message["deliveries"][0]["attempts"], 1, "a new schedule");
    assert_eq!(message["attempts"].as_array().unwrap().len(), 2);
    let calls = receiver.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].body, calls[1].body,
        "the same bytes, the same messageId"
    );

    // A succeeded message replays too (a receiver that lost it asks again).
    assert_eq!(replay(&app, &path, json!({})).await, 1);
    app.worker().drain().await.unwrap();
    assert_eq!(receiver.calls().len(), 3);

    let missing = format!("/api/v1/services/{did}/messages/0123456789abcdef/replay");
    let response = app.post(&missing, ADMIN_TOKEN, &json!({})).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

async fn a_message_replays_to_an_endpoint_added_after_it(backend: Backend) {
    let (app, did, receiver) = single_attempt(backend).await;
    let first = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    let message_id = app.send_test(&did, first["id"].as_str().unwrap()).await;
    app.worker().drain().await.unwrap();

    let late = Receiver::start().await;
    let second = app
        .create_endpoint(&did, &late.url("/hook"), json!({}))
        .await;
    let second_id = second["id"].as_str().unwrap();
    let path = format!("/api/v1/services/{did}/messages/{message_id}/replay?endpoint={second_id}");
    assert_eq!(replay(&app, &path, json!({})).await, 1);
    app.worker().drain().await.unwrap();
    assert_eq!(late.calls().len(), 1);
    assert_eq!(receiver.calls().len(), 1, "only the endpoint named");
    let message = app.message(&did, &message_id).await;
    assert_eq!(message["deliveries"].as_array().unwrap().len(), 2);

    let disable = format!("/api/v1/services/{did}/endpoints/{second_id}/disable");
    expect_json(
        app.post(&disable, ADMIN_TOKEN, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    let response = app.post(&path, ADMIN_TOKEN, &json!({})).await;
    expect_error(response, StatusCode::CONFLICT, "conflict").await;
}

async fn replaying_since_a_time_redelivers_what_failed_or_was_missed_after_it_and_nothing_before(
    backend: Backend,
) {
    let (app, did, receiver) = single_attempt(backend).await;
    receiver.answer(Reply::status(500));
    let endpoint = app
        .create_endpoint(
            &did,
            &receiver.url("/hook"),
            json!({"event_types": ["event.failed"]}),
        )
        .await;
    let id = endpoint["id"].as_str().unwrap();
    let before = app.send_test(&did, id).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let since = now_ms();
    let after = [app.send_test(&did, id).await, app.send_test(&did, id).await];
    app.worker().drain().await.unwrap();
    assert_eq!(receiver.calls().len(), 3);

    // Made while the endpoint was disabled: never delivered to it.
    let disable = format!("/api/v1/services/{did}/endpoints/{id}/disable");
    expect_json(
        app.post(&disable, ADMIN_TOKEN, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    let scope = app.scope(&did).await;
    let mut tx = app.app.state().db.begin().await.unwrap();
    let missed = delivery::enqueue(&mut tx, &scope, EventType::EventFailed, &json!({"n": 1}))
        .await
        .unwrap()
        .0
        .to_string();
    let unwanted = delivery::enqueue(&mut tx, &scope, EventType::EventCompleted, &json!({}))
        .await
        .unwrap()
        .0
        .to_string();
    tx.commit().await.unwrap();
    app.worker().drain().await.unwrap();
    assert_eq!(app.message(&did, &missed).await["status"], "undelivered");

    receiver.answer(Reply::status(200));
    let path = format!("/api/v1/services/{did}/endpoints/{id}/replay");
    assert_eq!(replay(&app, &path, json!({"since": since})).await, 3);
    assert_eq!(
        app.worker().drain().await.unwrap(),
        0,
        "held while disabled"
    );
    let enable = format!("/api/v1/services/{did}/endpoints/{id}/enable");
    expect_json(
        app.post(&enable, ADMIN_TOKEN, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.worker().drain().await.unwrap(), 3);

    for id in after.iter().chain([&missed]) {
        assert_eq!(app.message(&did, id).await["status"], "succeeded", "{id}");
    }
    assert_eq!(app.message(&did, &before).await["status"], "failed");
    assert_eq!(app.message(&did, &unwanted).await["status"], "undelivered");
    assert_eq!(
        replay(&app, &path, json!({"since": since})).await,
        0,
        "nothing failed or missed is left"
    );
    let unknown = format!("/api/v1/services/{did}/endpoints/0123456789abcdef/replay");
    let response = app.post(&unknown, ADMIN_TOKEN, &json!({"since": 0})).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
}
