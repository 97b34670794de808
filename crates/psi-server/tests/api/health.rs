use reqwest::StatusCode;

use crate::backend_tests;
use figment::providers::Serialized;

use crate::helpers::{Backend, TestDb, expect_error, expect_json, spawn_app, spawn_app_on};

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef0123";

backend_tests!(
    healthz_answers_ok,
    readyz_answers_ready_while_the_database_answers,
    readyz_answers_503_when_the_database_is_closed,
    metrics_count_requests_by_route_template_and_status,
    every_answer_carries_a_request_id,
    metrics_answer_only_the_metrics_token_when_one_is_set,
    metrics_move_to_their_own_listener_with_metrics_listen,
);

async fn healthz_answers_ok(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(body["status"], "ok");
}

async fn readyz_answers_ready_while_the_database_answers(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(body["status"], "ready");
}

async fn readyz_answers_503_when_the_database_is_closed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.app.state().db.close().await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    let body = expect_json(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["error"]["code"], "unavailable");
}

async fn metrics_count_requests_by_route_template_and_status(backend: Backend) {
    let app = spawn_app(backend).await;
    app.client.get(app.url("/healthz")).send().await.unwrap();
    app.client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let healthz = text
        .lines()
        .find(|line| {
            line.starts_with("http_requests_total")
                && line.contains("route=\"/healthz\"")
                && line.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no /healthz counter in:\n{text}"));
    let count: f64 = healthz.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0, "{healthz}");
    assert!(text.contains("route=\"unmatched\""), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
}

async fn every_answer_carries_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = response
        .headers()
        .get("x-request-id")
        .expect("x-request-id");
    assert!(!id.is_empty());
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "given-id")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "given-id");
}

async fn metrics_answer_only_the_metrics_token_when_one_is_set(backend: Backend) {
    let db = TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(Serialized::default("metrics_token", METRICS_TOKEN));
    let app = spawn_app_on(db, figment).await;
    let anonymous = app.client.get(app.url("/metrics")).send().await.unwrap();
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let wrong = app
        .get("/metrics", "metrics-token-0123456789abcdef0124")
        .await;
    expect_error(wrong, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let right = app.get("/metrics", METRICS_TOKEN).await;
    assert_eq!(right.status(), StatusCode::OK);
    assert!(right.text().await.unwrap().contains("http_requests_total"));
}

async fn metrics_move_to_their_own_listener_with_metrics_listen(backend: Backend) {
    let db = TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(Serialized::default("metrics_listen", "127.0.0.1:0"));
    let app = spawn_app_on(db, figment).await;
    let main = app.client.get(app.url("/metrics")).send().await.unwrap();
    expect_error(main, StatusCode::NOT_FOUND, "not_found").await;
    let apart = format!(
        "http://{}",
        app.app.metrics_addr.expect("a metrics listener")
    );
    assert_ne!(apart, app.address);
    let metrics = app
        .client
        .get(format!("{apart}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("http_requests_total")
    );
    let nothing_else = app
        .client
        .get(format!("{apart}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(nothing_else.status(), StatusCode::NOT_FOUND);
}
