//! Answers of the management and wallet APIs are never stored by caches nor sniffed by browsers
//! (they show secrets once); the public reads keep their HTTP caching.

use reqwest::header::{CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, spawn_app};

backend_tests!(api_and_wallet_answers_say_no_store_and_nosniff_and_public_reads_stay_cacheable,);

fn assert_private(response: &Response, what: &str) {
    let headers = response.headers();
    assert_eq!(
        headers.get(CACHE_CONTROL).map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{what}: {headers:?}"
    );
    assert_eq!(
        headers
            .get(X_CONTENT_TYPE_OPTIONS)
            .map(|v| v.to_str().unwrap()),
        Some("nosniff"),
        "{what}: {headers:?}"
    );
}

async fn api_and_wallet_answers_say_no_store_and_nosniff_and_public_reads_stay_cacheable(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Shop").await;
    let created = app
        .post(
            &format!("/api/v1/services/{did}/tokens"),
            ADMIN_TOKEN,
            &json!({"name": "crm"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_private(&created, "a new token, shown once");
    for (path, token, status) in [
        ("/api/v1/services".to_owned(), ADMIN_TOKEN, StatusCode::OK),
        (
            "/api/v1/services".to_owned(),
            "wrong-token",
            StatusCode::UNAUTHORIZED,
        ),
        (
            "/api/v1/nothing".to_owned(),
            ADMIN_TOKEN,
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/wallet/v1/services/{did}/verkey"),
            "",
            StatusCode::OK,
        ),
        (
            "/wallet/v1/credentials/unknown/status".to_owned(),
            "",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let response = app.get(&path, token).await;
        assert_eq!(response.status(), status, "{path}");
        assert_private(&response, &path);
    }
    let public = format!("/service-dashboard-backend/service/{did}/info/action-templates");
    // Twice: the second answer comes from the public cache.
    for _ in 0..2 {
        let response = app.client.get(app.url(&public)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=60");
    }
}
