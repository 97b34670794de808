//! `psi serve --demo`: the demo service is seeded once, complete, and its instructions work.

use reqwest::StatusCode;
use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json, spawn_app};

backend_tests!(
    seeding_the_demo_twice_keeps_one_service_with_one_interaction,
    the_demo_instructions_name_urls_that_answer,
);

async fn count(app: &TestApp, path: &str) -> usize {
    let list: Value = expect_json(app.get(path, ADMIN_TOKEN).await, StatusCode::OK).await;
    list["data"].as_array().expect("a list").len()
}

async fn seeding_the_demo_twice_keeps_one_service_with_one_interaction(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = psi_server::demo::seed(app.app.state()).await.unwrap();
    let app = app.restart().await;
    let again = psi_server::demo::seed(app.app.state()).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(count(&app, "/api/v1/services").await, 1);
    let service = format!("/api/v1/services/{first}");
    assert_eq!(count(&app, &format!("{service}/schemas")).await, 2);
    assert_eq!(
        count(&app, &format!("{service}/credential-definitions")).await,
        2
    );
    let interactions = expect_json(
        app.get(&format!("{service}/interactions"), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        interactions["data"].as_array().unwrap().len(),
        1,
        "{interactions}"
    );
    let interaction = &interactions["data"][0];
    assert_eq!(interaction["active"], true);
    assert_eq!(interaction["instances"].as_array().unwrap().len(), 1);
    assert_eq!(
        interaction["required_credentials"][0]["prefill_from_qr"],
        true
    );
    let definitions = expect_json(
        app.get(&format!("{service}/credential-definitions"), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    let attestations: Vec<&str> = definitions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["attestation"].as_str().unwrap())
        .collect();
    assert_eq!(attestations, ["self", "service"]);
}

async fn the_demo_instructions_name_urls_that_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = psi_server::demo::seed(app.app.state()).await.unwrap();
    let text = psi_server::demo::instructions(app.app.state(), &did, Some(ADMIN_TOKEN))
        .await
        .unwrap();
    let urls: Vec<&str> = text
        .split(['\'', ' ', '\n'])
        .filter(|word| word.starts_with("http://"))
        .collect();
    assert_eq!(urls.len(), 5, "{text}");
    assert!(text.contains(ADMIN_TOKEN), "{text}");
    for url in urls {
        let response = app
            .client
            .get(url)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
    }
    let templates = expect_json(
        app.client
            .get(app.url(&format!(
                "/service-dashboard-backend/service/{did}/info/action-templates"
            )))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(templates[0]["actionName"], "Join the demo club");
    let without_token = psi_server::demo::instructions(app.app.state(), &did, None)
        .await
        .unwrap();
    assert!(
        without_token.contains("$PSI_ADMIN_TOKEN"),
        "{without_token}"
    );
}
