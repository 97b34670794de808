//! `/api/v1/operators` and `/api/v1/services/{did}/people` over real HTTP: the admin token adds,
//! lists, changes and removes the dashboard's people (never showing a password, never leaving no
//! admin), a new password ends the person's sessions, and a service's token manages that
//! service's people only, which decides what each person can open in the dashboard.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::dashboard::{PASSWORD, Session, browser, location};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_error, expect_json, spawn_app};

backend_tests!(
    operators_are_added_listed_in_pages_and_read_without_their_password,
    a_new_password_ends_every_session_and_the_admin_flag_changes,
    the_last_admin_is_neither_removed_nor_demoted,
    two_admins_demoted_at_once_leave_one,
    refusals_answer_409_and_422_and_service_tokens_cannot_manage_operators,
    a_services_people_are_managed_with_its_token_and_decide_what_each_person_opens,
);

/// Adds an operator through the API; returns its view.
pub(crate) async fn add(app: &TestApp, username: &str, admin: bool) -> Value {
    let body = json!({"username": username, "password": PASSWORD, "admin": admin});
    expect_json(
        app.post("/api/v1/operators", ADMIN_TOKEN, &body).await,
        StatusCode::CREATED,
    )
    .await
}

fn id(operator: &Value) -> String {
    operator["id"].as_str().expect("an id").to_owned()
}

fn operator_path(operator: &Value) -> String {
    format!("/api/v1/operators/{}", id(operator))
}

