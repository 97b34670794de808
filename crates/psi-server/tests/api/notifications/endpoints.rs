//! Endpoints: registration and its checks, signatures, key rotation, tenant isolation.

use figment::providers::Serialized;
use psi_testkit::{Receiver, now_ms};
use psi_webhook::{PublicKey, SharedSecret, UnixTime, Validation, Verifier};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::spawn_delivering;
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_error, expect_json};

backend_tests!(
    a_test_message_arrives_signed_with_the_services_key_and_is_logged_as_one_attempt,
    bearer_endpoints_get_hs256_tokens_whose_jti_is_the_attempt_id,
    during_a_rotation_overlap_deliveries_carry_both_signatures_each_from_its_key,
    endpoint_settings_are_checked_and_errors_name_the_field,
    endpoints_are_updated_disabled_enabled_and_deleted_and_their_messages_stay,
    a_service_sees_and_changes_only_its_own_endpoints_and_messages,
    a_refused_address_is_a_failed_attempt_and_the_worker_goes_on,
);

/// A server whose workers are stepped by the test.
async fn by_hand(backend: Backend) -> (TestApp, String, Receiver) {
    let app = spawn_delivering(backend, &[("workers", json!(0))]).await;
    let did = app.create_service("Notified").await;
    (app, did, Receiver::start().await)
}

async fn public_key(app: &TestApp, did: &str, name: &str) -> PublicKey {
    let path = format!("/api/v1/services/{did}/keys/{name}");
    let key = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    PublicKey::from_pem(key["public_pem"].as_str().expect("public_pem")).unwrap()
}

async fn create_key(app: &TestApp, did: &str, name: &str, kind: &str) -> Value {
    let path = format!("/api/v1/services/{did}/keys");
    let body = json!({ "name": name, "type": kind });
    expect_json(
        app.post(&path, ADMIN_TOKEN, &body).await,
        StatusCode::CREATED,
    )
    .await
}

async fn a_test_message_arrives_signed_with_the_services_key_and_is_logged_as_one_attempt(
    backend: Backend,
) {
    let (app, did, receiver) = by_hand(backend).await;
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    assert_eq!(endpoint["enabled"], true);
    assert_eq!(endpoint["event_types"], json!([]));
    let id = endpoint["id"].as_str().unwrap();

    let message_id = app.send_test(&did, id).await;
    assert_eq!(app.worker().drain().await.unwrap(), 1);

    let calls = receiver.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    let body = call.json();
    assert_eq!(body["type"], "test");
    assert_eq!(body["messageId"], message_id.as_str());
    assert_eq!(body["publicServiceDid"], did.as_str());
    assert_eq!(body["endpointId"], id);
    assert_eq!(call.header("x-psi-message-id"), Some(message_id.as_str()));
    assert_eq!(call.header("x-psi-event-type"), Some("test"));
    assert_eq!(call.header("content-type"), Some("application/json"));
    let key = public_key(&app, &did, "default").await;
    Verifier::rsa(key)
        .verify_signature(&call.body, call.header("x-body-signature"))
        .expect("the signature verifies with the service's default key");

    let message = app.message(&did, &message_id).await;
    assert_eq!(message["status"], "succeeded");
    assert_eq!(message["event_type"], "test");
    assert_eq!(message["payload"], body);
    assert_eq!(message["deliveries"][0]["endpoint_id"], id);
    assert_eq!(message["deliveries"][0]["attempts"], 1);
    let attempts = message["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status"], 200);
    assert_eq!(attempts[0]["response_excerpt"], "answered 200");
    assert!(attempts[0]["error"].is_null());
    assert!(attempts[0]["at"].as_i64().unwrap() <= call.at);
    assert_eq!(
        app.worker().drain().await.unwrap(),
        0,
        "nothing is sent twice"
    );
}

async fn bearer_endpoints_get_hs256_tokens_whose_jti_is_the_attempt_id(backend: Backend) {
    let (app, did, receiver) = by_hand(backend).await;
    let key = create_key(&app, &did, "shared", "sha_secret").await;
    let secret = SharedSecret::from_base64(key["secret"].as_str().unwrap()).unwrap();
    let endpoint = app
        .create_endpoint(
            &did,
            &receiver.url("/hook"),
            json!({"key": "shared", "auth": "bearer"}),
        )
        .await;
    let message_id = app.send_test(&did, endpoint["id"].as_str().unwrap()).await;
    app.worker().drain().await.unwrap();

    let call = &receiver.calls()[0];
    assert!(call.header("x-body-signature").is_none());
    let claims = Verifier::shared_secret(secret)
        .verify_authorization(
            call.header("authorization"),
            &call.body,
            &Validation::new().expect_issuer(&did),
            UnixTime::now(),
        )
        .expect("the token verifies with the shared secret");
    let message = app.message(&did, &message_id).await;
    assert_eq!(claims.jti.as_deref(), message["attempts"][0]["id"].as_str());
}

