//! The interaction webhook (docs/protocol.md §4.1): the request psi sends and the four kinds of reply,
//! and the ways a call can fail.

use std::time::Duration;

use psi_testkit::{Reply, now_ms};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{Fixture, Holder, get_public, log_kinds};
use crate::backend_tests;
use crate::helpers::{Backend, TestDb, expect_json};

backend_tests!(
    an_issue_reply_issues_a_signed_credential_to_the_holder,
    the_webhook_request_has_the_documented_shape_and_signature,
    an_empty_issued_list_leaves_the_event_waiting,
    an_empty_credential_is_a_denial_that_completes_with_nothing_issued,
    a_failure_reply_fails_the_event_with_its_message_and_log_data,
    a_webhook_that_does_not_answer_in_time_fails_the_event,
    a_non_2xx_answer_fails_the_event,
    an_answer_that_is_not_json_fails_the_event,
    issued_credentials_that_do_not_fit_their_definition_fail_the_event_with_nothing_issued,
    an_interaction_without_webhook_waits_for_a_later_issue,
    a_webhook_on_an_address_the_outbound_policy_refuses_is_not_called,
    a_one_off_credential_is_issued_once_per_holder_until_it_is_revoked,
);

async fn an_issue_reply_issues_a_signed_credential_to_the_holder(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.issue_membership("3");
    let holder = Holder::new();
    let outcome = fx.join(&holder, "Ada Lovelace").await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    assert!(outcome.get("message").is_none(), "{outcome}");
    let issued = &outcome["issued"][0];
    assert_eq!(issued["credentialId"], fx.membership.as_str());
    assert_eq!(issued["schemaId"], fx.membership_schema.as_str());
    assert_eq!(
        issued["attributes"],
        json!([{"name": "Name", "value": "Ada Lovelace"}, {"name": "Level", "value": "3"}])
    );

    // The JWT verifies with the verkey the wallet API publishes, and says what was issued.
    let key = expect_json(
        get_public(&fx.app, &format!("/wallet/v1/services/{}/verkey", fx.did)).await,
        StatusCode::OK,
    )
    .await;
    let verkey: [u8; 32] = bs58::decode(key["verkey"].as_str().unwrap())
        .into_vec()
        .unwrap()
        .try_into()
        .unwrap();
    let verkey = ed25519_dalek::VerifyingKey::from_bytes(&verkey).unwrap();
    let content =
        psi_server::credentials::vc::verify(issued["jwt"].as_str().unwrap(), &verkey).unwrap();
    assert_eq!(content.issuer, fx.did);
    assert_eq!(content.subject, holder.did);
    assert_eq!(content.jti, issued["jti"].as_str().unwrap());
    assert_eq!(content.credential_id.as_str(), fx.membership);

    // The service sees it, delivered.
    let listed = fx.credentials().await;
    assert_eq!(listed[0]["jti"], issued["jti"]);
    assert_eq!(listed[0]["holder_did"], holder.did.as_str());
    assert_eq!(listed[0]["event_id"], outcome["event_id"]);
    assert!(listed[0]["collected_at"].is_i64(), "{listed}");
    assert!(listed[0]["revoked_at"].is_null());
    fx.receiver.assert_none_refused();
}

