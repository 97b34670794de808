//! `psi serve --demo`: the demo interaction runs end to end through the demo receiver inside psi,
//! and the printed wallet command names a link that starts it.

use psi_server::Config;
use psi_testkit::now_ms;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::Holder;
use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, TestDb, expect_error, expect_json, spawn_app};

backend_tests!(
    the_demo_interaction_completes_through_the_demo_receiver,
    the_demo_receiver_is_mounted_in_demo_mode_only_and_checks_signatures,
    in_demo_mode_outbound_calls_reach_the_demo_receiver_and_no_other_path_of_psi,
);

/// A server in demo mode (as `psi serve --demo`): `build` seeds the demo and attaches its
/// interaction to the receiver before serving; returns it with the demo service's DID.
async fn demo_app(backend: Backend) -> (TestApp, String) {
    let db = TestDb::new(backend).await;
    let mut config = Config::from_figment(db.figment()).unwrap();
    config.demo = true;
    let app = psi_server::build(config).await.unwrap();
    let did = app.demo.clone().expect("demo mode seeds the demo");
    let app = TestApp {
        address: format!("http://{}", app.addr),
        app,
        client: reqwest::Client::new(),
        db,
    };
    (app, did.to_string())
}

async fn the_demo_interaction_completes_through_the_demo_receiver(backend: Backend) {
    let (app, did) = demo_app(backend).await;
    let text = psi_server::demo::wallet::commands(app.app.state(), &did.parse().unwrap(), "psi")
        .await
        .unwrap();
    let command = text
        .lines()
        .find(|line| line.trim_start().starts_with("psi wallet run --server"))
        .unwrap_or_else(|| panic!("a wallet command: {text}"));
    assert!(command.contains(&app.address), "{command}");
    assert!(
        command.contains("--attr 'Date of birth=631152000'"),
        "{command}"
    );
    let link = command.split('\'').nth(1).unwrap();
    let request = psi_link::decode(link).unwrap().request;
    assert_eq!(request.service_did.as_deref(), Some(did.as_str()));
    let prefilled = request.prepared_credentials.clone().unwrap();
    let member = prefilled[0].credential_id.clone();

    // The wallet: read the interaction, present the link's values plus the date of birth.
    let action = request.action_id.clone().unwrap();
    let read = expect_json(
        super::support::get_public(
            &app,
            &format!("/wallet/v1/services/{did}/interactions/{action}"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["required"][0]["credentialId"], member.as_str());
    let mut attributes: Vec<Value> = prefilled[0]
        .attributes
        .iter()
        .map(|a| json!({"name": a.name, "value": a.value}))
        .collect();
    attributes.push(json!({"name": "Date of birth", "value": "631152000"}));
    let holder = Holder::new();
    let outcome = holder
        .run(
            &app,
            &did,
            &action,
            serde_json::to_value(&prefilled).unwrap(),
            json!([{"credentialId": member, "attributes": attributes}]),
        )
        .await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let issued = &outcome["issued"][0];
    assert_eq!(issued["credentialId"], read["issued"][0]["credentialId"]);
    let value = |name: &str| {
        issued["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["value"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(
        value("Member number"),
        "42",
        "carried over from the member card"
    );
    assert_eq!(value("Level"), "0", "choice 42 % 3 of Bronze, Silver, Gold");
    let valid_until: i64 = value("Valid until").parse().unwrap();
    let in_a_year = now_ms() / 1000 + 365 * 24 * 60 * 60;
    assert!((valid_until - in_a_year).abs() < 60, "{valid_until}");
}

async fn the_demo_receiver_is_mounted_in_demo_mode_only_and_checks_signatures(backend: Backend) {
    let (app, did) = demo_app(backend).await;
    let path = format!("/demo/receiver/{did}");
    let unsigned = app
        .client
        .post(app.url(&path))
        .json(&json!({"actionId": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
    let body: Value = unsigned.json().await.unwrap();
    assert_eq!(body["ok"], false);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("X-Body-Signature"),
        "{body}"
    );

    let plain = spawn_app(backend).await;
    let response = plain
        .client
        .post(plain.url(&path))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn in_demo_mode_outbound_calls_reach_the_demo_receiver_and_no_other_path_of_psi(
    backend: Backend,
) {
    let (app, did) = demo_app(backend).await;
    let outbound = &app.app.state().outbound;
    let receiver = outbound
        .post_json(
            &app.url(&format!("/demo/receiver/{did}")),
            "{}",
            psi_outbound::header::HeaderMap::new(),
            None,
        )
        .await
        .expect("the demo receiver is admitted");
    assert_eq!(
        receiver.status,
        StatusCode::FORBIDDEN,
        "it checks signatures"
    );
    for path in [
        "/api/v1/services".to_owned(),
        format!("/service-dashboard-backend/service/{did}/info/action-templates"),
        "/metrics".to_owned(),
        "/demo/receiver/../api/v1/services".to_owned(),
    ] {
        let err = outbound.get(&app.url(&path)).await.unwrap_err();
        assert_eq!(err.code(), "refused_address", "{path}: {err}");
    }

    // A tenant's notification endpoint at psi's own API: refused when saved, as every call
    // to it would be; the demo receiver's own address is admitted.
    let own_api = app.url("/api/v1/services");
    let endpoints = format!("/api/v1/services/{did}/endpoints");
    let body = |url: &str| json!({"url": url, "key": "default", "auth": "signature"});
    let message = expect_error(
        app.post(&endpoints, ADMIN_TOKEN, &body(&own_api)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        message.contains("127.0.0.1 is a loopback address"),
        "{message}"
    );
    let demo_receiver = app.url(&format!("/demo/receiver/{did}"));
    expect_json(
        app.post(&endpoints, ADMIN_TOKEN, &body(&demo_receiver))
            .await,
        StatusCode::CREATED,
    )
    .await;
}