async fn during_a_rotation_overlap_deliveries_carry_both_signatures_each_from_its_key(
    backend: Backend,
) {
    let (app, did, receiver) = by_hand(backend).await;
    create_key(&app, &did, "next", "rsa_key_pair").await;
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    let id = endpoint["id"].as_str().unwrap();
    let rotate = format!("/api/v1/services/{did}/endpoints/{id}/rotate");

    let before = now_ms();
    let rotated = expect_json(
        app.post(
            &rotate,
            ADMIN_TOKEN,
            &json!({"key": "next", "overlap_secs": 3600}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rotated["key"], "next");
    assert_eq!(rotated["previous_key"]["key"], "default");
    let until = rotated["previous_key"]["until"].as_i64().unwrap();
    assert!((before + 3_600_000..=now_ms() + 3_600_000).contains(&until));

    app.send_test(&did, id).await;
    app.worker().drain().await.unwrap();
    let call = &receiver.calls()[0];
    let new = Verifier::rsa(public_key(&app, &did, "next").await);
    let old = Verifier::rsa(public_key(&app, &did, "default").await);
    let current = call.header("x-body-signature");
    let previous = call.header("x-body-signature-previous");
    assert!(new.verify_signature(&call.body, current).is_ok());
    assert!(old.verify_signature(&call.body, previous).is_ok());
    assert!(old.verify_signature(&call.body, current).is_err());

    // Rotating back without an overlap: one signature, by the key now in use.
    let rotated = expect_json(
        app.post(
            &rotate,
            ADMIN_TOKEN,
            &json!({"key": "default", "overlap_secs": 0}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(rotated.get("previous_key").is_none(), "{rotated}");
    app.send_test(&did, id).await;
    app.worker().drain().await.unwrap();
    let call = &receiver.calls()[1];
    assert!(call.header("x-body-signature-previous").is_none());
    assert!(
        old.verify_signature(&call.body, call.header("x-body-signature"))
            .is_ok()
    );

    // The key in use cannot be "rotated" to, and the overlap is bounded.
    let same = app
        .post(&rotate, ADMIN_TOKEN, &json!({"key": "default"}))
        .await;
    let message = expect_error(same, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(message.contains("already signs"), "{message}");
    let long = app
        .post(
            &rotate,
            ADMIN_TOKEN,
            &json!({"key": "next", "overlap_secs": 99_999_999}),
        )
        .await;
    expect_error(long, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

async fn endpoint_settings_are_checked_and_errors_name_the_field(backend: Backend) {
    let (app, did, receiver) = by_hand(backend).await;
    create_key(&app, &did, "shared", "sha_secret").await;
    let path = format!("/api/v1/services/{did}/endpoints");
    let base = json!({"url": receiver.url("/hook"), "key": "default", "auth": "signature"});
    let with = |name: &str, value: Value| {
        let mut body = base.clone();
        body[name] = value;
        body
    };
    let cases = [
        (
            with("url", json!("ftp://example.org/")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "url",
        ),
        (
            with("url", json!("https://user:pw@example.org/")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "url",
        ),
        (
            with("timeout_ms", json!(5)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "timeout_ms",
        ),
        (
            with("event_types", json!(["test"])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "event_types",
        ),
        (
            with("event_types", json!(["credential.deleted"])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "credential.deleted",
        ),
        (
            with("description", json!("a\u{7}bell")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "description",
        ),
        (
            with("key", json!("missing")),
            StatusCode::BAD_REQUEST,
            "missing",
        ),
        (
            with("key", json!("shared")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "SHA secret",
        ),
        (
            with("colour", json!("red")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour",
        ),
    ];
    for (body, status, named) in cases {
        let response = app.post(&path, ADMIN_TOKEN, &body).await;
        let code = if status == StatusCode::BAD_REQUEST {
            "bad_request"
        } else {
            "validation_failed"
        };
        let message = expect_error(response, status, code).await;
        assert!(message.contains(named), "{body}: {message}");
    }
    let listed = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]), "nothing was stored");

    // Listing filters are checked too.
    for query in [
        "limit=0",
        "status=lost",
        "event_type=nope",
        "cursor=abc",
        "since=yesterday",
    ] {
        let response = app
            .get(
                &format!("/api/v1/services/{did}/messages?{query}"),
                ADMIN_TOKEN,
            )
            .await;
        expect_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

async fn endpoints_are_updated_disabled_enabled_and_deleted_and_their_messages_stay(
    backend: Backend,
) {
    let (app, did, receiver) = by_hand(backend).await;
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    let id = endpoint["id"].as_str().unwrap();
    let path = format!("/api/v1/services/{did}/endpoints/{id}");

    let changed = expect_json(
        app.patch(
            &path,
            ADMIN_TOKEN,
            &json!({"event_types": ["event.failed", "event.failed", "credential.revoked"],
                    "description": "  CRM  ", "timeout_ms": 2000}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        changed["event_types"],
        json!(["event.failed", "credential.revoked"])
    );
    assert_eq!(changed["description"], "CRM");
    assert_eq!(changed["timeout_ms"], 2000);
    assert_eq!(changed["url"], receiver.url("/hook"));

    let disabled = expect_json(
        app.post(&format!("{path}/disable"), ADMIN_TOKEN, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["disabled_reason"], "manual");
    let test = app
        .post(&format!("{path}/test"), ADMIN_TOKEN, &json!({}))
        .await;
    expect_error(test, StatusCode::CONFLICT, "conflict").await;
    let enabled = expect_json(
        app.post(&format!("{path}/enable"), ADMIN_TOKEN, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(enabled["enabled"], true);
    assert!(enabled.get("disabled_reason").is_none());

    let message_id = app.send_test(&did, id).await;
    app.worker().drain().await.unwrap();
    assert_eq!(
        app.delete(&path, ADMIN_TOKEN).await.status(),
        StatusCode::NO_CONTENT
    );
    expect_error(
        app.get(&path, ADMIN_TOKEN).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let message = app.message(&did, &message_id).await;
    assert_eq!(message["deliveries"], json!([]));
    assert_eq!(message["status"], "undelivered");
    assert_eq!(message["attempts"], json!([]));
}

async fn a_service_sees_and_changes_only_its_own_endpoints_and_messages(backend: Backend) {
    let (app, did_a, receiver_a) = by_hand(backend).await;
    let did_b = app.create_service("Other").await;
    let receiver_b = Receiver::start().await;
    let (_, token_b) = app.create_token(&did_b).await;
    let endpoint_a = app
        .create_endpoint(&did_a, &receiver_a.url("/hook"), json!({}))
        .await;
    let endpoint_b = app
        .create_endpoint(&did_b, &receiver_b.url("/hook"), json!({}))
        .await;
    let (a, b) = (
        endpoint_a["id"].as_str().unwrap(),
        endpoint_b["id"].as_str().unwrap(),
    );
    let message_a = app.send_test(&did_a, a).await;

    for path in [
        format!("/api/v1/services/{did_a}/endpoints"),
        format!("/api/v1/services/{did_a}/endpoints/{a}"),
        format!("/api/v1/services/{did_a}/messages"),
        format!("/api/v1/services/{did_a}/messages/{message_a}"),
        format!("/api/v1/services/{did_a}/attempts"),
    ] {
        let response = app.get(&path, &token_b).await;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    for path in [
        format!("/api/v1/services/{did_a}/endpoints/{a}/test"),
        format!("/api/v1/services/{did_a}/endpoints/{a}/disable"),
        format!("/api/v1/services/{did_a}/messages/{message_a}/replay"),
        // B's own path, A's objects.
        format!("/api/v1/services/{did_b}/endpoints/{a}/test"),
        format!("/api/v1/services/{did_b}/endpoints/{a}/disable"),
        format!("/api/v1/services/{did_b}/messages/{message_a}/replay"),
        format!("/api/v1/services/{did_b}/messages/{message_a}/replay?endpoint={b}"),
        format!("/api/v1/services/{did_a}/messages/{message_a}/replay?endpoint={b}"),
    ] {
        let response = app.post(&path, &token_b, &json!({})).await;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Even the admin cannot reach one service's endpoint through another's path.
    let response = app
        .get(
            &format!("/api/v1/services/{did_b}/endpoints/{a}"),
            ADMIN_TOKEN,
        )
        .await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;

    let own = expect_json(
        app.get(&format!("/api/v1/services/{did_b}/messages"), &token_b)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(own["data"], json!([]), "B sees none of A's messages");
    app.worker().drain().await.unwrap();
    assert_eq!(receiver_a.calls().len(), 1);
    assert!(receiver_b.calls().is_empty(), "A's message never reaches B");
}

async fn a_refused_address_is_a_failed_attempt_and_the_worker_goes_on(backend: Backend) {
    // Saved while loopback, where the receiver listens, was allowed; delivered under the default
    // outbound policy, which refuses it.
    let app = spawn_delivering(backend, &[("workers", json!(0))]).await;
    let did = app.create_service("Refused").await;
    let receiver = Receiver::start().await;
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    let app = app
        .restart_with(|db| {
            db.figment()
                .merge(Serialized::default("delivery.workers", 0))
        })
        .await;
    let message_id = app.send_test(&did, endpoint["id"].as_str().unwrap()).await;
    assert_eq!(app.worker().drain().await.unwrap(), 1);
    let message = app.message(&did, &message_id).await;
    let attempt = &message["attempts"][0];
    assert!(attempt["status"].is_null());
    let error = attempt["error"].as_str().unwrap();
    assert!(
        error.contains("refused") && error.contains("loopback"),
        "{error}"
    );
    assert_eq!(
        message["deliveries"][0]["status"], "pending",
        "retried later"
    );
    assert!(receiver.calls().is_empty());
}