async fn the_webhook_request_has_the_documented_shape_and_signature(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.issue_membership("1");
    let holder = Holder::new();
    let link_prefill =
        json!([{"credentialId": fx.applicant, "attributes": [{"name": "Name", "value": "Ada"}]}]);
    let outcome = holder
        .run(
            &fx.app,
            &fx.did,
            &fx.join,
            link_prefill,
            fx.applicant_presented("Ada"),
        )
        .await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let seen = fx.receiver.calls_to("/hook");
    assert_eq!(seen.len(), 1);
    let call = &seen[0];
    assert_eq!(call.headers["content-type"], "application/json");
    assert!(call.headers.contains_key("x-body-signature"));
    assert!(!call.headers.contains_key("authorization"));
    let body = call.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        [
            "publicServiceDid",
            "subscriberConnectDid",
            "actionId",
            "actionInstanceId",
            "actionEventId",
            "actionParams",
            "receivedCredentials",
            "containerPrefix"
        ]
        .into_iter()
        .collect()
    );
    // Members in the documented order, on the wire.
    let text = std::str::from_utf8(&call.body).unwrap();
    let positions: Vec<usize> = [
        "publicServiceDid",
        "subscriberConnectDid",
        "actionId\"",
        "actionInstanceId",
        "actionEventId",
        "actionParams",
        "receivedCredentials",
        "containerPrefix",
    ]
    .iter()
    .map(|key| text.find(key).unwrap())
    .collect();
    assert!(positions.is_sorted(), "{text}");
    assert_eq!(body["publicServiceDid"], fx.did.as_str());
    assert_eq!(
        body["containerPrefix"],
        format!("{}/service-dashboard-backend", fx.app.address),
        "psi's base for the receiver's calls back"
    );
    assert_eq!(body["subscriberConnectDid"], holder.did.as_str());
    assert_eq!(body["actionId"], fx.join.as_str());
    assert_eq!(body["actionEventId"], outcome["event_id"]);
    assert_eq!(
        body["actionParams"],
        json!([{"name": "club", "value": "chess"}])
    );
    let received = &body["receivedCredentials"][0];
    assert_eq!(received["credentialId"], fx.applicant.as_str());
    assert_eq!(received["schemaId"], format!("{}:2:Applicant:1.0", fx.did));
    assert_eq!(
        received["fields"],
        json!([{"name": "Name", "value": "Ada"}, {"name": "Born", "value": "631152000"}])
    );
    let issued_at = received["utcIssuedAt"].as_i64().unwrap();
    assert!(
        (now_ms() - issued_at).abs() < 60_000,
        "milliseconds: {issued_at}"
    );
    assert_eq!(received["revoked"], false);
    let instance = expect_json(
        fx.app
            .get(
                &format!("/api/v1/services/{}/interactions/{}", fx.did, fx.join),
                &fx.token,
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["actionInstanceId"], instance["instances"][0]["id"]);
    fx.receiver.assert_none_refused();
}

async fn an_empty_issued_list_leaves_the_event_waiting(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.receiver.on_json("/hook", |request| {
        Reply::json(json!({"actionEventId": request["actionEventId"], "issuedCredentials": [], "revokedCredentials": []}))
    });
    let outcome = fx.join(&Holder::new(), "Ada").await;
    assert_eq!(outcome["state"], "waiting", "{outcome}");
    assert_eq!(outcome["issued"], json!([]));
    assert_eq!(
        outcome["message"],
        "the service will issue your credentials later"
    );
    let event = fx.event(outcome["event_id"].as_str().unwrap()).await;
    assert_eq!(event["state"], "waiting");
    assert_eq!(log_kinds(&event).last().unwrap(), "waiting");
}

async fn an_empty_credential_is_a_denial_that_completes_with_nothing_issued(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let membership = fx.membership.clone();
    fx.receiver.on_json("/hook", move |_| {
        Reply::json(
            json!({"issuedCredentials": [{"credentialId": membership, "fields": []}], "ok": true}),
        )
    });
    let outcome = fx.join(&Holder::new(), "Ada").await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    assert_eq!(outcome["issued"], json!([]));
    let message = outcome["message"].as_str().unwrap();
    assert!(
        message.starts_with("the service declined to issue \"Membership\""),
        "{message}"
    );
    let event = fx.event(outcome["event_id"].as_str().unwrap()).await;
    assert!(log_kinds(&event).contains(&"denied".to_owned()), "{event}");
    let listed = fx.credentials().await;
    assert_eq!(listed, json!([]));
}

