use figment::providers::Serialized;
use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, Logs, TestDb, expect_error, spawn_app, spawn_app_on};

backend_tests!(
    unknown_routes_answer_404_in_the_error_shape,
    a_wrong_method_answers_405_in_the_error_shape,
    malformed_json_answers_400_and_a_wrong_content_type_415,
    json_of_the_wrong_shape_answers_422_naming_the_field,
    an_oversized_body_answers_413,
    a_database_failure_answers_500_without_its_text,
    invalid_utf8_in_a_path_answers_400_in_the_error_shape_and_logs_no_error,
);

async fn unknown_routes_answer_404_in_the_error_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/api/v1/nothing-here", ADMIN_TOKEN).await;
    let message = expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert!(message.contains("/api/v1/nothing-here"), "{message}");
}

async fn a_wrong_method_answers_405_in_the_error_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.delete("/api/v1/services", ADMIN_TOKEN).await;
    expect_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

async fn malformed_json_answers_400_and_a_wrong_content_type_415(backend: Backend) {
    let app = spawn_app(backend).await;
    let post = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/services"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let syntax = post("{\"name\": ", "application/json").await.unwrap();
    expect_error(syntax, StatusCode::BAD_REQUEST, "bad_request").await;
    let text = post("name=x", "text/plain").await.unwrap();
    expect_error(
        text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

async fn json_of_the_wrong_shape_answers_422_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let missing = app.post("/api/v1/services", ADMIN_TOKEN, &json!({})).await;
    let message = expect_error(
        missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("name"), "{message}");
    let unknown = app
        .post(
            "/api/v1/services",
            ADMIN_TOKEN,
            &json!({"name": "x", "colour": "red"}),
        )
        .await;
    let message = expect_error(
        unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("colour"), "{message}");
    assert!(!message.contains("Failed to deserialize"), "{message}");

    // A nested member is named by its path, in psi's words, without serde's text positions.
    let did = app.create_service("Acme").await;
    let schema = json!({"name": "Card", "version": "1.0",
                        "attributes": [{"name": "Level", "type": "texte"}]});
    let message = expect_error(
        app.post(
            &format!("/api/v1/services/{did}/schemas"),
            ADMIN_TOKEN,
            &schema,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        message.starts_with("the body does not fit: `attributes[0].type`: unknown variant `texte`"),
        "{message}"
    );
    assert!(!message.contains("line 1"), "{message}");
    let message = expect_error(
        app.get(
            &format!("/api/v1/services/{did}/events?colour=red"),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        message.starts_with("the query string does not fit: `colour`: unknown field `colour`"),
        "{message}"
    );
}

async fn an_oversized_body_answers_413(backend: Backend) {
    let db = TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(Serialized::default("max_body_bytes", 1024));
    let app = spawn_app_on(db, figment).await;
    let body = json!({"name": "x".repeat(2048)});
    let response = app.post("/api/v1/services", ADMIN_TOKEN, &body).await;
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

async fn a_database_failure_answers_500_without_its_text(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let path = format!("/api/v1/services/{did}/schemas");
    let pool = app.db.raw_pool().await;
    // A table gone behind the server's back: every query on it fails inside the database.
    sqlx::query("ALTER TABLE schemas RENAME TO schemas_away")
        .execute(&pool)
        .await
        .unwrap();
    let logs = Logs::capture();
    let response = app.get(&path, ADMIN_TOKEN).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let logged = logs.text();
    assert!(
        logged.contains("ERROR") && logged.contains("request failed"),
        "the cause goes to the log: {logged}"
    );
    let body = response.text().await.unwrap();
    let value: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(value["error"]["code"], "internal_error", "{body}");
    for leak in [
        "schemas",
        "relation",
        "no such table",
        "SELECT",
        "sqlx",
        "error returned",
    ] {
        assert!(!body.contains(leak), "{leak:?} leaked: {body}");
    }
    sqlx::query("ALTER TABLE schemas_away RENAME TO schemas")
        .execute(&pool)
        .await
        .unwrap();
    let again = app.get(&path, ADMIN_TOKEN).await;
    assert_eq!(again.status(), StatusCode::OK, "the server keeps serving");
}

async fn invalid_utf8_in_a_path_answers_400_in_the_error_shape_and_logs_no_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Shop").await;
    let logs = Logs::capture();
    let paths = [
        "/api/v1/services/%FF".to_owned(),
        format!("/api/v1/services/{did}/schemas/%FF"),
        format!("/api/v1/services/{did}/endpoints/%C3%28"),
        "/service-dashboard-backend/service/%C3%28/info/action-templates".to_owned(),
        "/service-backend/v1/service/%FF/info/action-templates".to_owned(),
        format!("/service-dashboard-backend/service/{did}/public-info/public-key/%FF"),
        "/r/%FF".to_owned(),
        "/wallet/v1/credentials/%FF/status".to_owned(),
        format!("/s/{did}/%FF/start.html"),
        "/native/execute/%FF".to_owned(),
    ];
    for path in paths {
        // With the admin token where the route wants one: the path is what fails.
        let message = expect_error(
            app.get(&path, ADMIN_TOKEN).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(message.contains("UTF-8"), "{path}: {message}");
    }
    let logged = logs.text();
    assert!(!logged.contains("ERROR"), "{logged}");
}
