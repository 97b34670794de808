//! sourceURL links: `POST .../link/source` stores the request, the short link carries only its
//! `sourceURL`, and `GET /r/{token}` serves it (expiring, optionally once).

use psi_link::LinkRequest;
use reqwest::StatusCode;
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, ORIGIN};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::demo_fixture::{Demo, demo};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_error, expect_json, spawn_app};

backend_tests!(
    the_short_link_carries_only_a_source_url_that_serves_the_request,
    a_one_time_link_is_served_once,
    two_concurrent_downloads_of_a_one_time_link_get_it_once,
    an_expired_link_answers_410,
    the_lifetime_and_the_request_are_checked_before_storing,
    an_unknown_token_answers_404,
    another_services_token_cannot_store_links_for_this_interaction,
);

async fn create(app: &TestApp, demo: &Demo, body: &Value) -> Value {
    let path = format!("{}/source", demo.link_path());
    expect_json(
        app.post(&path, ADMIN_TOKEN, body).await,
        StatusCode::CREATED,
    )
    .await
}

/// The path of a source URL on the test server.
fn path_of(app: &TestApp, source_url: &Value) -> String {
    source_url
        .as_str()
        .unwrap()
        .strip_prefix(&app.address)
        .expect("the source URL is on this server")
        .to_owned()
}

async fn download(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

async fn the_short_link_carries_only_a_source_url_that_serves_the_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let body = json!({
        "env": "test",
        "callback": "https://shop.example/done.html",
        "prefill": [{"credential_id": demo.member, "name": "Name", "value": "Alice"}],
    });
    let created = create(&app, &demo, &body).await;
    let decoded = psi_link::decode(created["app_link"].as_str().unwrap()).unwrap();
    let source_url = created["source_url"].as_str().unwrap();
    assert_eq!(
        decoded.request,
        LinkRequest {
            source_url: Some(source_url.to_owned()),
            ..LinkRequest::default()
        }
    );
    assert_eq!(created["request"], json!({"sourceURL": source_url}));
    assert!(
        created["deep_link"]
            .as_str()
            .unwrap()
            .starts_with("testzakaio://")
    );
    assert_eq!(created["dense"], false);
    assert_eq!(created["one_time"], false);
    let token = source_url.rsplit('/').next().unwrap();
    assert_eq!(token.len(), 22, "128 random bits in base64url: {token}");

    let response = app
        .client
        .get(source_url)
        .header(ORIGIN, "https://wallet.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://wallet.example"
    );
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let stored = expect_json(response, StatusCode::OK).await;
    let mut expected = LinkRequest {
        id: Some(demo.instance.clone()),
        action_id: Some(demo.interaction.clone()),
        service_did: Some(demo.did.clone()),
        callback: Some("https://shop.example/done.html".into()),
        ..LinkRequest::default()
    };
    expected.set_prefilled(&demo.member, "Name", "Alice");
    assert_eq!(stored, serde_json::to_value(&expected).unwrap());
    // Not one-time: it can be downloaded again.
    let again = download(&app, &path_of(&app, &created["source_url"])).await;
    assert_eq!(expect_json(again, StatusCode::OK).await, stored);
}

async fn a_one_time_link_is_served_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let created = create(&app, &demo, &json!({"one_time": true})).await;
    assert_eq!(created["one_time"], true);
    let path = path_of(&app, &created["source_url"]);
    expect_json(download(&app, &path).await, StatusCode::OK).await;
    let message = expect_error(download(&app, &path).await, StatusCode::GONE, "gone").await;
    assert!(message.contains("already been used"), "{message}");
}

async fn two_concurrent_downloads_of_a_one_time_link_get_it_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    for _ in 0..5 {
        let created = create(&app, &demo, &json!({"one_time": true})).await;
        let path = path_of(&app, &created["source_url"]);
        let (a, b) = tokio::join!(download(&app, &path), download(&app, &path));
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::GONE]);
    }
}

async fn an_expired_link_answers_410(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let created = create(&app, &demo, &json!({"expires_in_secs": 60})).await;
    let expires_at = created["expires_at"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (expires_at - now - 60_000).abs() < 5_000,
        "{expires_at} vs {now}"
    );
    let path = path_of(&app, &created["source_url"]);
    expect_json(download(&app, &path).await, StatusCode::OK).await;
    // Move the clock past the expiry, in the database.
    let token = path.rsplit('/').next().unwrap();
    let pool = app.db.raw_pool().await;
    sqlx::query("UPDATE link_requests SET expires_at = $1 WHERE id = $2")
        .bind(now - 1)
        .bind(token)
        .execute(&pool)
        .await
        .unwrap();
    let message = expect_error(download(&app, &path).await, StatusCode::GONE, "gone").await;
    assert!(message.contains("expired"), "{message}");
}

async fn the_lifetime_and_the_request_are_checked_before_storing(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let path = format!("{}/source", demo.link_path());
    for (body, status, code, word) in [
        (
            json!({"expires_in_secs": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "expires_in_secs",
        ),
        (
            json!({"expires_in_secs": 2_592_001}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "expires_in_secs",
        ),
        (
            json!({"callback": "javascript:alert(1)"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
            "callback",
        ),
        (
            json!({"prefill": [{"credential_id": demo.member, "name": "Date of birth", "value": "abc"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Date of birth",
        ),
        (
            json!({"prefill": [{"credential_id": demo.membership, "name": "Level", "value": "1"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "does not require",
        ),
        (
            json!({"lifetime": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "lifetime",
        ),
    ] {
        let message = expect_error(app.post(&path, ADMIN_TOKEN, &body).await, status, code).await;
        assert!(message.contains(word), "{body}: {message}");
    }
    let pool = app.db.raw_pool().await;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM link_requests")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing stored");
}

async fn an_unknown_token_answers_404(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/r/AAAAAAAAAAAAAAAAAAAAAA", "/r/short", "/r/..%2F..%2Fetc"] {
        expect_error(
            download(&app, path).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
}

async fn another_services_token_cannot_store_links_for_this_interaction(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let other = app.create_service("Other").await;
    let (_, other_token) = app.create_token(&other).await;
    let path = format!("{}/source", demo.link_path());
    expect_error(
        app.post(&path, &other_token, &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let path = format!(
        "/api/v1/services/{other}/interactions/{}/link/source",
        demo.interaction
    );
    expect_error(
        app.post(&path, &other_token, &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
