//! Failed authentication is throttled per client address and per service token: a guesser gets
//! 429 with `Retry-After`, valid tokens from other addresses do not. Clients bind their own
//! loopback addresses (all of 127.0.0.0/8 reaches a server on 127.0.0.1) to be told apart.

use std::net::IpAddr;
use std::time::Duration;

use figment::providers::Serialized;
use reqwest::header::RETRY_AFTER;
use reqwest::{Response, StatusCode};

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, TestDb, expect_error, spawn_app_on};

backend_tests!(
    failed_tokens_from_one_address_are_answered_429_with_retry_after_and_counted,
    guesses_at_one_service_token_from_many_addresses_throttle_that_token_only,
    a_throttled_address_may_authenticate_again_after_the_interval,
);

/// A server allowing `burst` failures, then one per `interval`.
async fn throttling(backend: Backend, burst: u32, interval: &str) -> TestApp {
    let db = TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(Serialized::default("auth.failure_burst", burst))
        .merge(Serialized::default("auth.failure_interval", interval));
    spawn_app_on(db, figment).await
}

/// A client whose connections come from `source` (a loopback address).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn list_services(app: &TestApp, client: &reqwest::Client, token: &str) -> Response {
    client
        .get(app.url("/api/v1/services"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// A counter's value in `/metrics` (0 before its first increment). The recorder is the
/// process's, shared by the tests running alongside: compare before and after.
async fn counter(app: &TestApp, name: &str) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().unwrap())
}

async fn expect_throttled(response: Response) -> u64 {
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let message = expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    assert!(message.contains("retry in"), "{message}");
    retry_after
}

async fn failed_tokens_from_one_address_are_answered_429_with_retry_after_and_counted(
    backend: Backend,
) {
    let app = throttling(backend, 3, "1h").await;
    let failures = counter(&app, "psi_auth_failures_total").await;
    let throttled = counter(&app, "psi_auth_throttled_total").await;
    let guesser = client_from("127.0.0.2");
    for guess in 0..3 {
        let response = list_services(&app, &guesser, &format!("guess-{guess}")).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let retry_after = expect_throttled(list_services(&app, &guesser, "guess-3").await).await;
    assert!((3595..=3600).contains(&retry_after), "{retry_after}");
    // The right token from the throttled address waits too: answering it would tell a guesser
    // which guess was right.
    expect_throttled(list_services(&app, &guesser, ADMIN_TOKEN).await).await;
    // No token at all is no guess: 401 as always.
    let anonymous = guesser
        .get(app.url("/api/v1/services"))
        .send()
        .await
        .unwrap();
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Another address is not affected.
    let admin = list_services(&app, &client_from("127.0.0.1"), ADMIN_TOKEN).await;
    assert_eq!(admin.status(), StatusCode::OK);

    assert!(counter(&app, "psi_auth_failures_total").await >= failures + 3.0);
    assert!(counter(&app, "psi_auth_throttled_total").await >= throttled + 2.0);
}

async fn guesses_at_one_service_token_from_many_addresses_throttle_that_token_only(
    backend: Backend,
) {
    let app = throttling(backend, 3, "1h").await;
    let did = app.create_service("Shop").await;
    let (id, token) = app.create_token(&did).await;
    let (_, other_token) = app.create_token(&did).await;
    let service = format!("/api/v1/services/{did}");
    for source in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        let guess = format!("psi_{id}_not-the-secret-from-{source}");
        let response = client_from(source)
            .get(app.url(&service))
            .bearer_auth(guess)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    for source in ["127.0.0.5", "127.0.0.1"] {
        let response = client_from(source)
            .get(app.url(&service))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        expect_throttled(response).await;
    }
    let other = app.get(&service, &other_token).await;
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "another token of the service"
    );
    assert_eq!(
        app.get(&service, ADMIN_TOKEN).await.status(),
        StatusCode::OK
    );
}

async fn a_throttled_address_may_authenticate_again_after_the_interval(backend: Backend) {
    let app = throttling(backend, 1, "300ms").await;
    let guesser = client_from("127.0.0.2");
    let wrong = list_services(&app, &guesser, "guess").await;
    expect_error(wrong, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let retry_after = expect_throttled(list_services(&app, &guesser, ADMIN_TOKEN).await).await;
    assert_eq!(retry_after, 1, "rounded up to a whole second");
    tokio::time::sleep(Duration::from_millis(350)).await;
    let right = list_services(&app, &guesser, ADMIN_TOKEN).await;
    assert_eq!(right.status(), StatusCode::OK);
}
