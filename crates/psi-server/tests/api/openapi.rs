use reqwest::StatusCode;

use crate::backend_tests;
use crate::helpers::{Backend, expect_json, spawn_app};

backend_tests!(the_server_serves_its_openapi_document,);

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

fn generated() -> String {
    let mut text = serde_json::to_string_pretty(&psi_server::router::openapi()).unwrap();
    text.push('\n');
    text
}

/// `docs/openapi.json` is the generated document; `UPDATE_OPENAPI=1` rewrites it.
#[test]
fn the_committed_openapi_document_is_the_generated_one() {
    let generated = generated();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &generated).expect("write docs/openapi.json");
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test -p psi-server openapi`"
    );
}

async fn the_server_serves_its_openapi_document(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    let served = expect_json(response, StatusCode::OK).await;
    assert_eq!(
        served,
        serde_json::to_value(psi_server::router::openapi()).unwrap()
    );
    for path in [
        "/api/v1/services",
        "/api/v1/services/{did}/keys/{name}",
        "/api/v1/services/{did}/tokens/{id}",
        "/healthz",
    ] {
        assert!(served["paths"].get(path).is_some(), "{path} is documented");
    }
    assert_eq!(
        served["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut operation_ids: Vec<&str> = served["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|methods| methods.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().expect("an operationId"))
        .collect();
    let count = operation_ids.len();
    operation_ids.sort_unstable();
    operation_ids.dedup();
    assert_eq!(
        operation_ids.len(),
        count,
        "operationIds are unique: {operation_ids:?}"
    );
}
