use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, expect_error, expect_json, spawn_app};

backend_tests!(
    the_admin_creates_a_service_with_a_22_character_did_and_a_default_rsa_key,
    the_admin_lists_and_gets_services,
    a_service_name_must_not_be_empty,
    a_service_token_may_not_create_or_list_services,
    requests_without_a_valid_token_answer_401,
    an_unknown_or_malformed_did_answers_404,
    the_demo_service_is_created_once,
);

fn is_base58(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l'))
}

async fn the_admin_creates_a_service_with_a_22_character_did_and_a_default_rsa_key(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let response = app
        .post(
            "/api/v1/services",
            ADMIN_TOKEN,
            &json!({"name": " Acme Bank "}),
        )
        .await;
    let service = expect_json(response, StatusCode::CREATED).await;
    let did = service["did"].as_str().unwrap();
    assert_eq!(did.len(), 22, "{did}");
    assert!(is_base58(did), "{did}");
    assert_eq!(service["name"], "Acme Bank", "the name is trimmed");
    let verkey = bs58::decode(service["verkey"].as_str().unwrap())
        .into_vec()
        .unwrap();
    assert_eq!(
        bs58::decode(did).into_vec().unwrap(),
        &verkey[..16],
        "DID = first 16 bytes of the verkey"
    );

    let keys = expect_json(
        app.get(&format!("/api/v1/services/{did}/keys"), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    let keys = &keys["data"];
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["name"], "default");
    assert_eq!(keys[0]["type"], "rsa_key_pair");
    assert!(
        keys[0]["public_pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
}

async fn the_admin_lists_and_gets_services(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.create_service("First").await;
    let second = app.create_service("Second").await;
    assert_ne!(first, second);
    let list = expect_json(
        app.get("/api/v1/services", ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await;
    let dids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["did"].as_str().unwrap())
        .collect();
    assert_eq!(dids, [first.as_str(), second.as_str()]);
    let one = expect_json(
        app.get(&format!("/api/v1/services/{second}"), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["name"], "Second");
}

async fn a_service_name_must_not_be_empty(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post("/api/v1/services", ADMIN_TOKEN, &json!({"name": "  "}))
        .await;
    let message = expect_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("name"), "{message}");
}

async fn a_service_token_may_not_create_or_list_services(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let (_, token) = app.create_token(&did).await;
    let response = app
        .post("/api/v1/services", &token, &json!({"name": "Other"}))
        .await;
    expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    expect_error(
        app.get("/api/v1/services", &token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

async fn requests_without_a_valid_token_answer_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let response = app
        .client
        .get(app.url("/api/v1/services"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for token in [
        "wrong-token",
        "psi_0123456789abcdef0123456789abcdef_secret",
        "",
    ] {
        expect_error(
            app.get(&format!("/api/v1/services/{did}"), token).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
    }
}

async fn an_unknown_or_malformed_did_answers_404(backend: Backend) {
    let app = spawn_app(backend).await;
    for did in ["GbzPqgnU4XsMs7xg9mYJW8", "not-a-did"] {
        let message = expect_error(
            app.get(&format!("/api/v1/services/{did}"), ADMIN_TOKEN)
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_eq!(message, "service not found");
    }
}

async fn the_demo_service_is_created_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = psi_server::demo::seed(app.app.state()).await.unwrap();
    let app = app.restart().await;
    let again = psi_server::demo::seed(app.app.state()).await.unwrap();
    assert_eq!(first, again);
    let list = expect_json(
        app.get("/api/v1/services", ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["data"][0]["did"], first.as_str());
}
