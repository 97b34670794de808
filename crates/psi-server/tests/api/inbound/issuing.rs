//! `credentials-issued` and `credentials-issuing-failed` doing their work: a waiting event
//! completes or fails, a push fills the holder's inbox, revocations take effect.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{BACKEND, DASHBOARD, Scene};
use crate::backend_tests;
use crate::engine::support::{Holder, log_kinds};
use crate::helpers::{Backend, expect_json};

backend_tests!(
    a_signed_call_completes_the_waiting_event_and_the_credentials_wait_in_the_inbox,
    bearer_tokens_rs256_and_hs256_issue_on_both_base_paths_spellings_and_a_trailing_slash,
    a_push_fills_the_holders_inbox_for_the_instance_its_parameters_pick,
    issuing_failed_fails_the_event_and_the_holder_is_told_why,
    a_credential_that_does_not_fit_its_definition_is_refused_and_the_event_keeps_waiting,
    a_completed_event_cannot_be_completed_again,
    revoked_credentials_in_the_call_are_revoked,
    a_push_needs_a_push_interaction_and_a_holder,
);

async fn a_signed_call_completes_the_waiting_event_and_the_credentials_wait_in_the_inbox(
    backend: Backend,
) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let event_id = scene.waiting_event(&holder).await;
    let body = scene.issued_body(
        &event_id,
        &holder,
        json!([scene.membership("3"), scene.badge("Founder")]),
    );
    let answer = scene.issue(&body).await;
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["eventId"], event_id.as_str());
    assert_eq!(answer["issued"].as_array().unwrap().len(), 2);
    assert_eq!(
        answer["issued"][0]["credentialId"],
        scene.fx.membership.as_str()
    );

    let event = scene.fx.event(&event_id).await;
    assert_eq!(event["state"], "completed", "{event}");
    let kinds = log_kinds(&event);
    assert_eq!(
        kinds[kinds.len() - 4..],
        ["credentials_received", "issued", "issued", "completed"],
        "{event}"
    );

    // The wallet collects them once, with the event they belong to.
    let inbox = holder.inbox(&scene.fx.app, &scene.fx.did).await;
    let collected = inbox["credentials"].as_array().unwrap();
    assert_eq!(collected.len(), 2, "{inbox}");
    // Issued in the same millisecond: the inbox orders them by id.
    let membership = collected
        .iter()
        .find(|c| c["jti"] == answer["issued"][0]["jti"])
        .expect("the membership is in the inbox");
    assert_eq!(membership["event_id"], event_id.as_str());
    assert_eq!(
        membership["attributes"],
        json!([{"name": "Name", "value": "Ada Lovelace"}, {"name": "Level", "value": "3"}])
    );
    let again = holder.inbox(&scene.fx.app, &scene.fx.did).await;
    assert_eq!(again["credentials"], json!([]));
}

async fn bearer_tokens_rs256_and_hs256_issue_on_both_base_paths_spellings_and_a_trailing_slash(
    backend: Backend,
) {
    let scene = Scene::new(backend).await;
    let calls = [
        (DASHBOARD, "credentials-issued", scene.rs256()),
        (BACKEND, "credentials-issued", scene.hs256()),
        (DASHBOARD, "credendials-issued", scene.hs256()),
        (BACKEND, "credendials-issued", scene.signed()),
        (DASHBOARD, "credentials-issued/", scene.rs256()),
        (BACKEND, "credendials-issued/", scene.hs256()),
    ];
    for (base, endpoint, auth) in calls {
        let holder = Holder::new();
        let event_id = scene.waiting_event(&holder).await;
        let body = scene.issued_body(&event_id, &holder, json!([scene.membership("1")]));
        let response = scene
            .call_raw(
                base,
                endpoint,
                serde_json::to_vec(&body).unwrap(),
                &auth,
                &[],
            )
            .await;
        let answer = expect_json(response, StatusCode::OK).await;
        assert_eq!(answer["ok"], true, "{base}/{endpoint}: {answer}");
        assert_eq!(scene.fx.event(&event_id).await["state"], "completed");
        assert_eq!(scene.credentials_of(&holder).await.len(), 1);
    }
}

