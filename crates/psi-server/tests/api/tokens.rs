use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, expect_error, expect_json, spawn_app};

backend_tests!(
    a_service_token_reaches_its_own_service,
    a_service_token_cannot_see_another_service_which_answers_404,
    tokens_are_listed_without_their_secret_and_managed_by_the_admin_only,
    a_revoked_token_stops_working_at_once,
    revoking_an_unknown_token_or_another_services_token_answers_404,
    a_token_with_a_wrong_secret_is_refused,
);

async fn a_service_token_reaches_its_own_service(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let (_, token) = app.create_token(&did).await;
    assert!(token.starts_with("psi_"), "{token}");
    let service = expect_json(
        app.get(&format!("/api/v1/services/{did}"), &token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(service["did"], did.as_str());
    let keys = app
        .get(&format!("/api/v1/services/{did}/keys"), &token)
        .await;
    assert_eq!(keys.status(), StatusCode::OK);
}

async fn a_service_token_cannot_see_another_service_which_answers_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_service("A").await;
    let b = app.create_service("B").await;
    let (_, token_a) = app.create_token(&a).await;
    for path in [
        format!("/api/v1/services/{b}"),
        format!("/api/v1/services/{b}/keys"),
        format!("/api/v1/services/{b}/keys/default"),
    ] {
        let message = expect_error(
            app.get(&path, &token_a).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_eq!(message, "service not found", "{path}");
    }
    let response = app
        .post(
            &format!("/api/v1/services/{b}/keys"),
            &token_a,
            &json!({"name": "x", "type": "sha_secret"}),
        )
        .await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let keys = expect_json(
        app.get(&format!("/api/v1/services/{b}/keys"), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        keys["data"].as_array().unwrap().len(),
        1,
        "B is unchanged: {keys}"
    );
}

async fn tokens_are_listed_without_their_secret_and_managed_by_the_admin_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let (id, token) = app.create_token(&did).await;
    let path = format!("/api/v1/services/{did}/tokens");
    let list = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    let list = &list["data"];
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["name"], "test");
    assert!(
        list[0].get("token").is_none() && list[0].get("revoked_at").is_none(),
        "{list}"
    );
    // The secret is what follows `psi_<id>_`; it may itself hold `_`.
    let secret = token.splitn(3, '_').nth(2).unwrap();
    assert!(secret.len() >= 32, "{token}");
    assert!(!list.to_string().contains(secret));
    expect_error(
        app.get(&path, &token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.post(&path, &token, &json!({"name": "more"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

async fn a_revoked_token_stops_working_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let (id, token) = app.create_token(&did).await;
    let (_, other) = app.create_token(&did).await;
    let response = app
        .delete(&format!("/api/v1/services/{did}/tokens/{id}"), ADMIN_TOKEN)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.get(&format!("/api/v1/services/{did}"), &token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/services/{did}"), &other)
            .await
            .status(),
        StatusCode::OK,
        "other tokens still work"
    );
    let list = expect_json(
        app.get(&format!("/api/v1/services/{did}/tokens"), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    let revoked = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap();
    assert!(revoked["revoked_at"].as_i64().unwrap() > 0);
    let again = app
        .delete(&format!("/api/v1/services/{did}/tokens/{id}"), ADMIN_TOKEN)
        .await;
    assert_eq!(
        again.status(),
        StatusCode::NO_CONTENT,
        "revoking twice is harmless"
    );
}

async fn revoking_an_unknown_token_or_another_services_token_answers_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_service("A").await;
    let b = app.create_service("B").await;
    let (id_b, token_b) = app.create_token(&b).await;
    expect_error(
        app.delete(&format!("/api/v1/services/{a}/tokens/{id_b}"), ADMIN_TOKEN)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/v1/services/{a}/tokens/nope"), ADMIN_TOKEN)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/services/{b}"), &token_b)
            .await
            .status(),
        StatusCode::OK
    );
}

async fn a_token_with_a_wrong_secret_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let (id, _) = app.create_token(&did).await;
    let forged = format!("psi_{id}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    expect_error(
        app.get(&format!("/api/v1/services/{did}"), &forged).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}
