use reqwest::StatusCode;

use crate::backend_tests;
use crate::helpers::{Backend, expect_json, spawn_app};

backend_tests!(
    healthz_answers_ok,
    readyz_answers_ready_while_the_database_answers,
    readyz_answers_503_when_the_database_is_closed,
    metrics_count_requests_by_route_template_and_status,
    every_answer_carries_a_request_id,
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
