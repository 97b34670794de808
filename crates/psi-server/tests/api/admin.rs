use figment::providers::Serialized;
use reqwest::StatusCode;
use secrecy::ExposeSecret;

use crate::backend_tests;
use crate::helpers::{Backend, TestDb, expect_json, start};

backend_tests!(
    without_a_configured_token_one_is_generated_once_and_reused_after_a_restart,
    a_configured_admin_token_replaces_a_generated_one,
);

async fn without_a_configured_token_one_is_generated_once_and_reused_after_a_restart(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(Serialized::default("admin_token", None::<String>));
    let first = start(figment.clone()).await;
    let token = first
        .generated_admin_token
        .as_ref()
        .expect("generated on first start")
        .expose_secret()
        .to_owned();
    let client = reqwest::Client::new();
    let list = |addr: std::net::SocketAddr, token: String| {
        let client = client.clone();
        async move {
            client
                .get(format!("http://{addr}/api/v1/services"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    expect_json(list(first.addr, token.clone()).await, StatusCode::OK).await;
    first.stop().await.unwrap();

    let second = start(figment).await;
    assert!(
        second.generated_admin_token.is_none(),
        "not generated again"
    );
    expect_json(list(second.addr, token.clone()).await, StatusCode::OK).await;
    assert_eq!(
        list(second.addr, format!("{token}x")).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn a_configured_admin_token_replaces_a_generated_one(backend: Backend) {
    let db = TestDb::new(backend).await;
    let generated = start(
        db.figment()
            .merge(Serialized::default("admin_token", None::<String>)),
    )
    .await;
    let old = generated
        .generated_admin_token
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    generated.stop().await.unwrap();
    let configured = start(db.figment()).await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/services", configured.addr);
    let status = |token: &str| client.get(&url).bearer_auth(token.to_owned()).send();
    assert_eq!(
        status(crate::helpers::ADMIN_TOKEN).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        status(&old).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}
