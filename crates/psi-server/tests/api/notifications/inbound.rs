//! What third parties' calls notify: a late `credentials-issued` completes its event and issues,
//! a `credentials-issuing-failed` push fails one; the service hears of both as of the engine's.

use std::time::Duration;

use psi_server::inbound::deadline::EXPIRED;
use psi_server::inbound::refused::MAX_RECORDED;
use psi_testkit::{Call, Receiver};
use psi_webhook::PrivateKey;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::engine::support::{Fixture, Holder, engine_app_with, log_kinds};
use crate::helpers::{Backend, expect_json};
use crate::inbound::support::{Auth, BACKEND, Scene};

backend_tests!(
    a_late_issue_notifies_the_completed_event_and_its_credentials,
    a_failed_push_on_the_other_base_path_notifies_the_failed_event,
    a_refused_call_is_logged_on_the_event_it_names_and_notified,
    a_waiting_event_fails_at_its_interactions_deadline_and_notifies,
);

const WITHIN: Duration = Duration::from_secs(15);

/// The third party's scene with a notification endpoint for every type.
async fn notified(backend: Backend) -> (Scene, Receiver) {
    notified_on(Fixture::new(backend).await).await
}

/// [`notified`] on `fx`.
async fn notified_on(fx: Fixture) -> (Scene, Receiver) {
    let scene = Scene::on(fx).await;
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

async fn a_refused_call_is_logged_on_the_event_it_names_and_notified(backend: Backend) {
    let (scene, receiver) = notified(backend).await;
    let holder = Holder::new();
    // A call naming an event the service does not have goes only to psi's own log.
    let unknown = scene.issued_body("no-such-event", &holder, json!([scene.membership("1")]));
    scene
        .issue_refused(&unknown, StatusCode::NOT_FOUND, "not_found")
        .await;

    let event_id = scene.waiting_event(&holder).await;
    let body = scene.issued_body(&event_id, &holder, json!([scene.membership("1")]));
    let stranger = Auth::Signature(PrivateKey::generate().unwrap());
    let refuse = || {
        scene.refused(
            "credentials-issued",
            &body,
            &stranger,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
    };
    let reason = refuse().await;
    let calls = receiver.wait_for_calls("/hook", 1, WITHIN).await;
    let refused = bodies_of(&calls, "event.issue_refused");
    assert_eq!(refused.len(), 1, "{calls:?}");
    assert_eq!(refused[0]["actionEventId"], event_id.as_str());
    assert_eq!(refused[0]["subscriberConnectDid"], holder.did.as_str());
    assert_eq!(refused[0]["actionId"], scene.fx.join.as_str());
    assert_eq!(refused[0]["call"], "credentials-issued");
    assert_eq!(refused[0]["status"], 403);
    assert_eq!(refused[0]["code"], "forbidden");
    assert_eq!(refused[0]["reason"], reason.as_str());

    // The event still waits, and the partner's own call completes it, its log numbered on.
    scene.issue(&body).await;
    let event = scene.fx.event(&event_id).await;
    assert_eq!(event["state"], "completed");
    let kinds = log_kinds(&event);
    let refusal = kinds.iter().position(|k| k == "issue_refused").unwrap();
    assert_eq!(kinds[refusal + 1], "credentials_received", "{kinds:?}");
    let calls = receiver.wait_for_calls("/hook", 3, WITHIN).await;
    assert_eq!(
        bodies_of(&calls, "event.issue_refused").len(),
        1,
        "none for the unknown event"
    );

    // A stranger calling again and again fills the log up to a limit, then only psi's log.
    for _ in 0..MAX_RECORDED {
        refuse().await;
    }
    let event = scene.fx.event(&event_id).await;
    let refusals = log_kinds(&event)
        .iter()
        .filter(|k| *k == "issue_refused")
        .count();
    assert_eq!(refusals as i64, MAX_RECORDED);
    scene.fx.app.stop().await;
}

async fn a_waiting_event_fails_at_its_interactions_deadline_and_notifies(backend: Backend) {
    let sweeps = [("inbound.deadline_sweep_interval", json!("50ms"))];
    let fx = Fixture::on(engine_app_with(backend, &sweeps).await).await;
    let (scene, receiver) = notified_on(fx).await;
    let interaction = format!(
        "/api/v1/services/{}/interactions/{}",
        scene.fx.did, scene.fx.join
    );
    let set_deadline = |secs: i64| {
        let (app, token, path) = (&scene.fx.app, &scene.fx.token, &interaction);
        async move {
            let changed = expect_json(
                app.patch(path, token, &json!({"waiting_deadline_secs": secs}))
                    .await,
                StatusCode::OK,
            )
            .await;
            assert_eq!(changed["waiting_deadline_secs"], secs);
        }
    };
    let holder = Holder::new();
    let event_id = scene.waiting_event(&holder).await;
    // Within its deadline, an event waits through many sweeps.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(scene.fx.event(&event_id).await["state"], "waiting");

    // A shorter deadline applies to the events already waiting.
    set_deadline(1).await;
    let calls = receiver.wait_for_calls("/hook", 1, WITHIN).await;
    let failed = bodies_of(&calls, "event.failed");
    assert_eq!(failed.len(), 1, "{calls:?}");
    assert_eq!(failed[0]["actionEventId"], event_id.as_str());
    assert_eq!(
        failed[0]["outcome"],
        json!({"ok": false, "message": EXPIRED})
    );
    let event = scene.fx.event(&event_id).await;
    assert_eq!(event["state"], "failed");
    assert_eq!(event["message"], EXPIRED);
    let last = event["log"].as_array().unwrap().last().unwrap();
    assert_eq!(last["kind"], "failed");
    assert_eq!(
        last["detail"],
        "no credentials-issued or credentials-issuing-failed call came within 1s, the \
         interaction's waiting_deadline_secs"
    );

    // A call after the deadline is refused, and says so on the event.
    let body = scene.issued_body(&event_id, &holder, json!([scene.membership("1")]));
    scene
        .issue_refused(&body, StatusCode::CONFLICT, "conflict")
        .await;
    assert_eq!(
        log_kinds(&scene.fx.event(&event_id).await).last().unwrap(),
        "issue_refused"
    );
    let bad = expect_json(
        scene
            .fx
            .app
            .patch(
                &interaction,
                &scene.fx.token,
                &json!({"waiting_deadline_secs": 0}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`waiting_deadline_secs` must be 1 to 2592000"),
        "{bad}"
    );
    scene.fx.app.stop().await;
}
