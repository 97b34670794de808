//! What the engine's changes notify: events settling, credentials issued and revoked, each in
//! the transaction of its change.

use std::time::Duration;

use psi_testkit::{Call, Receiver, Reply};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::engine::support::{Fixture, Holder};
use crate::helpers::{Backend, expect_json};

backend_tests!(
    a_completed_event_notifies_its_outcome_and_the_credentials_it_issued,
    a_failed_event_notifies_what_the_holder_was_told,
    revoking_a_credential_notifies_the_revocation_once,
);

const WITHIN: Duration = Duration::from_secs(15);

/// The engine's fixture with a notification endpoint for every type.
async fn notified(backend: Backend) -> (Fixture, Receiver) {
    let fixture = Fixture::new(backend).await;
    let receiver = Receiver::start().await;
    fixture
        .app
        .create_endpoint(&fixture.did, &receiver.url("/hook"), json!({}))
        .await;
    (fixture, receiver)
}

/// The body of the one call of `kind` among `calls`.
fn only(calls: &[Call], kind: &str) -> Value {
    let bodies: Vec<Value> = calls
        .iter()
        .map(Call::json)
        .filter(|body| body["type"] == kind)
        .collect();
    assert_eq!(bodies.len(), 1, "one {kind}: {bodies:?}");
    bodies.into_iter().next().unwrap()
}

async fn a_completed_event_notifies_its_outcome_and_the_credentials_it_issued(backend: Backend) {
    let (fx, receiver) = notified(backend).await;
    let holder = Holder::new();
    let member = fx.member(&holder, "3").await;
    let calls = receiver.wait_for_calls("/hook", 2, WITHIN).await;

    let completed = only(&calls, "event.completed");
    assert_eq!(completed["publicServiceDid"], fx.did.as_str());
    assert_eq!(completed["subscriberConnectDid"], holder.did.as_str());
    assert_eq!(completed["actionId"], fx.join.as_str());
    assert_eq!(completed["outcome"], json!({"ok": true}));
    let event_id = completed["actionEventId"].as_str().unwrap();
    assert_eq!(fx.event(event_id).await["state"], "completed");
    assert_eq!(completed["issuedCredentials"][0]["jti"], member["jti"]);
    assert_eq!(
        completed["issuedCredentials"][0]["credentialId"],
        fx.membership.as_str()
    );
    assert_eq!(completed["issuedCredentials"][0]["revoked"], false);

    let issued = only(&calls, "credential.issued");
    assert_eq!(issued["actionEventId"], event_id);
    assert_eq!(issued["subscriberConnectDid"], holder.did.as_str());
    assert_eq!(issued["credentials"], completed["issuedCredentials"]);
    assert_eq!(
        issued["credentials"][0]["fields"],
        json!([{"name": "Name", "value": "Ada"}, {"name": "Level", "value": "3"}])
    );
    assert_ne!(issued["messageId"], completed["messageId"]);
    fx.app.stop().await;
}

async fn a_failed_event_notifies_what_the_holder_was_told(backend: Backend) {
    let (fx, receiver) = notified(backend).await;
    fx.receiver.on_json("/hook", |request| {
        Reply::json(
            json!({"ok": false, "type": "failure", "message": "Not today",
                            "actionEventId": request["actionEventId"]}),
        )
    });
    let outcome = fx.join(&Holder::new(), "Ada").await;
    assert_eq!(outcome["state"], "failed");

    let calls = receiver.wait_for_calls("/hook", 1, WITHIN).await;
    let failed = only(&calls, "event.failed");
    assert_eq!(failed["actionEventId"], outcome["event_id"]);
    assert_eq!(
        failed["outcome"],
        json!({"ok": false, "message": "Not today"})
    );
    assert_eq!(failed["issuedCredentials"], json!([]));
    fx.app.stop().await;
}

async fn revoking_a_credential_notifies_the_revocation_once(backend: Backend) {
    let (fx, receiver) = notified(backend).await;
    let holder = Holder::new();
    let member = fx.member(&holder, "2").await;
    let jti = member["jti"].as_str().unwrap();
    receiver.wait_for_calls("/hook", 2, WITHIN).await;

    let path = format!("/api/v1/services/{}/credentials/{jti}/revoke", fx.did);
    for _ in 0..2 {
        let revoked = expect_json(
            fx.app.post(&path, &fx.token, &json!({})).await,
            StatusCode::OK,
        )
        .await;
        assert!(revoked["revoked_at"].is_i64());
    }
    let calls = receiver.wait_for_calls("/hook", 3, WITHIN).await;
    let notice = only(&calls, "credential.revoked");
    assert_eq!(notice["subscriberConnectDid"], holder.did.as_str());
    assert!(
        notice.get("actionEventId").is_none(),
        "revoked through the API"
    );
    let credential = &notice["credentials"][0];
    assert_eq!(credential["jti"], jti);
    assert_eq!(credential["revoked"], true);
    let listed = fx.credentials().await;
    assert_eq!(credential["utcRevokedAt"], listed[0]["revoked_at"]);
    // A second revocation changed nothing, so it told nobody.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.calls().len(), 3);
    fx.app.stop().await;
}
