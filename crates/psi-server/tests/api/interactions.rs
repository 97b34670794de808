use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use figment::providers::Serialized;

use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_error, expect_json, spawn_app};
use crate::model;

fn interactions(did: &str) -> String {
    format!("/api/v1/services/{did}/interactions")
}

backend_tests!(
    an_interaction_is_created_with_a_default_instance_and_listed_with_its_id,
    required_and_issued_credentials_keep_their_order,
    pre_fill_is_allowed_on_self_attested_definitions_only,
    external_verification_needs_a_definition_with_a_check_webhook,
    credential_ids_must_belong_to_this_service,
    interaction_names_are_plain_and_unique_per_service,
    an_interaction_webhook_with_a_sha_secret_needs_bearer_auth,
    an_interaction_webhook_needs_a_known_key_and_an_http_url,
    an_interaction_webhook_given_only_its_url_signs_with_the_default_key,
    a_webhook_url_the_outbound_policy_refuses_is_refused_when_saved,
    interactions_are_paused_and_activated_never_deleted,
    a_patch_changes_only_the_given_fields_and_null_removes_the_webhook,
    another_services_token_gets_404_on_an_interaction,
    a_completion_url_is_an_absolute_http_url_and_null_removes_it,
);

async fn an_interaction_is_created_with_a_default_instance_and_listed_with_its_id(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (did, self_attested, issued) = model::service_with_definitions(&app, "Acme").await;
    let (_, token) = app.create_token(&did).await;
    let body = json!({
        "name": "Join the club",
        "description": "Members get a card.",
        "media": ["QR", "PUSH"],
        "required_credentials": [{"credential_id": self_attested, "prefill_from_qr": true, "only_last": true}],
        "issued_credentials": [issued],
        "webhook": {"url": "https://hooks.example.com/psi", "key": "default", "auth": "signature", "timeout_ms": 5000},
        "parameters": [{"name": "location", "value": "Berlin"}]
    });
    let created = expect_json(
        app.post(&interactions(&did), &token, &body).await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().expect("an id string");
    assert_eq!(created["name"], "Join the club");
    assert_eq!(created["description"], "Members get a card.");
    assert_eq!(created["active"], true);
    assert_eq!(created["media"], json!(["QR", "PUSH"]));
    assert_eq!(
        created["required_credentials"],
        json!([{"credential_id": self_attested, "prefill_from_qr": true, "external_verification": false, "only_last": true}])
    );
    assert_eq!(created["issued_credentials"], json!([issued]));
    assert_eq!(
        created["webhook"],
        json!({"url": "https://hooks.example.com/psi", "key": "default", "auth": "signature", "timeout_ms": 5000})
    );
    let instances = created["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0]["is_default"], true);
    assert_eq!(
        instances[0]["parameters"],
        json!([{"name": "location", "value": "Berlin"}])
    );

    let fetched = expect_json(
        app.get(&format!("{}/{id}", interactions(&did)), &token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fetched, created);
    let minimal = model::interaction(&app, &did, json!({"name": "Minimal"})).await;
    assert_eq!(minimal["media"], json!(["QR"]));
    assert_eq!(
        (&minimal["webhook"], &minimal["required_credentials"]),
        (&Value::Null, &json!([]))
    );
    assert_eq!(minimal["instances"][0]["parameters"], json!([]));
    let listed = expect_json(app.get(&interactions(&did), &token).await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([created, minimal]));
}

async fn required_and_issued_credentials_keep_their_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let (did, first, second) = model::service_with_definitions(&app, "Acme").await;
    let body = json!({"name": "Order", "required_credentials": [{"credential_id": second}, {"credential_id": first}], "issued_credentials": [second, first]});
    let created = model::interaction(&app, &did, body).await;
    let required: Vec<&Value> = created["required_credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["credential_id"])
        .collect();
    assert_eq!(required, [&json!(second), &json!(first)]);
    assert_eq!(created["issued_credentials"], json!([second, first]));
    let twice = json!({"name": "Twice", "issued_credentials": [first, first]});
    let message = expect_error(
        app.post(&interactions(&did), ADMIN_TOKEN, &twice).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        message.starts_with("`issued_credentials[1]`") && message.contains("twice"),
        "{message}"
    );
}

async fn pre_fill_is_allowed_on_self_attested_definitions_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let (did, self_attested, service_attested) =
        model::service_with_definitions(&app, "Acme").await;
    let body = json!({"name": "Prefill", "required_credentials": [{"credential_id": self_attested, "prefill_from_qr": true}, {"credential_id": service_attested, "prefill_from_qr": true}]});
    let message = expect_error(
        app.post(&interactions(&did), ADMIN_TOKEN, &body).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(
        message.starts_with("`required_credentials[1].prefill_from_qr`")
            && message.contains(&service_attested),
        "{message}"
    );
    let listed = expect_json(
        app.get(&interactions(&did), ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["data"], json!([]), "nothing stored");
}

async fn external_verification_needs_a_definition_with_a_check_webhook(backend: Backend) {
    let app = spawn_app(backend).await;
    let (did, self_attested, _) = model::service_with_definitions(&app, "Acme").await;
    let body = json!({"name": "Verify", "required_credentials": [{"credential_id": self_attested, "external_verification": true}]});
    let message = expect_error(
        app.post(&interactions(&did), ADMIN_TOKEN, &body).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(message.contains("has no check webhook"), "{message}");
    let hook = json!({"check_webhook": {"url": "https://checks.example.com/", "key": "default", "auth": "signature"}});
    let path = format!("/api/v1/services/{did}/credential-definitions/{self_attested}");
    expect_json(app.patch(&path, ADMIN_TOKEN, &hook).await, StatusCode::OK).await;
    let created = model::interaction(&app, &did, body).await;
    assert_eq!(
        created["required_credentials"][0]["external_verification"],
        true
    );
}

async fn credential_ids_must_belong_to_this_service(backend: Backend) {
    let app = spawn_app(backend).await;
    let (did, own, _) = model::service_with_definitions(&app, "Acme").await;
    let (other, foreign, _) = model::service_with_definitions(&app, "Other").await;
    // Another service's public definitions may be required (tests/api/trust.rs), not issued,
    // and only those that exist.
    let cases = [
        (
            json!({"name": "x", "required_credentials": [{"credential_id": format!("{other}:3:CL:99:default")}]}),
            "no service on this server publishes a credential definition",
        ),
        (
            json!({"name": "x", "required_credentials": [{"credential_id": "Gbz5PqgnU4XsMs7xg9mYJW:3:CL:1:default"}]}),
            "no service on this server publishes a credential definition",
        ),
        (
            json!({"name": "x", "issued_credentials": [own, foreign]}),
            "belongs to another service",
        ),
        (
            json!({"name": "x", "issued_credentials": [format!("{did}:3:CL:99:default")]}),
            "has no credential definition",
        ),
        (
            json!({"name": "x", "required_credentials": [{"credential_id": "not-an-id"}]}),
            "is not a credential definition id",
        ),
    ];
    for (body, expected) in cases {
        let message = expect_error(
            app.post(&interactions(&did), ADMIN_TOKEN, &body).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(message.contains(expected), "{body}: {message}");
    }
}

async fn interaction_names_are_plain_and_unique_per_service(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_service("A").await;
    let b = app.create_service("B").await;
    model::interaction(&app, &a, json!({"name": "Join"})).await;
    let message = expect_error(
        app.post(&interactions(&a), ADMIN_TOKEN, &json!({"name": " Join "}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("\"Join\""), "{message}");
    model::interaction(&app, &b, json!({"name": "Join"})).await;
    let second = model::interaction(&app, &a, json!({"name": "Leave"})).await;
    let path = format!("{}/{}", interactions(&a), second["id"].as_str().unwrap());
    expect_error(
        app.patch(&path, ADMIN_TOKEN, &json!({"name": "Join"}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    for body in [
        json!({"name": "<script>alert(1)</script>"}),
        json!({"name": ""}),
        json!({"name": "x", "media": ["QR", "QR"]}),
        json!({"name": "x", "media": ["EMAIL"]}),
    ] {
        expect_error(
            app.post(&interactions(&a), ADMIN_TOKEN, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

async fn an_interaction_webhook_with_a_sha_secret_needs_bearer_auth(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let key = json!({"name": "shared", "type": "sha_secret"});
    expect_json(
        app.post(&format!("/api/v1/services/{did}/keys"), ADMIN_TOKEN, &key)
            .await,
        StatusCode::CREATED,
    )
    .await;
    let body = |auth: &str| json!({"name": format!("hook {auth}"), "webhook": {"url": "https://hooks.example.com/", "key": "shared", "auth": auth}});
    let message = expect_error(
        app.post(&interactions(&did), ADMIN_TOKEN, &body("signature"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        message.starts_with("`webhook`") && message.contains("SHA secret"),
        "{message}"
    );
    let created = model::interaction(&app, &did, body("bearer")).await;
    assert_eq!(created["webhook"]["auth"], "bearer");
    let path = format!("{}/{}", interactions(&did), created["id"].as_str().unwrap());
    let to_signature = json!({"webhook": {"url": "https://hooks.example.com/", "key": "shared", "auth": "signature"}});
    expect_error(
        app.patch(&path, ADMIN_TOKEN, &to_signature).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

async fn an_interaction_webhook_needs_a_known_key_and_an_http_url(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let unknown = json!({"name": "x", "webhook": {"url": "https://hooks.example.com/", "key": "missing", "auth": "bearer"}});
    let message = expect_error(
        app.post(&interactions(&did), ADMIN_TOKEN, &unknown).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(
        message.starts_with("`webhook.key`") && message.contains("\"missing\""),
        "{message}"
    );
    for url in ["javascript:alert(1)", "file:///etc/passwd", "/relative"] {
        let body =
            json!({"name": "x", "webhook": {"url": url, "key": "default", "auth": "signature"}});
        let message = expect_error(
            app.post(&interactions(&did), ADMIN_TOKEN, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(message.contains("http or https"), "{url}: {message}");
    }
}

async fn an_interaction_webhook_given_only_its_url_signs_with_the_default_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let body = json!({"name": "x", "webhook": {"url": "https://hooks.example.com/"}});
    let created = model::interaction(&app, &did, body).await;
    assert_eq!(
        created["webhook"],
        json!({"url": "https://hooks.example.com/", "key": "default", "auth": "signature",
               "timeout_ms": 10000})
    );
}

/// Saves `url` as an interaction's webhook, a credential definition's check webhook and a
/// notification endpoint; returns the three answers.
async fn save_webhook_everywhere(app: &TestApp, did: &str, url: &str) -> Vec<reqwest::Response> {
    let hook = json!({"url": url});
    let schema = model::schema(app, did, &format!("S{}", uuid::Uuid::new_v4().simple())).await;
    let definition = json!({"schema": schema["schema_id"], "attestation": "service",
                            "check_webhook": hook});
    let name = format!("I{}", uuid::Uuid::new_v4().simple());
    vec![
        app.post(
            &interactions(did),
            ADMIN_TOKEN,
            &json!({"name": name, "webhook": hook}),
        )
        .await,
        app.post(
            &format!("/api/v1/services/{did}/credential-definitions"),
            ADMIN_TOKEN,
            &definition,
        )
        .await,
        app.post(
            &format!("/api/v1/services/{did}/endpoints"),
            ADMIN_TOKEN,
            &json!({"url": url, "key": "default", "auth": "signature"}),
        )
        .await,
    ]
}

async fn a_webhook_url_the_outbound_policy_refuses_is_refused_when_saved(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let cases = [
        (
            "http://127.0.0.1:9000/hook",
            "127.0.0.1 is a loopback address",
            "PSI_OUTBOUND_ALLOW_LOOPBACK=true",
        ),
        (
            "http://localhost:9000/hook",
            "localhost is a loopback address",
            "PSI_OUTBOUND_ALLOW_LOOPBACK=true",
        ),
        (
            "http://[::1]/hook",
            "[::1] is a loopback address",
            "`allow_loopback` in [outbound]",
        ),
        (
            "https://10.1.2.3/hook",
            "10.1.2.3 is a private address",
            "PSI_OUTBOUND_ALLOW_PRIVATE=true",
        ),
        (
            "http://169.254.169.254/latest",
            "link-local address",
            "only an exception in [outbound] `allowed_hosts`",
        ),
    ];
    for (url, reason, remedy) in cases {
        for response in save_webhook_everywhere(&app, &did, url).await {
            let message = expect_error(
                response,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
            assert!(
                message.contains(reason) && message.contains(remedy),
                "{url}: {message}"
            );
        }
    }
    // A host name is resolved at each call, not when saved.
    for response in save_webhook_everywhere(&app, &did, "https://hooks.example.com/").await {
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }
    let app = app
        .restart_with(|db| {
            db.figment()
                .merge(Serialized::default("outbound.allow_loopback", true))
        })
        .await;
    for response in save_webhook_everywhere(&app, &did, "http://localhost:9000/hook").await {
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }
}

async fn interactions_are_paused_and_activated_never_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let (_, token) = app.create_token(&did).await;
    let created = model::interaction(&app, &did, json!({"name": "Join"})).await;
    let path = format!("{}/{}", interactions(&did), created["id"].as_str().unwrap());
    let response = app.delete(&path, &token).await;
    let body = expect_json(response, StatusCode::CONFLICT).await;
    assert_eq!(
        body,
        json!({"error": {"code": "interaction_not_deletable", "message": "interactions are never deleted; pause it instead (PATCH active=false)"}})
    );
    let paused = expect_json(
        app.patch(&path, &token, &json!({"active": false})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(paused["active"], false);
    assert_eq!(paused["name"], "Join");
    assert_eq!(paused["instances"], created["instances"], "instances stay");
    let fetched = expect_json(app.get(&path, &token).await, StatusCode::OK).await;
    assert_eq!(fetched["active"], false);
    let active = expect_json(
        app.patch(&path, &token, &json!({"active": true})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(active["active"], true);
    model::expect_not_found(
        app.delete(&format!("{}/nope", interactions(&did)), &token)
            .await,
    )
    .await;
}

async fn a_patch_changes_only_the_given_fields_and_null_removes_the_webhook(backend: Backend) {
    let app = spawn_app(backend).await;
    let (did, self_attested, issued) = model::service_with_definitions(&app, "Acme").await;
    let created = model::interaction(
        &app,
        &did,
        json!({
        "name": "Join", "description": "old",
        "required_credentials": [{"credential_id": self_attested, "prefill_from_qr": true}],
        "webhook": {"url": "https://hooks.example.com/", "key": "default", "auth": "signature"}}),
    )
    .await;
    let path = format!("{}/{}", interactions(&did), created["id"].as_str().unwrap());
    let changed = expect_json(
        app.patch(
            &path,
            ADMIN_TOKEN,
            &json!({"description": "new", "issued_credentials": [issued]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["description"], "new");
    assert_eq!(changed["issued_credentials"], json!([issued]));
    assert_eq!(
        changed["required_credentials"],
        created["required_credentials"]
    );
    assert_eq!(changed["webhook"], created["webhook"]);
    assert!(changed["updated_at"].as_i64() >= created["updated_at"].as_i64());
    let removed = expect_json(
        app.patch(
            &path,
            ADMIN_TOKEN,
            &json!({"webhook": null, "required_credentials": []}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&removed["webhook"], &removed["required_credentials"]),
        (&Value::Null, &json!([]))
    );
    assert_eq!(removed["issued_credentials"], json!([issued]));
    let message = expect_error(
        app.patch(&path, ADMIN_TOKEN, &json!({"instances": []}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("instances"), "{message}");
}

async fn another_services_token_gets_404_on_an_interaction(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_service("A").await;
    let b = app.create_service("B").await;
    let (_, b_token) = app.create_token(&b).await;
    let created = model::interaction(&app, &a, json!({"name": "Join"})).await;
    let id = created["id"].as_str().unwrap();
    for did in [&a, &b] {
        let path = format!("{}/{id}", interactions(did));
        model::expect_not_found(app.get(&path, &b_token).await).await;
        model::expect_not_found(app.patch(&path, &b_token, &json!({"active": false})).await).await;
        model::expect_not_found(app.delete(&path, &b_token).await).await;
    }
    model::expect_not_found(app.get(&interactions(&a), &b_token).await).await;
    assert_eq!(
        expect_json(app.get(&interactions(&b), &b_token).await, StatusCode::OK).await["data"],
        json!([])
    );
    let unchanged = expect_json(
        app.get(&format!("{}/{id}", interactions(&a)), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["active"], true);
}

async fn a_completion_url_is_an_absolute_http_url_and_null_removes_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let created = model::interaction(&app, &did, json!({"name": "Join"})).await;
    assert_eq!(created["completion_url"], Value::Null);
    let path = format!("{}/{}", interactions(&did), created["id"].as_str().unwrap());
    for bad in [
        "javascript:alert(1)",
        "/welcome",
        "https://user:secret@shop.example.org/",
        "ftp://shop.example.org/",
    ] {
        let message = expect_error(
            app.patch(&path, ADMIN_TOKEN, &json!({"completion_url": bad}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(message.contains("completion_url"), "{bad}: {message}");
    }
    let set = expect_json(
        app.patch(
            &path,
            ADMIN_TOKEN,
            &json!({"completion_url": "https://shop.example.org/welcome?from=psi"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        set["completion_url"],
        "https://shop.example.org/welcome?from=psi"
    );
    // Other changes keep it; null removes it.
    let renamed = expect_json(
        app.patch(&path, ADMIN_TOKEN, &json!({"name": "Join us"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed["completion_url"], set["completion_url"]);
    let removed = expect_json(
        app.patch(&path, ADMIN_TOKEN, &json!({"completion_url": null}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(removed["completion_url"], Value::Null);
}