async fn a_failure_reply_fails_the_event_with_its_message_and_log_data(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.receiver.on_json("/hook", |request| {
        Reply::json(json!({
            "ok": false,
            "message": "No member called Ada in our records",
            "actionEventId": request["actionEventId"],
            "type": "failure",
            "integrationOutput": {"integrationId": "crm", "logData": "lookup of Ada: 0 rows"},
        }))
    });
    let outcome = fx.join(&Holder::new(), "Ada").await;
    assert_eq!(outcome["state"], "failed");
    assert_eq!(outcome["message"], "No member called Ada in our records");
    assert_eq!(outcome["issued"], json!([]));
    assert!(outcome.get("callback").is_none());
    let event = fx.event(outcome["event_id"].as_str().unwrap()).await;
    assert_eq!(event["state"], "failed");
    assert_eq!(event["message"], "No member called Ada in our records");
    let output = event["log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "integration_output")
        .expect("the logData is logged");
    assert_eq!(output["detail"], "crm: lookup of Ada: 0 rows");
    assert_eq!(log_kinds(&event).last().unwrap(), "failed");
}

/// Runs "Join" with `/hook` answering `answer`; returns the outcome and the event.
async fn join_answered(fx: &Fixture, answer: Reply) -> (Value, Value) {
    fx.receiver.on("/hook", answer);
    let outcome = fx.join(&Holder::new(), "Ada").await;
    let event = fx.event(outcome["event_id"].as_str().unwrap()).await;
    (outcome, event)
}

async fn a_webhook_that_does_not_answer_in_time_fails_the_event(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let mut webhook = fx.webhook("/hook", "default", "signature");
    webhook["timeout_ms"] = json!(300);
    fx.patch_interaction(&fx.join, json!({"webhook": webhook}))
        .await;
    let slow = Reply::json(json!({"issuedCredentials": []})).after(Duration::from_millis(1500));
    let (outcome, event) = join_answered(&fx, slow).await;
    assert_eq!(outcome["state"], "failed");
    assert_eq!(
        outcome["message"],
        "the service's webhook did not answer in time"
    );
    let call = &event["calls"][0];
    assert!(call["status"].is_null(), "{call}");
    assert!(
        call["error"]
            .as_str()
            .unwrap()
            .contains("did not answer within"),
        "{call}"
    );
    assert!(call["duration_ms"].as_i64().unwrap() >= 300, "{call}");
}

async fn a_non_2xx_answer_fails_the_event(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let (outcome, event) = join_answered(&fx, Reply::text(503, "maintenance until noon")).await;
    assert_eq!(outcome["state"], "failed");
    assert_eq!(
        outcome["message"],
        "the service's webhook answered HTTP 503"
    );
    let call = &event["calls"][0];
    assert_eq!(call["status"], 503);
    assert_eq!(call["response_excerpt"], "maintenance until noon");
    assert_eq!(call["error"], "it answered HTTP 503");
}

async fn an_answer_that_is_not_json_fails_the_event(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let (outcome, event) = join_answered(&fx, Reply::text(200, "<html>OK</html>")).await;
    assert_eq!(outcome["state"], "failed");
    assert_eq!(
        outcome["message"],
        "the service's webhook answered with something that is not the expected JSON"
    );
    let call = &event["calls"][0];
    assert_eq!(call["status"], 200);
    assert!(
        call["error"]
            .as_str()
            .unwrap()
            .starts_with("its answer is not the expected JSON"),
        "{call}"
    );
    let failed = event["log"].as_array().unwrap().last().unwrap();
    assert_eq!(failed["kind"], "failed");
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .starts_with("interaction webhook: its answer"),
        "{failed}"
    );
}

