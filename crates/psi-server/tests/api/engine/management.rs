//! Events and credentials through the management API: the event log and webhook calls, filters,
//! revocation, and tenant isolation.

use reqwest::StatusCode;
use serde_json::json;

use super::support::{Fixture, Holder, log_kinds};
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, expect_error, expect_json};

backend_tests!(
    the_event_log_and_webhook_calls_are_visible_through_the_management_api,
    events_and_credentials_are_listed_with_filters,
    another_service_sees_none_of_the_events_or_credentials,
);

async fn the_event_log_and_webhook_calls_are_visible_through_the_management_api(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.issue_membership("2");
    let holder = Holder::new();
    let outcome = fx.join(&holder, "Ada").await;
    let event = fx.event(outcome["event_id"].as_str().unwrap()).await;
    assert_eq!(event["id"], outcome["event_id"]);
    assert_eq!(event["interaction_id"], fx.join.as_str());
    assert_eq!(event["holder_did"], holder.did.as_str());
    assert_eq!(event["state"], "completed");
    assert_eq!(
        log_kinds(&event),
        [
            "started",
            "credentials_received",
            "verified",
            "webhook_called",
            "issued",
            "completed"
        ]
    );
    let times: Vec<i64> = event["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_i64().unwrap())
        .collect();
    assert!(times.is_sorted(), "{times:?}");
    let issued = &event["log"][4]["detail"];
    assert_eq!(
        issued,
        &json!(format!(
            "issued {} as {}",
            fx.membership,
            outcome["issued"][0]["jti"].as_str().unwrap()
        ))
    );
    let calls = event["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call["kind"], "interaction");
    assert_eq!(call["url"], fx.receiver.url("/hook"));
    assert_eq!(call["status"], 200);
    assert!(call["duration_ms"].as_i64().unwrap() >= 0);
    let excerpt = call["response_excerpt"].as_str().unwrap();
    assert!(excerpt.contains("\"issuedCredentials\""), "{excerpt}");
    assert!(call.get("error").is_none(), "{call}");
    let webhook_called = event["log"][3]["detail"].as_str().unwrap();
    assert!(
        webhook_called.starts_with(&format!(
            "interaction webhook {} answered HTTP 200 in",
            fx.receiver.url("")
        )),
        "{webhook_called}"
    );

    let missing = fx
        .app
        .get(
            &format!("/api/v1/services/{}/events/nope", fx.did),
            &fx.token,
        )
        .await;
    expect_error(missing, StatusCode::NOT_FOUND, "not_found").await;
}

async fn events_and_credentials_are_listed_with_filters(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.issue_membership("1");
    let (ada, bob) = (Holder::new(), Holder::new());
    let joined = fx.join(&ada, "Ada").await;
    let failed = bob
        .run(&fx.app, &fx.did, &fx.join, json!([]), json!([]))
        .await;
    assert_eq!(failed["state"], "failed");
    let (app, token) = (&fx.app, fx.token.as_str());
    let list = |query: String| {
        let path = format!("/api/v1/services/{}/events{query}", fx.did);
        async move {
            let mut page = expect_json(app.get(&path, token).await, StatusCode::OK).await;
            page["data"].take()
        }
    };
    let all = list(String::new()).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["id"], failed["event_id"], "newest first");
    let completed = list("?state=completed".into()).await;
    assert_eq!(completed.as_array().unwrap().len(), 1);
    assert_eq!(completed[0]["id"], joined["event_id"]);
    let of_bob = list(format!("?holder={}&interaction={}", bob.did, fx.join)).await;
    assert_eq!(of_bob[0]["id"], failed["event_id"]);
    assert_eq!(of_bob.as_array().unwrap().len(), 1);
    assert_eq!(list("?limit=1".into()).await.as_array().unwrap().len(), 1);
    for bad in ["?state=done", "?limit=0", "?limit=501", "?colour=red"] {
        let path = format!("/api/v1/services/{}/events{bad}", fx.did);
        expect_error(
            fx.app.get(&path, &fx.token).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }

    let credentials = format!("/api/v1/services/{}/credentials", fx.did);
    let of_ada = expect_json(
        fx.app
            .get(
                &format!(
                    "{credentials}?holder={}&definition={}",
                    ada.did, fx.membership
                ),
                &fx.token,
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let of_ada = &of_ada["data"];
    assert_eq!(of_ada.as_array().unwrap().len(), 1);
    assert_eq!(of_ada[0]["credential_id"], fx.membership.as_str());
    assert_eq!(of_ada[0]["schema_id"], fx.membership_schema.as_str());
    assert_eq!(
        of_ada[0]["attributes"],
        json!([{"name": "Name", "value": "Ada"}, {"name": "Level", "value": "1"}])
    );
    let of_badge = expect_json(
        fx.app
            .get(&format!("{credentials}?definition={}", fx.badge), &fx.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(of_badge["data"], json!([]));
    let unknown = fx
        .app
        .get(
            &format!("{credentials}?definition=GbzPqgnU4XsMs7xg9mYJW8:3:CL:1:x"),
            &fx.token,
        )
        .await;
    expect_error(
        unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let revoke_missing = fx
        .app
        .post(
            &format!("{credentials}/0123456789abcdef0123456789abcdef/revoke"),
            &fx.token,
            &json!({}),
        )
        .await;
    expect_error(revoke_missing, StatusCode::NOT_FOUND, "not_found").await;
}

async fn another_service_sees_none_of_the_events_or_credentials(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.issue_membership("1");
    let outcome = fx.join(&Holder::new(), "Ada").await;
    let event_id = outcome["event_id"].as_str().unwrap();
    let jti = outcome["issued"][0]["jti"].as_str().unwrap();
    let other = fx.app.create_service("Rival").await;
    let (_, other_token) = fx.app.create_token(&other).await;

    // The other service's own lists are empty.
    for path in [
        format!("/api/v1/services/{other}/events"),
        format!("/api/v1/services/{other}/credentials"),
    ] {
        let listed = expect_json(fx.app.get(&path, &other_token).await, StatusCode::OK).await;
        assert_eq!(listed, json!({"data": [], "next_cursor": null}), "{path}");
    }
    // Its token reaches nothing of the first service, which answers as if absent.
    for path in [
        format!("/api/v1/services/{}/events", fx.did),
        format!("/api/v1/services/{}/events/{event_id}", fx.did),
        format!("/api/v1/services/{}/credentials", fx.did),
    ] {
        let response = fx.app.get(&path, &other_token).await;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Nor through its own paths.
    let response = fx
        .app
        .get(
            &format!("/api/v1/services/{other}/events/{event_id}"),
            &other_token,
        )
        .await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = fx
        .app
        .post(
            &format!("/api/v1/services/{other}/credentials/{jti}/revoke"),
            &other_token,
            &json!({}),
        )
        .await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let still = expect_json(
        fx.app
            .get(
                &format!("/api/v1/services/{}/credentials", fx.did),
                ADMIN_TOKEN,
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(still["data"][0]["revoked_at"].is_null(), "{still}");
}
