use psi_webhook::PrivateKey;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_error, expect_json, spawn_app};
use crate::model;

fn definitions(did: &str) -> String {
    format!("/api/v1/services/{did}/credential-definitions")
}

async fn add_key(app: &TestApp, did: &str, body: Value) {
    let response = app
        .post(&format!("/api/v1/services/{did}/keys"), ADMIN_TOKEN, &body)
        .await;
    expect_json(response, StatusCode::CREATED).await;
}

async fn add_partner_key(app: &TestApp, did: &str) {
    let public = PrivateKey::generate()
        .unwrap()
        .public_key()
        .to_spki_pem()
        .unwrap();
    add_key(
        app,
        did,
        json!({"name": "partner", "type": "rsa_public_key", "public_key_pem": public}),
    )
    .await;
}

/// Posts a definition of a fresh schema with `extra` fields; returns the response.
async fn attempt(app: &TestApp, did: &str, extra: Value) -> reqwest::Response {
    let schema = model::schema(app, did, &format!("S{}", uuid::Uuid::new_v4().simple())).await;
    let mut body = json!({"schema": schema["schema_id"], "attestation": "service"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap());
    app.post(&definitions(did), ADMIN_TOKEN, &body).await
}

backend_tests!(
    a_definition_gets_a_wire_id_from_the_service_did_a_number_and_its_tag,
    a_schema_has_one_definition_per_tag,
    another_services_schema_is_named_by_its_wire_id_and_nothing_else,
    a_sha_secret_with_signature_auth_is_a_validation_error,
    an_unknown_key_name_is_a_bad_request,
    issuers_are_third_party_public_keys_or_sha_secrets,
    source_ip_prefixes_must_be_cidrs_without_host_bits,
    a_check_webhook_needs_an_http_url_and_a_sane_timeout,
    the_settings_change_and_the_identity_stays,
    a_check_webhook_that_interactions_verify_with_cannot_be_removed,
    another_services_token_gets_404_on_a_definition,
);

async fn a_definition_gets_a_wire_id_from_the_service_did_a_number_and_its_tag(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let (_, token) = app.create_token(&did).await;
    let schema = model::schema(&app, &did, "Membership").await;
    let first = model::definition(&app, &did, &schema["schema_id"], "service", json!({})).await;
    assert_eq!(first["credential_id"], format!("{did}:3:CL:1:default"));
    assert_eq!(first["schema_id"], schema["schema_id"]);
    assert_eq!(first["attestation"], "service");
    assert_eq!(first["one_off"], false);
    assert_eq!(first["check_webhook"], Value::Null);
    assert_eq!(first["issuers"], json!([]));
    assert_eq!(first["source_ip_prefixes"], json!([]));
    // The schema may also be named by its internal id.
    let second = model::definition(
        &app,
        &did,
        &schema["id"],
        "self",
        json!({"tag": "holder", "one_off": true}),
    )
    .await;
    assert_eq!(second["credential_id"], format!("{did}:3:CL:2:holder"));
    assert_eq!(
        (&second["attestation"], &second["one_off"]),
        (&json!("self"), &json!(true))
    );

    let plain = format!("{}/{did}:3:CL:2:holder", definitions(&did));
    assert_eq!(
        expect_json(app.get(&plain, &token).await, StatusCode::OK).await,
        second
    );
    let encoded = format!("{}/{did}%3A3%3ACL%3A2%3Aholder", definitions(&did));
    assert_eq!(
        expect_json(app.get(&encoded, &token).await, StatusCode::OK).await,
        second
    );
    let listed = expect_json(app.get(&definitions(&did), &token).await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([first, second]));
    for missing in [
        "nonsense",
        &format!("{did}:3:CL:9:default"),
        &format!("{did}:3:CL:1:other"),
    ] {
        model::expect_not_found(
            app.get(&format!("{}/{missing}", definitions(&did)), &token)
                .await,
        )
        .await;
    }
}

async fn a_schema_has_one_definition_per_tag(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let schema = model::schema(&app, &did, "Membership").await;
    model::definition(&app, &did, &schema["schema_id"], "service", json!({})).await;
    let body = json!({"schema": schema["schema_id"], "attestation": "self"});
    let message = expect_error(
        app.post(&definitions(&did), ADMIN_TOKEN, &body).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("\"default\""), "{message}");
    let other = model::schema(&app, &did, "Other").await;
    let again = model::definition(&app, &did, &other["schema_id"], "service", json!({})).await;
    assert_eq!(
        again["credential_id"],
        format!("{did}:3:CL:2:default"),
        "numbers count per service, across schemas"
    );
}

async fn another_services_schema_is_named_by_its_wire_id_and_nothing_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let other = app.create_service("Other").await;
    let foreign = model::schema(&app, &other, "Membership").await;
    // Several issuers may vouch for one kind of credential: a definition of another's schema.
    let body = json!({"schema": foreign["schema_id"], "attestation": "service"});
    let created = expect_json(
        app.post(&definitions(&did), ADMIN_TOKEN, &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["schema_id"], foreign["schema_id"]);
    assert!(
        created["credential_id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{did}:3:CL:")),
        "{created}"
    );
    // The schema is in use by another service's definition: it cannot change or go.
    let message = expect_error(
        app.delete(
            &format!(
                "/api/v1/services/{other}/schemas/{}",
                foreign["id"].as_str().unwrap()
            ),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(
        message.contains(created["credential_id"].as_str().unwrap()),
        "{message}"
    );
    for schema in [
        foreign["id"].clone(),
        json!(format!("{did}:2:Missing:1.0")),
        json!(format!("{other}:2:Missing:1.0")),
        json!("nothing"),
    ] {
        let body = json!({"schema": schema, "attestation": "service"});
        let message = expect_error(
            app.post(&definitions(&did), ADMIN_TOKEN, &body).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(message.starts_with("`schema`"), "{message}");
    }
}

async fn a_sha_secret_with_signature_auth_is_a_validation_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    add_key(&app, &did, json!({"name": "shared", "type": "sha_secret"})).await;
    let hook = |auth: &str| json!({"check_webhook": {"url": "https://checks.example.com/", "key": "shared", "auth": auth}});
    let message = expect_error(
        attempt(&app, &did, hook("signature")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        message.contains("SHA secret") && message.contains("bearer"),
        "{message}"
    );
    let created = expect_json(
        attempt(&app, &did, hook("bearer")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        created["check_webhook"],
        json!({"url": "https://checks.example.com/", "key": "shared", "auth": "bearer", "timeout_ms": 10000})
    );
}

async fn an_unknown_key_name_is_a_bad_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let cases = [
        (
            json!({"check_webhook": {"url": "https://x.example/", "key": "nope", "auth": "signature"}}),
            "`check_webhook.key`",
        ),
        (json!({"issuers": ["nope"]}), "`issuers[0]`"),
    ];
    for (extra, field) in cases {
        let message = expect_error(
            attempt(&app, &did, extra.clone()).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(
            message.starts_with(field) && message.contains("\"nope\""),
            "{extra}: {message}"
        );
    }
}

async fn issuers_are_third_party_public_keys_or_sha_secrets(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    add_partner_key(&app, &did).await;
    add_key(&app, &did, json!({"name": "shared", "type": "sha_secret"})).await;
    let message = expect_error(
        attempt(&app, &did, json!({"issuers": ["default"]})).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(message.contains("\"default\""), "{message}");
    let created = expect_json(
        attempt(
            &app,
            &did,
            json!({"issuers": ["shared", "partner", "shared"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["issuers"], json!(["partner", "shared"]));
}

async fn source_ip_prefixes_must_be_cidrs_without_host_bits(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let message = expect_error(
        attempt(
            &app,
            &did,
            json!({"source_ip_prefixes": ["10.0.0.0/8", "10.0.0.0/40"]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.starts_with("`source_ip_prefixes[1]`"), "{message}");
    let message = expect_error(
        attempt(
            &app,
            &did,
            json!({"source_ip_prefixes": ["192.168.1.7/24"]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("did you mean 192.168.1.0/24"), "{message}");
    let created = expect_json(
        attempt(
            &app,
            &did,
            json!({"source_ip_prefixes": ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        created["source_ip_prefixes"],
        json!(["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"])
    );
}

async fn a_check_webhook_needs_an_http_url_and_a_sane_timeout(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let cases = [
        (
            json!({"url": "ftp://checks.example.com/", "key": "default", "auth": "signature"}),
            "http or https",
        ),
        (
            json!({"url": "checks.example.com", "key": "default", "auth": "signature"}),
            "http or https",
        ),
        (
            json!({"url": "https://user:secret@checks.example.com/", "key": "default", "auth": "signature"}),
            "user name or password",
        ),
        (
            json!({"url": "https://checks.example.com/", "key": "default", "auth": "signature", "timeout_ms": 0}),
            "timeout_ms",
        ),
    ];
    for (hook, expected) in cases {
        let message = expect_error(
            attempt(&app, &did, json!({"check_webhook": hook})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(
            message.starts_with("`check_webhook`") && message.contains(expected),
            "{hook}: {message}"
        );
    }
}

async fn the_settings_change_and_the_identity_stays(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    add_partner_key(&app, &did).await;
    let schema = model::schema(&app, &did, "Membership").await;
    let hook = json!({"url": "https://checks.example.com/", "key": "default", "auth": "signature", "timeout_ms": 2500});
    let created = model::definition(
        &app,
        &did,
        &schema["schema_id"],
        "self",
        json!({"check_webhook": hook, "issuers": ["partner"]}),
    )
    .await;
    let path = format!(
        "{}/{}",
        definitions(&did),
        created["credential_id"].as_str().unwrap()
    );
    let changed = expect_json(
        app.patch(
            &path,
            ADMIN_TOKEN,
            &json!({"one_off": true, "source_ip_prefixes": ["10.0.0.0/8"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["one_off"], true);
    assert_eq!(changed["source_ip_prefixes"], json!(["10.0.0.0/8"]));
    assert_eq!(changed["check_webhook"], hook, "absent fields stay");
    assert_eq!(changed["issuers"], json!(["partner"]));
    assert_eq!(changed["credential_id"], created["credential_id"]);
    let removed = expect_json(
        app.patch(
            &path,
            ADMIN_TOKEN,
            &json!({"check_webhook": null, "issuers": []}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(removed["check_webhook"], Value::Null);
    assert_eq!(removed["issuers"], json!([]));
    assert_eq!(removed["one_off"], true);
    let message = expect_error(
        app.patch(&path, ADMIN_TOKEN, &json!({"tag": "other"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("tag"), "{message}");
    expect_error(
        app.patch(&path, ADMIN_TOKEN, &json!({"issuers": ["default"]}))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let fetched = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(fetched, removed, "a refused change stores nothing");
}

async fn a_check_webhook_that_interactions_verify_with_cannot_be_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let schema = model::schema(&app, &did, "Membership").await;
    let hook = json!({"url": "https://checks.example.com/", "key": "default", "auth": "signature"});
    let definition = model::definition(
        &app,
        &did,
        &schema["schema_id"],
        "service",
        json!({"check_webhook": hook}),
    )
    .await;
    let credential_id = definition["credential_id"].as_str().unwrap();
    model::interaction(&app, &did, json!({"name": "Verify", "required_credentials": [{"credential_id": credential_id, "external_verification": true}]})).await;
    let path = format!("{}/{credential_id}", definitions(&did));
    let message = expect_error(
        app.patch(&path, ADMIN_TOKEN, &json!({"check_webhook": null}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("\"Verify\""), "{message}");
    let other = json!({"url": "https://other.example.com/", "key": "default", "auth": "bearer"});
    let replaced = expect_json(
        app.patch(&path, ADMIN_TOKEN, &json!({"check_webhook": other}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        replaced["check_webhook"]["url"],
        "https://other.example.com/"
    );
}

async fn another_services_token_gets_404_on_a_definition(backend: Backend) {
    let app = spawn_app(backend).await;
    let (a, self_attested, _) = model::service_with_definitions(&app, "A").await;
    let b = app.create_service("B").await;
    let (_, b_token) = app.create_token(&b).await;
    for did in [&a, &b] {
        let path = format!("{}/{self_attested}", definitions(did));
        model::expect_not_found(app.get(&path, &b_token).await).await;
        model::expect_not_found(app.patch(&path, &b_token, &json!({"one_off": true})).await).await;
    }
    model::expect_not_found(app.get(&definitions(&a), &b_token).await).await;
    let listed = expect_json(app.get(&definitions(&b), &b_token).await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]));
    let unchanged = expect_json(
        app.get(&format!("{}/{self_attested}", definitions(&a)), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["one_off"], false);
}