async fn operators_are_added_listed_in_pages_and_read_without_their_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = add(&app, "Ada", true).await;
    assert_eq!(ada["username"], "ada", "folded: {ada}");
    assert_eq!(ada["admin"], true);
    assert_eq!(ada["roles"], json!([]));
    assert!(!ada.to_string().contains(PASSWORD), "{ada}");
    // `admin` defaults to false.
    let bob = expect_json(
        app.post(
            "/api/v1/operators",
            ADMIN_TOKEN,
            &json!({"username": "bob", "password": PASSWORD}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(bob["admin"], false);
    add(&app, "carol", false).await;

    let did = app.create_service("Acme").await;
    let put = app
        .client
        .put(app.url(&format!("/api/v1/services/{did}/people/{}", id(&bob))))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"role": "editor"}))
        .send()
        .await
        .unwrap();
    expect_json(put, StatusCode::OK).await;

    let first = expect_json(
        app.get("/api/v1/operators?limit=2", ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await;
    let names: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ada", "bob"], "oldest first: {first}");
    assert_eq!(
        first["data"][1]["roles"],
        json!([{"service_did": did, "role": "editor"}])
    );
    assert!(!first.to_string().contains("password"), "{first}");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = expect_json(
        app.get(
            &format!("/api/v1/operators?limit=2&cursor={cursor}"),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(second["data"][0]["username"], "carol", "{second}");
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());

    let got = expect_json(
        app.get(&operator_path(&bob), ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["username"], "bob");
    assert_eq!(got["roles"][0]["role"], "editor");
    expect_error(
        app.get("/api/v1/operators/nobody", ADMIN_TOKEN).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

/// Signs `name` in with `password`; the session's cookie, or `None` when refused.
async fn cookie_of(app: &TestApp, name: &str, password: &str) -> Option<String> {
    let response = browser()
        .post(app.url("/dashboard/sign-in"))
        .form(&[("username", name), ("password", password)])
        .send()
        .await
        .unwrap();
    (response.status() == StatusCode::SEE_OTHER).then(|| {
        let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_owned()
    })
}

/// Where the dashboard's home sends this cookie ("" when it shows a page: no service yet).
async fn home_with(app: &TestApp, cookie: &str) -> String {
    let response = browser()
        .get(app.url("/dashboard/"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    if response.status() == StatusCode::OK {
        return String::new();
    }
    location(&response).to_owned()
}

async fn a_new_password_ends_every_session_and_the_admin_flag_changes(backend: Backend) {
    let app = spawn_app(backend).await;
    add(&app, "ada", true).await;
    let bob = add(&app, "bob", false).await;
    let old = cookie_of(&app, "bob", PASSWORD).await.expect("signed in");
    assert_eq!(home_with(&app, &old).await, "", "signed in, no service yet");

    let changed = expect_json(
        app.patch(
            &operator_path(&bob),
            ADMIN_TOKEN,
            &json!({"password": "a brand new passphrase"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(!changed.to_string().contains("brand new"), "{changed}");
    assert_eq!(
        home_with(&app, &old).await,
        "/dashboard/sign-in",
        "the old session ended"
    );
    assert!(cookie_of(&app, "bob", PASSWORD).await.is_none());
    let new = cookie_of(&app, "bob", "a brand new passphrase").await;
    assert!(new.is_some(), "the new password signs in");

    // The admin flag, and an empty change that changes nothing.
    let promoted = expect_json(
        app.patch(&operator_path(&bob), ADMIN_TOKEN, &json!({"admin": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(promoted["admin"], true);
    // An admin with no service yet is led to Admin.
    assert_eq!(
        home_with(&app, new.as_deref().unwrap()).await,
        "/dashboard/admin/services"
    );
    let same = expect_json(
        app.patch(&operator_path(&bob), ADMIN_TOKEN, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(same["admin"], true);
    expect_error(
        app.patch(
            "/api/v1/operators/nobody",
            ADMIN_TOKEN,
            &json!({"admin": true}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn the_last_admin_is_neither_removed_nor_demoted(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = add(&app, "ada", true).await;
    let message = expect_error(
        app.patch(&operator_path(&ada), ADMIN_TOKEN, &json!({"admin": false}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("last admin"), "{message}");
    expect_error(
        app.delete(&operator_path(&ada), ADMIN_TOKEN).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    // With a second admin, the first may go; then the second is the last.
    let bea = add(&app, "bea", true).await;
    let cookie = cookie_of(&app, "ada", PASSWORD).await.unwrap();
    let did = app.create_service("Acme").await;
    app.client
        .put(app.url(&format!("/api/v1/services/{did}/people/{}", id(&ada))))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"role": "owner"}))
        .send()
        .await
        .unwrap();
    let demoted = expect_json(
        app.patch(&operator_path(&ada), ADMIN_TOKEN, &json!({"admin": false}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(demoted["admin"], false);
    expect_error(
        app.patch(&operator_path(&bea), ADMIN_TOKEN, &json!({"admin": false}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    let removed = app.delete(&operator_path(&ada), ADMIN_TOKEN).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.get(&operator_path(&ada), ADMIN_TOKEN).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(home_with(&app, &cookie).await, "/dashboard/sign-in");
    let people = expect_json(
        app.get(&format!("/api/v1/services/{did}/people"), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(people["data"], json!([]), "the roles went too");
    expect_error(
        app.delete(&operator_path(&ada), ADMIN_TOKEN).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn two_admins_demoted_at_once_leave_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut pair = [add(&app, "a0", true).await, add(&app, "b0", true).await];
    for round in 1..=5 {
        let demote = json!({"admin": false});
        let (first, second) = (operator_path(&pair[0]), operator_path(&pair[1]));
        let (a, b) = tokio::join!(
            app.patch(&first, ADMIN_TOKEN, &demote),
            app.patch(&second, ADMIN_TOKEN, &demote),
        );
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}"
        );
        let list = expect_json(
            app.get("/api/v1/operators?limit=500", ADMIN_TOKEN).await,
            StatusCode::OK,
        )
        .await;
        let admins: Vec<Value> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["admin"] == true)
            .cloned()
            .collect();
        assert_eq!(admins.len(), 1, "round {round}: {list}");
        // The one left and a new admin race next.
        pair = [
            admins[0].clone(),
            add(&app, &format!("n{round}"), true).await,
        ];
    }
}

async fn refusals_answer_409_and_422_and_service_tokens_cannot_manage_operators(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = add(&app, "ada", true).await;
    let create = |body: Value| {
        let app = &app;
        async move { app.post("/api/v1/operators", ADMIN_TOKEN, &body).await }
    };
    let message = expect_error(
        create(json!({"username": "ADA", "password": PASSWORD})).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_eq!(message, "the user name \"ada\" is taken");
    let message = expect_error(
        create(json!({"username": "ada lovelace", "password": PASSWORD})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("1 to 64"), "{message}");
    let message = expect_error(
        create(json!({"username": "bob", "password": "short"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("at least 12 characters"), "{message}");
    for body in [
        json!({"username": "bob", "password": PASSWORD, "role": "owner"}),
        json!({"username": "bob"}),
        json!({"username": "bob", "password": PASSWORD, "admin": "yes"}),
    ] {
        expect_error(
            create(body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    expect_error(
        app.patch(
            &operator_path(&ada),
            ADMIN_TOKEN,
            &json!({"password": "short"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        app.get("/api/v1/operators?limit=0", ADMIN_TOKEN).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // A service's token manages no operators; no token at all, nothing.
    let did = app.create_service("Acme").await;
    let (_, token) = app.create_token(&did).await;
    let body = json!({"username": "mallory", "password": PASSWORD, "admin": true});
    for response in [
        app.post("/api/v1/operators", &token, &body).await,
        app.get("/api/v1/operators", &token).await,
        app.get(&operator_path(&ada), &token).await,
        app.patch(&operator_path(&ada), &token, &json!({"admin": false}))
            .await,
        app.delete(&operator_path(&ada), &token).await,
    ] {
        expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let anonymous = app
        .client
        .post(app.url("/api/v1/operators"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let list = expect_json(
        app.get("/api/v1/operators", ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
}

async fn put_role(app: &TestApp, path: &str, token: &str, role: &str) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(token)
        .json(&json!({"role": role}))
        .send()
        .await
        .unwrap()
}

async fn a_services_people_are_managed_with_its_token_and_decide_what_each_person_opens(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let acme = app.create_service("Acme").await;
    let other = app.create_service("Other").await;
    let (_, token) = app.create_token(&acme).await;
    let bob = add(&app, "bob", false).await;
    let bob_in = |did: &str| format!("/api/v1/services/{did}/people/{}", id(&bob));
    let people = format!("/api/v1/services/{acme}/people");
    let session = Session::sign_in(&app, "bob").await;
    let page = format!("/dashboard/services/{acme}/keys");
    assert_eq!(
        session.get(&page).await.status(),
        StatusCode::NOT_FOUND,
        "no role yet"
    );

    // The service's own token gives a role; bob can look, not change.
    let given = expect_json(
        put_role(&app, &bob_in(&acme), &token, "viewer").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        given,
        json!({"operator_id": id(&bob), "username": "bob", "role": "viewer"})
    );
    assert_eq!(session.get(&page).await.status(), StatusCode::OK);
    let csrf = session.csrf(&page).await;
    let add_key = session
        .post(
            &page,
            &[
                ("_csrf", csrf.as_str()),
                ("name", "k"),
                ("type", "sha_secret"),
            ],
            None,
        )
        .await;
    assert_eq!(add_key.status(), StatusCode::FORBIDDEN);

    // Changed to editor, by user name this time.
    let changed = expect_json(
        app.post(
            &people,
            &token,
            &json!({"username": "BOB", "role": "editor"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["role"], "editor");
    let add_key = session
        .post(
            &page,
            &[
                ("_csrf", csrf.as_str()),
                ("name", "k"),
                ("type", "sha_secret"),
            ],
            None,
        )
        .await;
    assert_eq!(
        add_key.status(),
        StatusCode::CREATED,
        "an editor adds a key"
    );
    let listed = expect_json(app.get(&people, &token).await, StatusCode::OK).await;
    assert_eq!(
        listed,
        json!({"data": [{"operator_id": id(&bob), "username": "bob", "role": "editor"}],
            "next_cursor": null})
    );

    // Paged like every list.
    for name in ["carol", "dan"] {
        let person = add(&app, name, false).await;
        let path = format!("/api/v1/services/{acme}/people/{}", id(&person));
        expect_json(
            put_role(&app, &path, &token, "viewer").await,
            StatusCode::OK,
        )
        .await;
    }
    let first = expect_json(
        app.get(&format!("{people}?limit=2"), &token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = expect_json(
        app.get(&format!("{people}?limit=2&cursor={cursor}"), &token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(second["data"][0]["username"], "dan", "{second}");

    // Refusals.
    for (response, status) in [
        (
            put_role(&app, &bob_in(&acme), &token, "admin").await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            put_role(
                &app,
                &format!("/api/v1/services/{acme}/people/nobody"),
                &token,
                "viewer",
            )
            .await,
            StatusCode::NOT_FOUND,
        ),
        (
            app.post(
                &people,
                &token,
                &json!({"username": "nobody", "role": "owner"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        assert_eq!(response.status(), status, "{response:?}");
    }

    // Another service's token reaches none of this service's people, nor gives roles there.
    let (_, other_token) = app.create_token(&other).await;
    for response in [
        app.get(&people, &other_token).await,
        put_role(&app, &bob_in(&acme), &other_token, "owner").await,
        app.delete(&bob_in(&acme), &other_token).await,
        put_role(&app, &bob_in(&other), &token, "owner").await,
    ] {
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let still = expect_json(
        app.get(&operator_path(&bob), ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        still["roles"],
        json!([{"service_did": acme, "role": "editor"}]),
        "{still}"
    );

    // Removed: bob opens the service no more.
    let removed = app.delete(&bob_in(&acme), &token).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(session.get(&page).await.status(), StatusCode::NOT_FOUND);
    expect_error(
        app.delete(&bob_in(&acme), &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
