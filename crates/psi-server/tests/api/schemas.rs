use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, expect_error, expect_json, spawn_app};
use crate::model;

backend_tests!(
    a_schema_is_created_with_its_wire_id_and_typed_attributes,
    schema_and_attribute_names_with_markup_are_refused,
    invalid_schemas_answer_422_naming_the_problem,
    a_schema_name_and_version_is_unique_per_service,
    an_unused_schema_changes_and_is_deleted,
    a_schema_in_use_cannot_change_or_be_deleted_and_the_409_names_the_definition,
    another_services_token_gets_404_on_a_schema,
);

async fn a_schema_is_created_with_its_wire_id_and_typed_attributes(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let (_, token) = app.create_token(&did).await;
    let path = format!("/api/v1/services/{did}/schemas");
    let body =
        json!({"name": "  Membership ", "version": "1.0", "attributes": model::attributes()});
    let created = expect_json(app.post(&path, &token, &body).await, StatusCode::CREATED).await;
    assert_eq!(created["schema_id"], format!("{did}:2:Membership:1.0"));
    assert_eq!(created["name"], "Membership");
    assert_eq!(created["version"], "1.0");
    assert_eq!(
        created["attributes"][3],
        json!({"name": "Level", "type": "enumeration",
               "enum_values": [{"name": "Gold", "value": "0"}, {"name": "Silver", "value": "1"}]}),
        "enumeration values default to their position; the management API names it in snake_case"
    );
    assert_eq!(
        created["attributes"][4],
        json!({"name": "Photo", "type": "image"})
    );
    let id = created["id"].as_str().unwrap();
    let fetched = expect_json(
        app.get(&format!("{path}/{id}"), &token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fetched, created);
    let listed = expect_json(app.get(&path, &token).await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([created]));
}

async fn schema_and_attribute_names_with_markup_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let path = format!("/api/v1/services/{did}/schemas");
    let text = json!([{"name": "a", "type": "text"}]);
    let cases = [
        (
            json!({"name": "<img src=x onerror=alert(1)>", "version": "1.0", "attributes": text}),
            "`name`",
        ),
        (
            json!({"name": "Tom & Jerry", "version": "1.0", "attributes": text}),
            "`name`",
        ),
        (
            json!({"name": "ok", "version": "1.0", "attributes": [{"name": "<b>x</b>", "type": "text"}]}),
            "`attributes[0].name`",
        ),
        (
            json!({"name": "ok", "version": "1.0", "attributes": [{"name": "e", "type": "enumeration", "enumValues": [{"name": "\"quoted\""}]}]}),
            "`attributes[0].enum_values[0].name`",
        ),
    ];
    for (body, field) in cases {
        let message = expect_error(
            app.post(&path, ADMIN_TOKEN, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(
            message.starts_with(field) && message.contains("must not contain"),
            "{body}: {message}"
        );
    }
    let schemas = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(schemas["data"], json!([]), "nothing stored");
}

async fn invalid_schemas_answer_422_naming_the_problem(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let path = format!("/api/v1/services/{did}/schemas");
    let text = json!([{"name": "a", "type": "text"}]);
    let cases = [
        (
            json!({"name": "s", "version": "1.0", "attributes": []}),
            "at least one attribute",
        ),
        (
            json!({"name": "s", "version": "1.0", "attributes": [{"name": "a", "type": "text"}, {"name": "a", "type": "date"}]}),
            "`attributes[1]`: the name \"a\" is used twice",
        ),
        (
            json!({"name": "s", "version": "one", "attributes": text}),
            "`version`",
        ),
        (
            json!({"name": "s", "version": "1..0", "attributes": text}),
            "`version`",
        ),
        (
            json!({"name": " ", "version": "1.0", "attributes": text}),
            "`name` must not be empty",
        ),
        (
            json!({"name": "s", "version": "1.0", "attributes": [{"name": "e", "type": "enumeration"}]}),
            "needs `enum_values`",
        ),
        (
            json!({"name": "s", "version": "1.0", "attributes": [{"name": "e", "type": "enumeration", "enumValues": [{"name": "x", "value": "first"}]}]}),
            "decimal index",
        ),
        (
            json!({"name": "s", "version": "1.0", "attributes": [{"name": "t", "type": "blob"}]}),
            "blob",
        ),
    ];
    for (body, expected) in cases {
        let message = expect_error(
            app.post(&path, ADMIN_TOKEN, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(message.contains(expected), "{body}: {message}");
    }
}

async fn a_schema_name_and_version_is_unique_per_service(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_service("A").await;
    let b = app.create_service("B").await;
    model::schema(&app, &a, "Membership").await;
    let body = json!({"name": "Membership", "version": "1.0", "attributes": model::attributes()});
    let message = expect_error(
        app.post(&format!("/api/v1/services/{a}/schemas"), ADMIN_TOKEN, &body)
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("\"Membership\" version 1.0"), "{message}");
    let next = json!({"name": "Membership", "version": "1.1", "attributes": model::attributes()});
    expect_json(
        app.post(&format!("/api/v1/services/{a}/schemas"), ADMIN_TOKEN, &next)
            .await,
        StatusCode::CREATED,
    )
    .await;
    model::schema(&app, &b, "Membership").await;
}

async fn an_unused_schema_changes_and_is_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let schema = model::schema(&app, &did, "Membership").await;
    let path = format!(
        "/api/v1/services/{did}/schemas/{}",
        schema["id"].as_str().unwrap()
    );
    let changed = expect_json(
        app.patch(
            &path,
            ADMIN_TOKEN,
            &json!({"version": "2.0", "attributes": [{"name": "Email", "type": "text"}]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["schema_id"], format!("{did}:2:Membership:2.0"));
    assert_eq!(changed["name"], "Membership", "absent fields stay");
    assert_eq!(
        changed["attributes"],
        json!([{"name": "Email", "type": "text"}])
    );
    let invalid = expect_error(
        app.patch(&path, ADMIN_TOKEN, &json!({"name": "a<b"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(invalid.starts_with("`name`"), "{invalid}");
    assert_eq!(
        app.delete(&path, ADMIN_TOKEN).await.status(),
        StatusCode::NO_CONTENT
    );
    model::expect_not_found(app.get(&path, ADMIN_TOKEN).await).await;
    model::expect_not_found(app.delete(&path, ADMIN_TOKEN).await).await;
    model::expect_not_found(
        app.patch(&path, ADMIN_TOKEN, &json!({"version": "3.0"}))
            .await,
    )
    .await;
}

async fn a_schema_in_use_cannot_change_or_be_deleted_and_the_409_names_the_definition(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let schema = model::schema(&app, &did, "Membership").await;
    let definition =
        model::definition(&app, &did, &schema["schema_id"], "service", json!({})).await;
    let credential_id = definition["credential_id"].as_str().unwrap();
    let path = format!(
        "/api/v1/services/{did}/schemas/{}",
        schema["id"].as_str().unwrap()
    );
    let message = expect_error(
        app.patch(&path, ADMIN_TOKEN, &json!({"version": "2.0"}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains(credential_id), "{message}");
    let message = expect_error(
        app.delete(&path, ADMIN_TOKEN).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains(credential_id), "{message}");
    let unchanged = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(unchanged, schema);
}

async fn another_services_token_gets_404_on_a_schema(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_service("A").await;
    let b = app.create_service("B").await;
    let (_, b_token) = app.create_token(&b).await;
    let schema = model::schema(&app, &a, "Membership").await;
    let id = schema["id"].as_str().unwrap();
    let a_path = format!("/api/v1/services/{a}/schemas/{id}");
    model::expect_not_found(app.get(&a_path, &b_token).await).await;
    model::expect_not_found(
        app.patch(&a_path, &b_token, &json!({"version": "9.0"}))
            .await,
    )
    .await;
    model::expect_not_found(app.delete(&a_path, &b_token).await).await;
    model::expect_not_found(
        app.get(&format!("/api/v1/services/{a}/schemas"), &b_token)
            .await,
    )
    .await;
    // Under its own DID, B's token does not see A's schema either.
    let b_path = format!("/api/v1/services/{b}/schemas/{id}");
    model::expect_not_found(app.get(&b_path, &b_token).await).await;
    model::expect_not_found(app.delete(&b_path, &b_token).await).await;
    let still = expect_json(app.get(&a_path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(still, schema);
}
