//! Replays of captured calls: a body signed with `X-Body-Signature` (no time in it) acts once,
//! however late it comes again; a settled event never issues again; Bearer tokens cannot be made
//! to live long, and one without `jti` must be bound to its body.

use std::time::Duration;

use psi_testkit::now_ms;
use psi_webhook::{Claims, Signer, UnixTime};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{Auth, DASHBOARD, Scene, expect_refusal};
use crate::backend_tests;
use crate::engine::support::{Fixture, Holder, engine_app_with};
use crate::helpers::Backend;

backend_tests!(
    a_signed_push_replayed_days_later_is_answered_and_issues_nothing,
    a_settled_event_answers_a_signed_replay_and_refuses_any_other_call,
    a_token_expiring_beyond_the_horizon_is_refused,
    a_token_without_jti_must_be_bound_to_its_body,
);

/// Deletes what the purge deletes once `days` have passed.
async fn days_pass(scene: &Scene, days: i64) {
    let later = now_ms() + days * 24 * 3600 * 1000;
    psi_server::db::inbound::purge(&scene.fx.app.app.state().db, later)
        .await
        .expect("the purge runs");
}

/// Calls `credentials-issued` with these exact bytes; returns the status, whether the answer was
/// replayed, and the answer.
async fn send(scene: &Scene, raw: &[u8], auth: &Auth) -> (StatusCode, bool, Value) {
    let response = scene
        .call_raw(DASHBOARD, "credentials-issued", raw.to_vec(), auth, &[])
        .await;
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    (status, replayed, response.json().await.unwrap())
}

async fn a_signed_push_replayed_days_later_is_answered_and_issues_nothing(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    // The public async-issue example's way: `issuedAt`, `ok: true`, X-Body-Signature.
    let mut body = scene.push_body(&holder, json!([scene.badge("Gold")]), json!([]));
    body["issuedAt"] = json!(now_ms());
    body["ok"] = json!(true);
    let raw = serde_json::to_vec(&body).unwrap();
    let (status, replayed, first) = send(&scene, &raw, &scene.signed()).await;
    assert_eq!((status, replayed), (StatusCode::OK, false), "{first}");
    // A push through a Bearer token, whose answer is kept for a day only.
    let other = scene.push_body(&holder, json!([scene.badge("Silver")]), json!([]));
    scene
        .accepted("credentials-issued", &other, &scene.hs256())
        .await;
    assert_eq!(scene.rows("inbound_requests").await, 2);

    days_pass(&scene, 30).await;
    assert_eq!(
        scene.rows("inbound_requests").await,
        1,
        "the signed body's answer stays"
    );
    let (status, replayed, again) = send(&scene, &raw, &scene.signed()).await;
    assert_eq!((status, replayed), (StatusCode::OK, true), "{again}");
    assert_eq!(again, first);
    assert_eq!(scene.credentials_of(&holder).await.len(), 2);
    assert_eq!(scene.rows("events").await, 2);

    // A body accepted with a Bearer token and later sent again signed: the signed copy can be
    // replayed forever, so its answer is then kept forever too.
    let third = scene.push_body(&holder, json!([scene.badge("Bronze")]), json!([]));
    let third_raw = serde_json::to_vec(&third).unwrap();
    let (status, _, by_token) = send(&scene, &third_raw, &scene.rs256()).await;
    assert_eq!(status, StatusCode::OK, "{by_token}");
    let (_, replayed, _) = send(&scene, &third_raw, &scene.signed()).await;
    assert!(replayed);
    days_pass(&scene, 30).await;
    let (status, replayed, later) = send(&scene, &third_raw, &scene.signed()).await;
    assert_eq!((status, replayed), (StatusCode::OK, true), "{later}");
    assert_eq!(later, by_token);
    assert_eq!(scene.credentials_of(&holder).await.len(), 3);
}

