//! `GET .../public-info/public-key/{name}`: PEM by default, JSON with a JWK on request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use psi_webhook::PrivateKey;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, expect_error, expect_json, spawn_app};

backend_tests!(
    the_default_public_key_is_served_as_spki_pem_under_both_base_paths,
    the_public_key_as_json_carries_a_jwk_of_the_same_key,
    an_imported_key_pair_publishes_the_imported_public_key,
    only_key_pairs_are_published,
    the_public_key_is_cached_with_an_etag_per_representation,
);

fn paths(did: &str, name: &str) -> [String; 2] {
    [
        format!("/service-dashboard-backend/service/{did}/public-info/public-key/{name}"),
        format!("/service-backend/v1/service/{did}/public-info/public-key/{name}"),
    ]
}

async fn the_default_public_key_is_served_as_spki_pem_under_both_base_paths(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let keys = expect_json(
        app.get(&format!("/api/v1/services/{did}/keys/default"), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    for path in paths(&did, "default") {
        let response = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/x-pem-file");
        let pem = response.text().await.unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
        psi_webhook::PublicKey::from_pem(&pem).expect("the PEM parses");
        assert_eq!(pem, keys["public_pem"].as_str().unwrap());
    }
}

async fn the_public_key_as_json_carries_a_jwk_of_the_same_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let [path, _] = paths(&did, "default");
    let response = app
        .client
        .get(app.url(&path))
        .header(ACCEPT, "text/html, application/json;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(body["name"], "default");
    assert_eq!(body["type"], "rsa_key_pair");
    let pem = body["pem"].as_str().unwrap();
    let key = psi_webhook::PublicKey::from_pem(pem).expect("the PEM parses");
    assert_eq!(body["jwk"], key.to_jwk());
    assert_eq!(body["jwk"]["kty"], "RSA");
    assert_eq!(body["jwk"]["e"], URL_SAFE_NO_PAD.encode([1, 0, 1]));
    let n = URL_SAFE_NO_PAD
        .decode(body["jwk"]["n"].as_str().unwrap())
        .unwrap();
    assert_eq!(n.len(), 256, "a 2048-bit modulus");
}

async fn an_imported_key_pair_publishes_the_imported_public_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let key = PrivateKey::generate().unwrap();
    let pem = key.to_pkcs8_pem().unwrap();
    let body = json!({"name": "signing", "type": "rsa_key_pair", "private_key_pem": pem.as_str()});
    expect_json(
        app.post(&format!("/api/v1/services/{did}/keys"), ADMIN_TOKEN, &body)
            .await,
        StatusCode::CREATED,
    )
    .await;
    let [_, path] = paths(&did, "signing");
    let response = app
        .client
        .get(app.url(&path))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(body["pem"], key.public_key().to_spki_pem().unwrap());
    assert_eq!(body["jwk"], key.public_key().to_jwk());
    assert!(!body.to_string().contains("PRIVATE"));
}

async fn only_key_pairs_are_published(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let third_party = PrivateKey::generate()
        .unwrap()
        .public_key()
        .to_spki_pem()
        .unwrap();
    let keys = format!("/api/v1/services/{did}/keys");
    for body in [
        json!({"name": "partner", "type": "rsa_public_key", "public_key_pem": third_party}),
        json!({"name": "shared", "type": "sha_secret"}),
    ] {
        expect_json(
            app.post(&keys, ADMIN_TOKEN, &body).await,
            StatusCode::CREATED,
        )
        .await;
    }
    for name in ["partner", "shared", "missing"] {
        for path in paths(&did, name) {
            let response = app.client.get(app.url(&path)).send().await.unwrap();
            expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
}

async fn the_public_key_is_cached_with_an_etag_per_representation(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let [path, _] = paths(&did, "default");
    let pem = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(pem.headers()[CACHE_CONTROL], "public, max-age=60");
    assert!(
        pem.headers()
            .get_all(VARY)
            .iter()
            .any(|v| v.to_str().unwrap().contains("accept")),
        "{:?}",
        pem.headers()
    );
    let pem_tag = pem.headers()[ETAG].clone();
    let json = app
        .client
        .get(app.url(&path))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_ne!(json.headers()[ETAG], pem_tag, "the tag hashes the body");

    let again = app
        .client
        .get(app.url(&path))
        .header(IF_NONE_MATCH, pem_tag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[ETAG], pem_tag);
    assert!(again.text().await.unwrap().is_empty());
}
