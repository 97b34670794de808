//! Objects of the interaction model that several test files build on: a schema, credential
//! definitions, interactions, each created through the API as a client would.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, expect_error, expect_json};

/// Attributes of every type.
pub fn attributes() -> Value {
    json!([
        {"name": "Full name", "type": "text"},
        {"name": "Born", "type": "date"},
        {"name": "Height", "type": "number"},
        {"name": "Level", "type": "enumeration", "enum_values": [{"name": "Gold"}, {"name": "Silver"}]},
        {"name": "Photo", "type": "image"}
    ])
}

/// Creates a schema `name` 1.0 with [`attributes`]; returns it.
pub async fn schema(app: &TestApp, did: &str, name: &str) -> Value {
    let body = json!({"name": name, "version": "1.0", "attributes": attributes()});
    let response = app
        .post(
            &format!("/api/v1/services/{did}/schemas"),
            ADMIN_TOKEN,
            &body,
        )
        .await;
    expect_json(response, StatusCode::CREATED).await
}

/// Creates a credential definition of `schema_id` with `attestation` and any further fields;
/// returns it.
pub async fn definition(
    app: &TestApp,
    did: &str,
    schema_id: &Value,
    attestation: &str,
    extra: Value,
) -> Value {
    let mut body = json!({"schema": schema_id, "attestation": attestation});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let response = app
        .post(
            &format!("/api/v1/services/{did}/credential-definitions"),
            ADMIN_TOKEN,
            &body,
        )
        .await;
    expect_json(response, StatusCode::CREATED).await
}

/// A service with one schema and a self-attested and a service-attested definition of it;
/// returns (did, self-attested credential id, service-attested credential id).
pub async fn service_with_definitions(app: &TestApp, name: &str) -> (String, String, String) {
    let did = app.create_service(name).await;
    let schema = schema(app, &did, "Membership").await;
    let own = definition(
        app,
        &did,
        &schema["schema_id"],
        "self",
        json!({"tag": "self"}),
    )
    .await;
    let issued = definition(app, &did, &schema["schema_id"], "service", json!({})).await;
    (
        did,
        own["credential_id"].as_str().unwrap().to_owned(),
        issued["credential_id"].as_str().unwrap().to_owned(),
    )
}

/// Creates an interaction from `body`; returns it.
pub async fn interaction(app: &TestApp, did: &str, body: Value) -> Value {
    let response = app
        .post(
            &format!("/api/v1/services/{did}/interactions"),
            ADMIN_TOKEN,
            &body,
        )
        .await;
    expect_json(response, StatusCode::CREATED).await
}

/// Asserts a 404 `not_found` answer: no such object, or not the caller's.
pub async fn expect_not_found(response: Response) {
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

/// A service "Acme" with a service token and a generated RSA key pair "signing", made with that
/// token: the DID, the token, the keys path and the created key.
pub async fn service_with_signing_key(app: &TestApp) -> (String, String, String, Value) {
    let did = app.create_service("Acme").await;
    let (_, token) = app.create_token(&did).await;
    let path = format!("/api/v1/services/{did}/keys");
    let created = expect_json(
        app.post(
            &path,
            &token,
            &json!({"name": "signing", "type": "rsa_key_pair"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    (did, token, path, created)
}