async fn a_push_fills_the_holders_inbox_for_the_instance_its_parameters_pick(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let body = scene.push_body(
        &holder,
        json!([scene.badge("Silver reader")]),
        json!([{"name": "tier", "value": "silver"}]),
    );
    let answer = scene
        .accepted("credentials-issued", &body, &scene.hs256())
        .await;
    let event = scene.fx.event(answer["eventId"].as_str().unwrap()).await;
    assert_eq!(event["state"], "completed", "{event}");
    assert_eq!(event["interaction_id"], scene.reward.as_str());
    assert_eq!(event["holder_did"], holder.did.as_str());
    let instances = expect_json(
        scene
            .fx
            .app
            .get(
                &format!(
                    "/api/v1/services/{}/interactions/{}/instances",
                    scene.fx.did, scene.reward
                ),
                &scene.fx.token,
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let silver = instances["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["parameters"][0]["value"] == "silver")
        .unwrap();
    assert_eq!(event["instance_id"], silver["id"]);

    let inbox = holder.inbox(&scene.fx.app, &scene.fx.did).await;
    assert_eq!(
        inbox["credentials"][0]["credentialId"],
        scene.fx.badge.as_str()
    );
    assert_eq!(
        inbox["credentials"][0]["attributes"][0],
        json!({"name": "Title", "value": "Silver reader"})
    );

    // Without parameters: the default instance; parameters no instance has: 404.
    let default = scene.push_body(&holder, json!([scene.badge("Gold")]), json!([]));
    let answer = scene.issue(&default).await;
    let event = scene.fx.event(answer["eventId"].as_str().unwrap()).await;
    assert_ne!(event["instance_id"], silver["id"]);
    let unknown = scene.push_body(
        &holder,
        json!([scene.badge("Bronze")]),
        json!([{"name": "tier", "value": "bronze"}]),
    );
    scene
        .issue_refused(&unknown, StatusCode::NOT_FOUND, "not_found")
        .await;
}

async fn issuing_failed_fails_the_event_and_the_holder_is_told_why(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let event_id = scene.waiting_event(&holder).await;
    let body = json!({
        "serviceDid": scene.fx.did,
        "subscriberConnectDid": holder.did,
        "subscriberEventId": event_id,
        "errorMessage": "CRM lookup failed: no member 7",
        "subscriberErorrMessage": "We could not find your membership.",
        "integrationOutput": {"integrationId": "crm", "logData": {"row": 7}},
    });
    let answer = scene
        .accepted("credentials-issuing-failed", &body, &scene.rs256())
        .await;
    assert_eq!(answer["ok"], true);
    let event = scene.fx.event(&event_id).await;
    assert_eq!(event["state"], "failed");
    assert_eq!(event["message"], "We could not find your membership.");
    let log = event["log"].as_array().unwrap();
    let details: Vec<&str> = log.iter().map(|e| e["detail"].as_str().unwrap()).collect();
    assert!(details.contains(&r#"crm: {"row":7}"#), "{details:?}");
    assert!(
        details
            .iter()
            .any(|d| d.contains("CRM lookup failed: no member 7")),
        "{details:?}"
    );
    assert_eq!(log_kinds(&event).last().unwrap(), "failed");
    assert!(scene.credentials_of(&holder).await.is_empty());

    // Without a message for the holder, `errorMessage` is shown.
    let other = Holder::new();
    let second = scene.waiting_event(&other).await;
    let body = json!({"serviceDid": scene.fx.did, "subscriberEventId": second,
        "errorMessage": "out of stock"});
    scene
        .accepted("credendials-issuing-failed", &body, &scene.signed())
        .await;
    assert_eq!(scene.fx.event(&second).await["message"], "out of stock");

    // And with a trailing slash.
    let third = Holder::new();
    let event_id = scene.waiting_event(&third).await;
    let body = json!({"serviceDid": scene.fx.did, "subscriberEventId": event_id,
        "errorMessage": "try again tomorrow"});
    scene
        .accepted("credentials-issuing-failed/", &body, &scene.hs256())
        .await;
    assert_eq!(
        scene.fx.event(&event_id).await["message"],
        "try again tomorrow"
    );
}

async fn a_credential_that_does_not_fit_its_definition_is_refused_and_the_event_keeps_waiting(
    backend: Backend,
) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let event_id = scene.waiting_event(&holder).await;
    let cases: [(Value, &str); 4] = [
        (json!([scene.membership("gold")]), "attribute \"Level\""),
        (
            json!([{"credentialId": scene.fx.membership, "fields": [{"name": "Name", "value": "A"}]}]),
            "attribute \"Level\" is missing",
        ),
        (
            json!([scene.fx.applicant_presented("A")[0].clone()]),
            "is not one interaction",
        ),
        (
            json!([scene.membership("1"), scene.membership("2")]),
            "is given twice",
        ),
    ];
    for (credentials, reason) in cases {
        let body = scene.issued_body(&event_id, &holder, credentials);
        let message = scene
            .issue_refused(&body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            .await;
        assert!(message.contains(reason), "{reason}: {message}");
    }
    assert_eq!(scene.fx.event(&event_id).await["state"], "waiting");
    assert!(scene.credentials_of(&holder).await.is_empty());

    // Fixed, the same event completes.
    let body = scene.issued_body(&event_id, &holder, json!([scene.membership("2")]));
    scene.issue(&body).await;
    assert_eq!(scene.fx.event(&event_id).await["state"], "completed");
}

async fn a_completed_event_cannot_be_completed_again(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let event_id = scene.waiting_event(&holder).await;
    let first = scene.issued_body(&event_id, &holder, json!([scene.membership("1")]));
    scene.issue(&first).await;
    let second = scene.issued_body(&event_id, &holder, json!([scene.membership("2")]));
    let message = scene
        .issue_refused(&second, StatusCode::CONFLICT, "conflict")
        .await;
    assert!(message.contains("completed"), "{message}");
    let failed =
        json!({"serviceDid": scene.fx.did, "subscriberEventId": event_id, "errorMessage": "x"});
    scene
        .refused(
            "credentials-issuing-failed",
            &failed,
            &scene.signed(),
            StatusCode::CONFLICT,
            "conflict",
        )
        .await;
    assert_eq!(scene.credentials_of(&holder).await.len(), 1);
    let unknown = scene.issued_body("no-such-event", &holder, json!([scene.membership("2")]));
    scene
        .issue_refused(&unknown, StatusCode::NOT_FOUND, "not_found")
        .await;
}

async fn revoked_credentials_in_the_call_are_revoked(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let push = scene.push_body(&holder, json!([scene.badge("First")]), json!([]));
    let first = scene.issue(&push).await;
    let old = first["issued"][0]["jti"].as_str().unwrap().to_owned();
    let mut replace = scene.push_body(&holder, json!([scene.badge("Second")]), json!([]));
    replace["revokedCredentials"] = json!([old, "no-such-credential"]);
    let answer = scene.issue(&replace).await;
    assert_eq!(answer["revoked"], json!([old]));
    let status = expect_json(
        scene
            .fx
            .app
            .client
            .get(
                scene
                    .fx
                    .app
                    .url(&format!("/wallet/v1/credentials/{old}/status")),
            )
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(status["revoked"], true);
    let inbox = holder.inbox(&scene.fx.app, &scene.fx.did).await;
    assert_eq!(inbox["revoked"], json!([old]));
    assert_eq!(inbox["credentials"].as_array().unwrap().len(), 1, "{inbox}");
}

async fn a_push_needs_a_push_interaction_and_a_holder(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let mut to_join = scene.push_body(&holder, json!([scene.membership("1")]), json!([]));
    to_join["actionTemplate"] = json!(scene.fx.join);
    let message = scene
        .issue_refused(&to_join, StatusCode::CONFLICT, "conflict")
        .await;
    assert!(message.contains("PUSH"), "{message}");
    let mut anonymous = scene.push_body(&holder, json!([scene.badge("B")]), json!([]));
    anonymous
        .as_object_mut()
        .unwrap()
        .remove("subscriberConnectDid");
    scene
        .issue_refused(
            &anonymous,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    let mut nothing = scene.push_body(&holder, json!([scene.badge("B")]), json!([]));
    nothing.as_object_mut().unwrap().remove("actionTemplate");
    let message = scene
        .issue_refused(
            &nothing,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    assert!(message.contains("subscriberEventId"), "{message}");
    assert_eq!(scene.rows("events").await, 0);
}