async fn issued_credentials_that_do_not_fit_their_definition_fail_the_event_with_nothing_issued(
    backend: Backend,
) {
    let fx = Fixture::new(backend).await;
    let good = json!({"credentialId": fx.membership, "fields": [{"name": "Name", "value": "Ada"}, {"name": "Level", "value": "2"}]});
    let badge = |fields: Value| json!({"credentialId": fx.badge, "fields": fields});
    let other_service = "GbzPqgnU4XsMs7xg9mYJW8:3:CL:1:default";
    let cases = [
        (
            badge(
                json!([{"name": "Title", "value": "Gold"}, {"name": "Since", "value": "last year"}]),
            ),
            "attribute \"Since\": a date is seconds",
        ),
        (
            badge(
                json!([{"name": "Title", "value": "Gold"}, {"name": "Since", "value": "0"}, {"name": "Colour", "value": "red"}]),
            ),
            "attribute \"Colour\": the schema has no such attribute",
        ),
        (
            badge(json!([{"name": "Title", "value": "Gold"}])),
            "attribute \"Since\" is missing",
        ),
        (
            json!({"credentialId": other_service, "fields": [{"name": "x", "value": "y"}]}),
            "is not a credential definition of this service",
        ),
        (
            json!({"credentialId": fx.applicant, "fields": [{"name": "Name", "value": "A"}, {"name": "Born", "value": "0"}]}),
            "is not one interaction \"Join\" issues",
        ),
    ];
    for (bad, expected) in cases {
        let reply = json!({"issuedCredentials": [good, bad], "ok": true});
        let (outcome, event) = join_answered(&fx, Reply::json(reply)).await;
        assert_eq!(outcome["state"], "failed", "{outcome}");
        assert_eq!(outcome["issued"], json!([]));
        let message = outcome["message"].as_str().unwrap();
        assert!(
            message.starts_with("the service's webhook issued an invalid credential"),
            "{message}"
        );
        assert!(
            message.contains(expected),
            "{message} should say {expected}"
        );
        let failed = event["log"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(failed["kind"], "failed");
        assert!(
            failed["detail"].as_str().unwrap().contains(expected),
            "{failed}"
        );
        assert!(!log_kinds(&event).contains(&"issued".to_owned()));
    }
    let listed = fx.credentials().await;
    assert_eq!(listed, json!([]), "nothing was half-issued");
}

async fn an_interaction_without_webhook_waits_for_a_later_issue(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.patch_interaction(&fx.join, json!({"webhook": null}))
        .await;
    let outcome = fx.join(&Holder::new(), "Ada").await;
    assert_eq!(outcome["state"], "waiting", "{outcome}");
    let register = fx
        .interaction(
            json!({"name": "Register", "required_credentials": [{"credential_id": fx.applicant}]}),
        )
        .await;
    let outcome = Holder::new()
        .run(
            &fx.app,
            &fx.did,
            &register,
            json!([]),
            fx.applicant_presented("Bob"),
        )
        .await;
    assert_eq!(outcome["state"], "completed", "nothing to issue: {outcome}");
    assert!(fx.receiver.calls_to("/hook").is_empty());
}

async fn a_webhook_on_an_address_the_outbound_policy_refuses_is_not_called(backend: Backend) {
    // Saved while loopback, where the receiver listens, was allowed; called under the default
    // policy, which refuses it.
    let fx = Fixture::new(backend)
        .await
        .restarted_with(TestDb::figment)
        .await;
    fx.issue_membership("1");
    let outcome = fx.join(&Holder::new(), "Ada").await;
    assert_eq!(outcome["state"], "failed");
    assert_eq!(
        outcome["message"],
        "the service's webhook could not be reached"
    );
    assert!(fx.receiver.calls_to("/hook").is_empty());
    let event = fx.event(outcome["event_id"].as_str().unwrap()).await;
    let call = &event["calls"][0];
    assert!(call["status"].is_null(), "{call}");
    let error = call["error"].as_str().unwrap();
    assert!(
        error.starts_with("refused to connect to 127.0.0.1"),
        "{error}"
    );
    assert!(error.ends_with("loopback address"), "{error}");
}

async fn a_one_off_credential_is_issued_once_per_holder_until_it_is_revoked(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let definition = format!(
        "/api/v1/services/{}/credential-definitions/{}",
        fx.did, fx.membership
    );
    let changed = expect_json(
        fx.app
            .patch(&definition, &fx.token, &json!({"one_off": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["one_off"], true);
    let holder = Holder::new();
    let first = fx.member(&holder, "1").await;

    let again = fx.join(&holder, "Ada").await;
    assert_eq!(again["state"], "completed", "{again}");
    assert_eq!(again["issued"], json!([]), "{again}");
    let event = fx.event(again["event_id"].as_str().unwrap()).await;
    let denial = event["log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["kind"] == "denied")
        .unwrap_or_else(|| panic!("a denied entry: {event}"));
    assert!(
        denial["detail"]
            .as_str()
            .unwrap()
            .contains("issued once only"),
        "{denial}"
    );

    // Another holder still gets one; the first holder again once theirs is revoked.
    let other = fx.join(&Holder::new(), "Grace").await;
    assert_eq!(other["issued"].as_array().unwrap().len(), 1, "{other}");
    let revoke = format!(
        "/api/v1/services/{}/credentials/{}/revoke",
        fx.did,
        first["jti"].as_str().unwrap()
    );
    let response = fx.app.post(&revoke, &fx.token, &json!({})).await;
    assert!(response.status().is_success(), "{}", response.status());
    let after = fx.join(&holder, "Ada").await;
    assert_eq!(after["issued"].as_array().unwrap().len(), 1, "{after}");
    assert_eq!(fx.credentials().await.as_array().unwrap().len(), 3);
}