/// Days later, once every answer but the signed call's is gone: that call sent again gets its
/// answer, any other call about the event a 409.
async fn a_settled_event_answers_a_signed_replay_and_refuses_any_other_call(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let event_id = scene.waiting_event(&holder).await;
    let body = scene.issued_body(&event_id, &holder, json!([scene.membership("2")]));
    let raw = serde_json::to_vec(&body).unwrap();
    let (status, _, first) = send(&scene, &raw, &scene.signed()).await;
    assert_eq!(status, StatusCode::OK, "{first}");

    days_pass(&scene, 30).await;
    let (status, replayed, again) = send(&scene, &raw, &scene.signed()).await;
    assert_eq!((status, replayed), (StatusCode::OK, true), "{again}");
    assert_eq!(again, first);
    // Another body for the same event, with a fresh token: a clear 409, nothing issued.
    let other = scene.issued_body(&event_id, &holder, json!([scene.membership("9")]));
    let message = scene
        .refused(
            "credentials-issued",
            &other,
            &scene.rs256(),
            StatusCode::CONFLICT,
            "conflict",
        )
        .await;
    assert!(message.contains("is completed"), "{message}");
    assert_eq!(scene.credentials_of(&holder).await.len(), 1);
    assert_eq!(scene.fx.event(&event_id).await["state"], "completed");
}

async fn a_token_expiring_beyond_the_horizon_is_refused(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let lasting = |scene: &Scene, minutes: u64| {
        Auth::Bearer(
            Signer::rsa(scene.partner.clone()),
            scene
                .claims()
                .with_lifetime(Duration::from_secs(minutes * 60)),
        )
    };
    let body = scene.push_body(&holder, json!([scene.badge("B")]), json!([]));
    for minutes in [12, 60 * 24 * 365] {
        let message = scene
            .refused(
                "credentials-issued",
                &body,
                &lasting(&scene, minutes),
                StatusCode::FORBIDDEN,
                "forbidden",
            )
            .await;
        assert!(message.contains("expire sooner"), "{message}");
    }
    assert_eq!(scene.rows("inbound_jtis").await, 0);
    scene
        .accepted("credentials-issued", &body, &lasting(&scene, 10))
        .await;

    // `[inbound] token_exp_horizon` sets the horizon: at one minute, psi's own 5-minute tokens
    // are too long.
    let app = engine_app_with(backend, &[("inbound.token_exp_horizon", json!("1m"))]).await;
    let scene = Scene::on(Fixture::on(app).await).await;
    let body = scene.push_body(&holder, json!([scene.badge("C")]), json!([]));
    scene
        .refused(
            "credentials-issued",
            &body,
            &lasting(&scene, 5),
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    scene
        .accepted("credentials-issued", &body, &lasting(&scene, 1))
        .await;
}

async fn a_token_without_jti_must_be_bound_to_its_body(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let body = scene.push_body(&holder, json!([scene.badge("B")]), json!([]));
    let raw = serde_json::to_vec(&body).unwrap();
    let signer = Signer::rsa(scene.partner.clone());
    let unbound = Claims::new(UnixTime::now()).with_audience(&scene.fx.did);
    let message = expect_refusal(
        scene
            .call_raw(
                DASHBOARD,
                "credentials-issued",
                raw.clone(),
                &Auth::Bearer(signer.clone(), unbound.clone()),
                &[],
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    for says in ["`jti`", "`body_sha3_256`", "allow_unbound_bearer"] {
        assert!(message.contains(says), "{says}: {message}");
    }
    assert_eq!(scene.rows("events").await, 0);

    // Bound to the body: accepted; the very same call again is answered, not acted on; the
    // token on another body is refused.
    let bound = Auth::Bearer(signer.clone(), unbound.clone().with_body(&raw));
    let (status, _, first) = send(&scene, &raw, &bound).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, replayed, again) = send(&scene, &raw, &bound).await;
    assert!(replayed);
    assert_eq!(again, first);
    let other = scene.push_body(&holder, json!([scene.badge("Other")]), json!([]));
    let message = scene
        .refused(
            "credentials-issued",
            &other,
            &bound,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    assert!(message.contains("body_sha3_256"), "{message}");
    assert_eq!(scene.credentials_of(&holder).await.len(), 1);

    // `[inbound] allow_unbound_bearer` lets such tokens in.
    let app = engine_app_with(backend, &[("inbound.allow_unbound_bearer", json!(true))]).await;
    let scene = Scene::on(Fixture::on(app).await).await;
    let body = scene.push_body(&holder, json!([scene.badge("B")]), json!([]));
    let unbound = Claims::new(UnixTime::now()).with_audience(&scene.fx.did);
    scene
        .accepted("credentials-issued", &body, &Auth::Bearer(signer, unbound))
        .await;
}
