//! What third parties' calls notify: a late `credentials-issued` completes its event and issues,
//! a `credentials-issuing-failed` push fails one; the service hears of both as of the engine's.

use std::time::Duration;

use psi_testkit::{Call, Receiver};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::engine::support::Holder;
use crate::helpers::{Backend, expect_json};
use crate::inbound::support::{BACKEND, Scene};

backend_tests!(
    a_late_issue_notifies_the_completed_event_and_its_credentials,
    a_failed_push_on_the_other_base_path_notifies_the_failed_event,
);

const WITHIN: Duration = Duration::from_secs(15);

/// The third party's scene with a notification endpoint for every type.
async fn notified(backend: Backend) -> (Scene, Receiver) {
    let scene = Scene::new(backend).await;
    let receiver = Receiver::start().await;
    scene
        .fx
        .app
        .create_endpoint(&scene.fx.did, &receiver.url("/hook"), json!({}))
        .await;
    (scene, receiver)
}

fn bodies_of(calls: &[Call], kind: &str) -> Vec<Value> {
    calls
        .iter()
        .map(Call::json)
        .filter(|body| body["type"] == kind)
        .collect()
}

async fn a_late_issue_notifies_the_completed_event_and_its_credentials(backend: Backend) {
    let (scene, receiver) = notified(backend).await;
    let holder = Holder::new();
    // A waiting event is not settled: nothing is notified yet.
    let event_id = scene.waiting_event(&holder).await;
    let body = scene.issued_body(&event_id, &holder, json!([scene.membership("3")]));
    let answer = scene.issue(&body).await;
    let jti = answer["issued"][0]["jti"].clone();

    let calls = receiver.wait_for_calls("/hook", 2, WITHIN).await;
    let completed = bodies_of(&calls, "event.completed");
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0]["actionEventId"], event_id.as_str());
    assert_eq!(completed[0]["subscriberConnectDid"], holder.did.as_str());
    assert_eq!(completed[0]["outcome"], json!({"ok": true}));
    assert_eq!(completed[0]["issuedCredentials"][0]["jti"], jti);
    let issued = bodies_of(&calls, "credential.issued");
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert_eq!(issued[0]["actionEventId"], event_id.as_str());
    assert_eq!(issued[0]["credentials"][0]["jti"], jti);
    assert_eq!(
        issued[0]["credentials"][0]["credentialId"],
        scene.fx.membership.as_str()
    );
    scene.fx.app.stop().await;
}

async fn a_failed_push_on_the_other_base_path_notifies_the_failed_event(backend: Backend) {
    let (scene, receiver) = notified(backend).await;
    let holder = Holder::new();
    let body = json!({
        "serviceDid": scene.fx.did,
        "subscriberConnectDid": holder.did,
        "actionTemplate": scene.reward,
        "actionParams": [{"name": "tier", "value": "silver"}],
        "errorMessage": "the reward ran out",
        "subscriberErorrMessage": "No rewards left, sorry.",
    });
    let response = scene
        .call_raw(
            BACKEND,
            "credendials-issuing-failed",
            serde_json::to_vec(&body).unwrap(),
            &scene.hs256(),
            &[],
        )
        .await;
    let answer = expect_json(response, StatusCode::OK).await;
    let event_id = answer["eventId"].as_str().expect("the pushed event");
    let event = scene.fx.event(event_id).await;
    assert_eq!(event["state"], "failed", "{event}");
    assert_eq!(event["interaction_id"], scene.reward.as_str());
    assert_eq!(event["message"], "No rewards left, sorry.");
    assert!(scene.credentials_of(&holder).await.is_empty());

    let calls = receiver.wait_for_calls("/hook", 1, WITHIN).await;
    let failed = bodies_of(&calls, "event.failed");
    assert_eq!(failed.len(), 1, "{calls:?}");
    assert_eq!(failed[0]["actionEventId"], event_id);
    assert_eq!(failed[0]["actionId"], scene.reward.as_str());
    assert_eq!(
        failed[0]["outcome"],
        json!({"ok": false, "message": "No rewards left, sorry."})
    );
    assert_eq!(failed[0]["issuedCredentials"], json!([]));
    // Nothing else follows.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.calls().len(), 1);
    scene.fx.app.stop().await;
}
