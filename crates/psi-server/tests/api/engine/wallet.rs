//! The wallet API itself: what it reads, how signed calls are checked, and which interactions can
//! be started.

use psi_testkit::now_ms;
use reqwest::StatusCode;
use serde_json::json;

use super::support::{Fixture, Holder, get_public};
use crate::backend_tests;
use crate::helpers::{Backend, expect_error, expect_json};

backend_tests!(
    the_wallet_reads_what_it_needs_to_run_an_interaction,
    unsigned_calls_answer_401_and_badly_signed_ones_403,
    a_paused_interaction_cannot_be_started,
    an_unknown_service_interaction_or_instance_answers_404,
    a_callback_is_handed_back_after_success_only_and_dangerous_ones_are_refused,
);

async fn the_wallet_reads_what_it_needs_to_run_an_interaction(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let path = format!("/wallet/v1/services/{}/interactions/{}", fx.did, fx.join);
    let read = expect_json(get_public(&fx.app, &path).await, StatusCode::OK).await;
    assert_eq!(read["service"]["did"], fx.did.as_str());
    assert_eq!(read["service"]["name"], "Club");
    assert!(read["service"]["verkey"].is_string());
    assert_eq!(read["interaction"]["actionId"], fx.join.as_str());
    assert_eq!(read["interaction"]["name"], "Join");
    assert_eq!(read["interaction"]["active"], true);
    assert_eq!(
        read["instance"]["parameters"],
        json!([{"name": "club", "value": "chess"}])
    );
    assert_eq!(
        read["required"],
        json!([{
            "credentialId": fx.applicant,
            "schemaId": format!("{}:2:Applicant:1.0", fx.did),
            "attestation": "self",
            "prefillFromQr": true,
            "onlyLast": false,
            "externalVerification": false,
            "attributes": [{"name": "Name", "type": "text"}, {"name": "Born", "type": "date"}],
            // Self-attested: no interaction issues it.
            "issuedBy": [],
        }])
    );
    assert_eq!(read["issued"][0]["credentialId"], fx.membership.as_str());
    assert_eq!(read["issued"][1]["credentialId"], fx.badge.as_str());
    let instance = read["instance"]["id"].as_str().unwrap();
    let same = expect_json(
        get_public(&fx.app, &format!("{path}?instance={instance}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(same, read);
}

async fn unsigned_calls_answer_401_and_badly_signed_ones_403(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.issue_membership("1");
    let path = format!("/wallet/v1/services/{}/events", fx.did);
    let holder = Holder::new();
    let body =
        holder.complete(json!({"actionId": fx.join, "presented": fx.applicant_presented("Ada")}));

    let unsigned = fx
        .app
        .client
        .post(fx.app.url(&path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let message = expect_error(unsigned, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(message.contains("X-Holder-Signature"), "{message}");

    // Signed by the holder, but the bytes sent are not the ones signed.
    let signed = serde_json::to_vec(&body).unwrap();
    let mut other = body.clone();
    other["nonce"] = json!("another-nonce-value");
    let other = serde_json::to_vec(&other).unwrap();
    let forged = fx
        .app
        .client
        .post(fx.app.url(&path))
        .header("content-type", "application/json")
        .header("x-holder-verkey", &holder.verkey)
        .header("x-holder-signature", holder.signature(&signed))
        .body(other)
        .send()
        .await
        .unwrap();
    let message = expect_error(forged, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(
        message,
        "the holder signature does not verify over the body"
    );

    // Validly signed by another key than the DID's.
    let impostor = Holder::new();
    let response = impostor.post_raw(&fx.app, &path, signed.clone()).await;
    let message = expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(
        message.starts_with("`holderDid` is not the DID of the signing key"),
        "{message}"
    );

    // A stale timestamp.
    let stale = json!({"actionId": fx.join, "timestamp": now_ms() - 6 * 60 * 1000});
    let response = holder.post(&fx.app, &path, stale).await;
    let message = expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(
        message.starts_with("`timestamp` is 360 s away"),
        "{message}"
    );

    // The genuine call works once; its replay is refused.
    let first = holder.post_raw(&fx.app, &path, signed.clone()).await;
    assert_eq!(
        expect_json(first, StatusCode::OK).await["state"],
        "completed"
    );
    let replay = holder.post_raw(&fx.app, &path, signed).await;
    let message = expect_error(replay, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(message.contains("nonce was used before"), "{message}");
    assert_eq!(
        fx.receiver.calls_to("/hook").len(),
        1,
        "the replay never reached the webhook"
    );

    // The inbox is signed too.
    let inbox = format!("/wallet/v1/services/{}/inbox", fx.did);
    let unsigned = fx
        .app
        .client
        .post(fx.app.url(&inbox))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
}

async fn a_paused_interaction_cannot_be_started(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.patch_interaction(&fx.join, json!({"active": false}))
        .await;
    let read = fx
        .app
        .client
        .get(fx.app.url(&format!(
            "/wallet/v1/services/{}/interactions/{}",
            fx.did, fx.join
        )))
        .send()
        .await
        .unwrap();
    let message = expect_error(read, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(
        message,
        "interaction \"Join\" is paused: it cannot be started"
    );
    let body = json!({"actionId": fx.join, "presented": fx.applicant_presented("Ada")});
    let response = Holder::new()
        .post(
            &fx.app,
            &format!("/wallet/v1/services/{}/events", fx.did),
            body,
        )
        .await;
    expect_error(response, StatusCode::CONFLICT, "conflict").await;
    let events = expect_json(
        fx.app
            .get(&format!("/api/v1/services/{}/events", fx.did), &fx.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(events["data"], json!([]), "no event was recorded");
}

async fn an_unknown_service_interaction_or_instance_answers_404(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let holder = Holder::new();
    let cases = [
        (
            "GbzPqgnU4XsMs7xg9mYJW8".to_owned(),
            fx.join.clone(),
            None,
            "service not found",
        ),
        (
            fx.did.clone(),
            "no-such-interaction".to_owned(),
            None,
            "interaction not found",
        ),
        (
            fx.did.clone(),
            fx.join.clone(),
            Some("no-such-instance"),
            "instance not found",
        ),
    ];
    for (did, action, instance, expected) in cases {
        let mut path = format!("/wallet/v1/services/{did}/interactions/{action}");
        if let Some(instance) = instance {
            path.push_str(&format!("?instance={instance}"));
        }
        let read = get_public(&fx.app, &path).await;
        assert_eq!(
            expect_error(read, StatusCode::NOT_FOUND, "not_found").await,
            expected
        );
        let body = json!({"actionId": action, "instanceId": instance});
        let started = holder
            .post(&fx.app, &format!("/wallet/v1/services/{did}/events"), body)
            .await;
        assert_eq!(
            expect_error(started, StatusCode::NOT_FOUND, "not_found").await,
            expected
        );
    }
    let status = fx
        .app
        .client
        .get(
            fx.app
                .url("/wallet/v1/credentials/0123456789abcdef0123456789abcdef/status"),
        )
        .send()
        .await
        .unwrap();
    expect_error(status, StatusCode::NOT_FOUND, "not_found").await;
}

async fn a_callback_is_handed_back_after_success_only_and_dangerous_ones_are_refused(
    backend: Backend,
) {
    let fx = Fixture::new(backend).await;
    fx.issue_membership("1");
    let path = format!("/wallet/v1/services/{}/events", fx.did);
    let holder = Holder::new();
    let run = |callback: &str, name: &str| json!({"actionId": fx.join, "presented": fx.applicant_presented(name), "callback": callback});
    let ok = expect_json(
        holder
            .post(&fx.app, &path, run("https://club.example/welcome", "Ada"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ok["callback"], "https://club.example/welcome");
    let failed =
        json!({"actionId": fx.join, "presented": [], "callback": "https://club.example/welcome"});
    let failed = expect_json(holder.post(&fx.app, &path, failed).await, StatusCode::OK).await;
    assert_eq!(failed["state"], "failed");
    assert!(failed.get("callback").is_none());
    let refused = holder
        .post(&fx.app, &path, run("javascript:alert(1)", "Ada"))
        .await;
    let message = expect_error(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.starts_with("`callback`:"), "{message}");
}
