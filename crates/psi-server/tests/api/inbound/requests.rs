//! Malformed calls are refused with the right status and change nothing; repeated calls act once
//! and get the same answer.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::support::{Auth, DASHBOARD, Scene, expect_refusal};
use crate::backend_tests;
use crate::engine::support::Holder;
use crate::helpers::{Backend, expect_json};

backend_tests!(
    a_service_did_other_than_the_paths_is_a_bad_request,
    malformed_json_and_oversized_bodies_are_refused_and_the_server_keeps_serving,
    the_same_body_twice_answers_the_same_and_issues_once,
    the_same_idempotency_key_twice_answers_the_same_and_issues_once,
    an_idempotency_key_reused_for_another_body_is_refused,
    two_identical_calls_racing_issue_once,
);

async fn a_service_did_other_than_the_paths_is_a_bad_request(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let mut body = scene.push_body(&holder, json!([scene.badge("B")]), json!([]));
    body["serviceDid"] = json!("9s57yZDBqwfZHdodKXTjKH");
    let message = scene
        .issue_refused(&body, StatusCode::BAD_REQUEST, "bad_request")
        .await;
    assert!(message.contains("serviceDid"), "{message}");
    // An unknown service in the path: 404.
    let raw = serde_json::to_vec(&body).unwrap();
    let response = scene
        .fx
        .app
        .client
        .post(scene.fx.app.url(
            "/service-dashboard-backend/service/9s57yZDBqwfZHdodKXTjKH/webhook-accept/credentials-issued",
        ))
        .body(raw)
        .send()
        .await
        .unwrap();
    expect_refusal(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(scene.rows("events").await, 0);
}

async fn malformed_json_and_oversized_bodies_are_refused_and_the_server_keeps_serving(
    backend: Backend,
) {
    let scene = Scene::new(backend).await;
    let signed = scene.signed();
    let malformed = scene
        .call_raw(
            DASHBOARD,
            "credentials-issued",
            b"{\"serviceDid\": ".to_vec(),
            &signed,
            &[],
        )
        .await;
    let message = expect_refusal(malformed, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.contains("JSON"), "{message}");
    let wrong_shape = scene
        .call_raw(
            DASHBOARD,
            "credentials-issued",
            b"{\"credentials\": 5}".to_vec(),
            &signed,
            &[],
        )
        .await;
    expect_refusal(
        wrong_shape,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let mut huge = br#"{"serviceDid":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 300 * 1024));
    huge.extend(br#""}"#);
    let oversized = scene
        .call_raw(DASHBOARD, "credentials-issued", huge, &signed, &[])
        .await;
    expect_refusal(
        oversized,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    for table in ["events", "credentials", "inbound_requests"] {
        assert_eq!(scene.rows(table).await, 0, "{table}");
    }
    // Still serving.
    let holder = Holder::new();
    let body = scene.push_body(&holder, json!([scene.badge("B")]), json!([]));
    scene.issue(&body).await;
}

async fn the_same_body_twice_answers_the_same_and_issues_once(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let event_id = scene.waiting_event(&holder).await;
    let body = scene.issued_body(&event_id, &holder, json!([scene.membership("4")]));
    // A sender retrying: the same bytes, a fresh token each time.
    let first = answer(
        scene
            .call("credentials-issued", &body, &scene.rs256())
            .await,
    )
    .await;
    let second = answer(
        scene
            .call("credentials-issued", &body, &scene.signed())
            .await,
    )
    .await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.2);
    assert_eq!(second.0, StatusCode::OK, "{}", second.2);
    assert_eq!(first.2, second.2);
    assert!(first.1.get("idempotent-replayed").is_none());
    assert_eq!(second.1["idempotent-replayed"], "true");
    assert_eq!(scene.credentials_of(&holder).await.len(), 1);

    // The same for a push, which would otherwise issue again.
    let push = scene.push_body(&holder, json!([scene.badge("B")]), json!([]));
    let a = answer(
        scene
            .call("credentials-issued", &push, &scene.hs256())
            .await,
    )
    .await;
    let b = answer(
        scene
            .call("credentials-issued", &push, &scene.hs256())
            .await,
    )
    .await;
    assert_eq!(a.2, b.2);
    assert_eq!(scene.credentials_of(&holder).await.len(), 2);
}

async fn the_same_idempotency_key_twice_answers_the_same_and_issues_once(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    // The sender rebuilds the body (a new `issuedAt`) but keeps its key.
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let mut body = scene.push_body(&holder, json!([scene.badge("B")]), json!([]));
        body["issuedAt"] = json!(bodies.len());
        bodies.push(body);
    }
    let mut texts = Vec::new();
    for body in &bodies {
        let raw = serde_json::to_vec(body).unwrap();
        let response = scene
            .call_raw(
                DASHBOARD,
                "credentials-issued",
                raw,
                &scene.signed(),
                &[("idempotency-key", "reward-42")],
            )
            .await;
        texts.push(answer(response).await.2);
    }
    // Different bodies under one key: the second is refused, not replayed.
    assert!(texts[1].contains("validation_failed"), "{texts:?}");
    assert_eq!(scene.credentials_of(&holder).await.len(), 1);
    let raw = serde_json::to_vec(&bodies[0]).unwrap();
    let again = scene
        .call_raw(
            DASHBOARD,
            "credentials-issued",
            raw,
            &scene.hs256(),
            &[("idempotency-key", "reward-42")],
        )
        .await;
    assert_eq!(answer(again).await.2, texts[0]);
    assert_eq!(scene.credentials_of(&holder).await.len(), 1);
}

async fn an_idempotency_key_reused_for_another_body_is_refused(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let (scene, holder) = (&scene, &holder);
    let send = |title: &str, key: &'static str| {
        let body = scene.push_body(holder, json!([scene.badge(title)]), json!([]));
        let raw = serde_json::to_vec(&body).unwrap();
        let auth: Auth = scene.signed();
        async move {
            scene
                .call_raw(
                    DASHBOARD,
                    "credentials-issued",
                    raw,
                    &auth,
                    &[("idempotency-key", key)],
                )
                .await
        }
    };
    expect_json(send("One", "k-1").await, StatusCode::OK).await;
    let message = expect_refusal(
        send("Two", "k-1").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("Idempotency-Key"), "{message}");
    expect_json(send("Two", "k-2").await, StatusCode::OK).await;
    assert_eq!(scene.credentials_of(holder).await.len(), 2);
}

async fn two_identical_calls_racing_issue_once(backend: Backend) {
    let scene = Scene::new(backend).await;
    for _ in 0..3 {
        let holder = Holder::new();
        let event_id = scene.waiting_event(&holder).await;
        let body = scene.issued_body(&event_id, &holder, json!([scene.membership("5")]));
        let (signed, hs256) = (scene.signed(), scene.hs256());
        let (a, b) = tokio::join!(
            scene.call("credentials-issued", &body, &signed),
            scene.call("credentials-issued", &body, &hs256),
        );
        let (a, b) = (answer(a).await, answer(b).await);
        assert_eq!(a.0, StatusCode::OK, "{}", a.2);
        assert_eq!(b.0, StatusCode::OK, "{}", b.2);
        assert_eq!(a.2, b.2);
        assert_eq!(scene.credentials_of(&holder).await.len(), 1);

        let push = scene.push_body(&holder, json!([scene.badge("Race")]), json!([]));
        let (rs256, hs256) = (scene.rs256(), scene.hs256());
        let (a, b) = tokio::join!(
            scene.call("credentials-issued", &push, &rs256),
            scene.call("credentials-issued", &push, &hs256),
        );
        let (a, b) = (answer(a).await, answer(b).await);
        assert_eq!(a.2, b.2, "{} / {}", a.0, b.0);
        assert_eq!(scene.credentials_of(&holder).await.len(), 2);
    }
}

/// The status, headers and body text of a response (the body checked to be JSON).
async fn answer(response: reqwest::Response) -> (StatusCode, HeaderMap, String) {
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.unwrap();
    let _: Value = serde_json::from_str(&text).unwrap();
    (status, headers, text)
}
