use psi_webhook::{PrivateKey, SharedSecret};
use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, expect_error, expect_json, spawn_app};
use crate::model;

backend_tests!(
    a_generated_rsa_key_pair_shows_its_public_pem_only,
    an_imported_private_key_publishes_its_own_public_key,
    a_third_partys_public_key_is_imported,
    a_generated_sha_secret_is_shown_once_and_an_imported_one_never,
    bad_key_material_answers_400_naming_the_field,
    invalid_key_requests_answer_422,
    a_key_name_is_unique_per_service,
    keys_are_deleted_except_the_default,
    a_key_in_use_by_a_credential_definition_cannot_be_deleted,
);

async fn a_generated_rsa_key_pair_shows_its_public_pem_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token, path, created) = model::service_with_signing_key(&app).await;
    assert_eq!(created["type"], "rsa_key_pair");
    let public = created["public_pem"].as_str().unwrap();
    psi_webhook::PublicKey::from_pem(public).expect("a valid SPKI PEM");
    assert!(!created.to_string().contains("PRIVATE"), "{created}");
    let fetched = expect_json(
        app.get(&format!("{path}/signing"), &token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fetched["public_pem"], public);
    assert!(fetched.get("secret").is_none());
}

async fn an_imported_private_key_publishes_its_own_public_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let key = PrivateKey::generate().unwrap();
    let pem = key.to_pkcs8_pem().unwrap();
    let body = json!({"name": "imported", "type": "rsa_key_pair", "private_key_pem": pem.as_str()});
    let created = expect_json(
        app.post(&format!("/api/v1/services/{did}/keys"), ADMIN_TOKEN, &body)
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        created["public_pem"],
        key.public_key().to_spki_pem().unwrap()
    );
}

async fn a_third_partys_public_key_is_imported(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let public = PrivateKey::generate()
        .unwrap()
        .public_key()
        .to_spki_pem()
        .unwrap();
    let body = json!({"name": "partner", "type": "rsa_public_key", "public_key_pem": public});
    let created = expect_json(
        app.post(&format!("/api/v1/services/{did}/keys"), ADMIN_TOKEN, &body)
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["type"], "rsa_public_key");
    assert_eq!(created["public_pem"], public.as_str());
    let missing = json!({"name": "partner2", "type": "rsa_public_key"});
    let message = expect_error(
        app.post(
            &format!("/api/v1/services/{did}/keys"),
            ADMIN_TOKEN,
            &missing,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("public_key_pem"), "{message}");
}

async fn a_generated_sha_secret_is_shown_once_and_an_imported_one_never(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let path = format!("/api/v1/services/{did}/keys");
    let created = expect_json(
        app.post(
            &path,
            ADMIN_TOKEN,
            &json!({"name": "shared", "type": "sha_secret"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let secret =
        SharedSecret::from_base64(created["secret"].as_str().unwrap()).expect("32 bytes of base64");
    assert!(created.get("public_pem").is_none());
    let fetched = expect_json(
        app.get(&format!("{path}/shared"), ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await;
    assert!(fetched.get("secret").is_none(), "{fetched}");
    let listed = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert!(!listed.to_string().contains(secret.to_base64().as_str()));

    let imported = SharedSecret::generate().unwrap().to_base64();
    let body = json!({"name": "imported", "type": "sha_secret", "secret": imported.as_str()});
    let created = expect_json(
        app.post(&path, ADMIN_TOKEN, &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert!(created.get("secret").is_none(), "{created}");
}

async fn bad_key_material_answers_400_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let path = format!("/api/v1/services/{did}/keys");
    let cases = [
        (
            json!({"name": "a", "type": "rsa_key_pair", "private_key_pem": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"}),
            "private_key_pem",
        ),
        (
            json!({"name": "b", "type": "rsa_public_key", "public_key_pem": "not a pem"}),
            "public_key_pem",
        ),
        (
            json!({"name": "c", "type": "sha_secret", "secret": "not base64!"}),
            "secret",
        ),
        (
            json!({"name": "d", "type": "sha_secret", "secret": "c2hvcnQ="}),
            "secret",
        ),
    ];
    for (body, field) in cases {
        let message = expect_error(
            app.post(&path, ADMIN_TOKEN, &body).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(message.contains(field), "{body}: {message}");
    }
    let keys = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(
        keys["data"].as_array().unwrap().len(),
        1,
        "nothing stored: {keys}"
    );
}

async fn invalid_key_requests_answer_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let path = format!("/api/v1/services/{did}/keys");
    let cases = [
        (json!({"name": "has space", "type": "sha_secret"}), "name"),
        (json!({"name": "", "type": "sha_secret"}), "name"),
        (
            json!({"name": "x", "type": "sha_secret", "public_key_pem": "x"}),
            "public_key_pem",
        ),
        (json!({"name": "x", "type": "hmac"}), "type"),
    ];
    for (body, word) in cases {
        let message = expect_error(
            app.post(&path, ADMIN_TOKEN, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(message.contains(word), "{body}: {message}");
    }
}

async fn a_key_name_is_unique_per_service(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_service("A").await;
    let b = app.create_service("B").await;
    let body = json!({"name": "shared", "type": "sha_secret"});
    expect_json(
        app.post(&format!("/api/v1/services/{a}/keys"), ADMIN_TOKEN, &body)
            .await,
        StatusCode::CREATED,
    )
    .await;
    let message = expect_error(
        app.post(&format!("/api/v1/services/{a}/keys"), ADMIN_TOKEN, &body)
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("shared"), "{message}");
    expect_json(
        app.post(&format!("/api/v1/services/{b}/keys"), ADMIN_TOKEN, &body)
            .await,
        StatusCode::CREATED,
    )
    .await;
}

async fn keys_are_deleted_except_the_default(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let path = format!("/api/v1/services/{did}/keys");
    expect_json(
        app.post(
            &path,
            ADMIN_TOKEN,
            &json!({"name": "old", "type": "sha_secret"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        app.delete(&format!("{path}/old"), ADMIN_TOKEN)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    expect_error(
        app.get(&format!("{path}/old"), ADMIN_TOKEN).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("{path}/old"), ADMIN_TOKEN).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("{path}/default"), ADMIN_TOKEN).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
}

async fn a_key_in_use_by_a_credential_definition_cannot_be_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let keys = format!("/api/v1/services/{did}/keys");
    let secret = json!({"name": "partner", "type": "sha_secret"});
    expect_json(
        app.post(&keys, ADMIN_TOKEN, &secret).await,
        StatusCode::CREATED,
    )
    .await;
    let schema = json!({"name": "Member", "version": "1.0", "attributes": [{"name": "Name", "type": "text"}]});
    let schema = expect_json(
        app.post(
            &format!("/api/v1/services/{did}/schemas"),
            ADMIN_TOKEN,
            &schema,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let definition =
        json!({"schema": schema["id"], "attestation": "service", "issuers": ["partner"]});
    expect_json(
        app.post(
            &format!("/api/v1/services/{did}/credential-definitions"),
            ADMIN_TOKEN,
            &definition,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    let message = expect_error(
        app.delete(&format!("{keys}/partner"), ADMIN_TOKEN).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("`partner` is in use"), "{message}");
    expect_json(
        app.get(&format!("{keys}/partner"), ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await;
}
