use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_error, expect_json, spawn_app};
use crate::model;

/// A service with one interaction; returns (did, the instances path, the default instance).
async fn interaction(app: &TestApp) -> (String, String, Value) {
    let did = app.create_service("Acme").await;
    let created = model::interaction(
        app,
        &did,
        json!({"name": "Join", "parameters": [{"name": "city", "value": "Berlin"}]}),
    )
    .await;
    let path = format!(
        "/api/v1/services/{did}/interactions/{}/instances",
        created["id"].as_str().unwrap()
    );
    (did, path, created["instances"][0].clone())
}

async fn add(app: &TestApp, path: &str, body: Value) -> Value {
    expect_json(
        app.post(path, ADMIN_TOKEN, &body).await,
        StatusCode::CREATED,
    )
    .await
}

/// The ids of the default instances of a listed page.
fn defaults(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["is_default"] == true)
        .map(|i| i["id"].as_str().unwrap())
        .collect()
}

backend_tests!(
    instances_are_added_with_parameters_and_listed_oldest_first,
    making_an_instance_the_default_moves_the_mark,
    the_default_instance_cannot_be_deleted_or_unset_but_others_can_change_and_go,
    invalid_parameters_answer_422,
    an_instance_answers_only_under_its_own_interaction,
    another_services_token_gets_404_on_an_instance,
);

async fn instances_are_added_with_parameters_and_listed_oldest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, path, default) = interaction(&app).await;
    let paris = add(
        &app,
        &path,
        json!({"parameters": [{"name": " city ", "value": "Paris"}]}),
    )
    .await;
    assert_eq!(
        paris["parameters"],
        json!([{"name": "city", "value": "Paris"}])
    );
    assert_eq!(paris["is_default"], false);
    let fetched = expect_json(
        app.get(
            &format!("{path}/{}", paris["id"].as_str().unwrap()),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fetched, paris);
    let listed = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(
        listed,
        json!({"data": [default, paris], "next_cursor": null})
    );
}

async fn making_an_instance_the_default_moves_the_mark(backend: Backend) {
    let app = spawn_app(backend).await;
    let (did, path, first) = interaction(&app).await;
    let second = add(&app, &path, json!({"parameters": []})).await;
    let second_id = second["id"].as_str().unwrap();
    let changed = expect_json(
        app.patch(
            &format!("{path}/{second_id}"),
            ADMIN_TOKEN,
            &json!({"is_default": true}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["is_default"], true);
    let listed = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(defaults(&listed), [second_id]);
    assert_eq!(
        listed["data"][0]["id"], first["id"],
        "oldest first, whichever is the default"
    );
    let third = add(&app, &path, json!({"is_default": true})).await;
    let listed = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(defaults(&listed), [third["id"].as_str().unwrap()]);
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    let interactions = expect_json(
        app.get(&format!("/api/v1/services/{did}/interactions"), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        interactions["data"][0]["instances"][0]["id"], third["id"],
        "an interaction shows its default instance first"
    );
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == first["id"] && i["is_default"] == false)
    );
}

async fn the_default_instance_cannot_be_deleted_or_unset_but_others_can_change_and_go(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (_, path, default) = interaction(&app).await;
    let default_path = format!("{path}/{}", default["id"].as_str().unwrap());
    let message = expect_error(
        app.delete(&default_path, ADMIN_TOKEN).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("default"), "{message}");
    let message = expect_error(
        app.patch(&default_path, ADMIN_TOKEN, &json!({"is_default": false}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("another instance"), "{message}");
    let other = add(&app, &path, json!({})).await;
    let other_path = format!("{path}/{}", other["id"].as_str().unwrap());
    let changed = expect_json(
        app.patch(
            &other_path,
            ADMIN_TOKEN,
            &json!({"parameters": [{"name": "city", "value": "Rome"}]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        changed["parameters"],
        json!([{"name": "city", "value": "Rome"}])
    );
    assert_eq!(changed["is_default"], false);
    assert_eq!(
        app.delete(&other_path, ADMIN_TOKEN).await.status(),
        StatusCode::NO_CONTENT
    );
    model::expect_not_found(app.get(&other_path, ADMIN_TOKEN).await).await;
    model::expect_not_found(app.delete(&other_path, ADMIN_TOKEN).await).await;
    let listed = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([default]));
}

async fn invalid_parameters_answer_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let (did, path, default) = interaction(&app).await;
    let cases = [
        (
            json!({"parameters": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}),
            "used twice",
        ),
        (
            json!({"parameters": [{"name": "<b>", "value": "1"}]}),
            "`parameters[0].name`",
        ),
        (json!({"parameters": [{"name": "a"}]}), "value"),
    ];
    for (body, expected) in cases {
        let message = expect_error(
            app.post(&path, ADMIN_TOKEN, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(message.contains(expected), "{body}: {message}");
        let default_path = format!("{path}/{}", default["id"].as_str().unwrap());
        expect_error(
            app.patch(&default_path, ADMIN_TOKEN, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let create = json!({"name": "Other", "parameters": body["parameters"]});
        expect_error(
            app.post(
                &format!("/api/v1/services/{did}/interactions"),
                ADMIN_TOKEN,
                &create,
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

async fn an_instance_answers_only_under_its_own_interaction(backend: Backend) {
    let app = spawn_app(backend).await;
    let (did, path, default) = interaction(&app).await;
    let other = model::interaction(&app, &did, json!({"name": "Other"})).await;
    let wrong = format!(
        "/api/v1/services/{did}/interactions/{}/instances/{}",
        other["id"].as_str().unwrap(),
        default["id"].as_str().unwrap()
    );
    model::expect_not_found(app.get(&wrong, ADMIN_TOKEN).await).await;
    model::expect_not_found(
        app.patch(&wrong, ADMIN_TOKEN, &json!({"is_default": true}))
            .await,
    )
    .await;
    model::expect_not_found(app.delete(&wrong, ADMIN_TOKEN).await).await;
    let missing = format!("/api/v1/services/{did}/interactions/nope/instances");
    model::expect_not_found(app.get(&missing, ADMIN_TOKEN).await).await;
    model::expect_not_found(app.post(&missing, ADMIN_TOKEN, &json!({})).await).await;
    assert_eq!(
        expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await["data"],
        json!([default])
    );
}

async fn another_services_token_gets_404_on_an_instance(backend: Backend) {
    let app = spawn_app(backend).await;
    let (a, path, default) = interaction(&app).await;
    let b = app.create_service("B").await;
    let (_, b_token) = app.create_token(&b).await;
    let default_path = format!("{path}/{}", default["id"].as_str().unwrap());
    for target in [default_path.clone(), default_path.replace(&a, &b)] {
        model::expect_not_found(app.get(&target, &b_token).await).await;
        model::expect_not_found(
            app.patch(&target, &b_token, &json!({"parameters": []}))
                .await,
        )
        .await;
        model::expect_not_found(app.delete(&target, &b_token).await).await;
    }
    for target in [path.clone(), path.replace(&a, &b)] {
        model::expect_not_found(app.get(&target, &b_token).await).await;
        model::expect_not_found(app.post(&target, &b_token, &json!({})).await).await;
    }
    let unchanged = expect_json(app.get(&default_path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(unchanged, default);
}
