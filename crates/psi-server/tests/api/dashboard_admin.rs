//! **Admin** (services, people, API tokens) and a service's **People** over real HTTP: each form
//! changes what the management API shows, the API's refusals (a taken name, a short password, the
//! last admin, an unknown person) come back in the form with 409 or 422, only admins open Admin,
//! only owners (and admins) a service's People, other services' people see nothing, and a forged
//! CSRF token changes nothing.

use reqwest::StatusCode;
use serde_json::Value;

use crate::backend_tests;
use crate::dashboard::{Session, answer, contains_all, location, person};
use crate::demo_fixture::demo;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json, spawn_app};
use psi_server::db::operators::Role;

backend_tests!(
    admins_add_services_and_api_tokens,
    admins_add_change_and_remove_people_but_never_the_last_admin,
    owners_manage_their_services_people,
    only_admins_open_admin_and_only_owners_people,
);

const SERVICES: &str = "/dashboard/admin/services";
const PEOPLE: &str = "/dashboard/admin/people";

async fn api_json(app: &TestApp, path: &str) -> Value {
    expect_json(app.get(path, ADMIN_TOKEN).await, StatusCode::OK).await
}

/// The operator of `username`, as the API shows it.
async fn operator(app: &TestApp, username: &str) -> Option<Value> {
    let list = api_json(app, "/api/v1/operators?limit=500").await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["username"] == username)
        .cloned()
}

async fn operator_id(app: &TestApp, username: &str) -> String {
    let found = operator(app, username).await.expect("the operator");
    found["id"].as_str().unwrap().to_owned()
}

/// The service's people as the API lists them: (user name, role).
async fn people_of(app: &TestApp, did: &str) -> Vec<(String, String)> {
    let list = api_json(app, &format!("/api/v1/services/{did}/people")).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["username"].as_str().unwrap().to_owned(),
                p["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn admins_add_services_and_api_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    person(&app, "ada", None).await;
    let ada = Session::sign_in(&app, "ada").await;

    // With no service yet, an admin is led to Admin, whose frame has no service menu.
    assert_eq!(location(&ada.get("/dashboard/").await), SERVICES);
    let html = ada.page(SERVICES).await;
    contains_all(
        &html,
        &[
            "No services yet",
            ">Add service<",
            "aria-current=\"page\">Admin<",
            "(admin)",
        ],
    );
    assert!(!html.contains(">Interactions<") && !html.contains("picker"));
    let html = ada.page(&format!("{SERVICES}?edit=new")).await;
    assert!(html.contains("aria-labelledby=\"add-service-title\" open"));
    let csrf = ada.csrf(SERVICES).await;

    // A refused name comes back in the pop-up; a good one opens the new service.
    let refused = ada
        .post(SERVICES, &[("_csrf", csrf.as_str()), ("name", "  ")], None)
        .await;
    let html = answer(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    contains_all(
        &html,
        &[
            "aria-labelledby=\"add-service-title\" open",
            "1 to 200 characters",
        ],
    );
    let added = ada
        .post(
            SERVICES,
            &[("_csrf", csrf.as_str()), ("name", "Acme Bank")],
            None,
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let services = api_json(&app, "/api/v1/services").await;
    assert_eq!(services["data"][0]["name"], "Acme Bank", "{services}");
    let did = services["data"][0]["did"].as_str().unwrap().to_owned();
    assert_eq!(
        location(&added),
        format!("/dashboard/services/{did}/interactions")
    );
    let html = ada.page(SERVICES).await;
    contains_all(
        &html,
        &[
            "Acme Bank",
            &did,
            &format!("/dashboard/services/{did}/tokens"),
            &format!("/dashboard/services/{did}/people"),
        ],
    );

    // API tokens: created and shown once, working, listed, revoked.
    let tokens = format!("/dashboard/services/{did}/tokens");
    let html = ada.page(&tokens).await;
    contains_all(&html, &[">Create token<", "has no API tokens yet"]);
    let refused = ada
        .post(&tokens, &[("_csrf", csrf.as_str()), ("name", "")], None)
        .await;
    let html = answer(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("aria-labelledby=\"create-token-title\" open"));
    let created = ada
        .post(
            &tokens,
            &[("_csrf", csrf.as_str()), ("name", "billing")],
            None,
        )
        .await;
    assert_eq!(created.headers()["cache-control"], "no-store");
    let html = answer(created, StatusCode::CREATED).await;
    assert!(html.contains("Token billing created"), "{html}");
    let at = html.find("id=\"token-value\" readonly value=\"").unwrap() + 33;
    let token = html[at..].split('"').next().unwrap().to_owned();
    assert!(token.starts_with("psi_"), "{token}");
    let service = format!("/api/v1/services/{did}");
    assert_eq!(app.get(&service, &token).await.status(), StatusCode::OK);
    let html = ada.page(&tokens).await;
    assert!(html.contains("billing") && !html.contains(&token));
    let listed = api_json(&app, &format!("{service}/tokens")).await;
    let id = listed["data"][0]["id"].as_str().unwrap().to_owned();
    let revoked = ada
        .post(
            &format!("{tokens}/{id}/revoke"),
            &[("_csrf", csrf.as_str())],
            None,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&service, &token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(ada.page(&tokens).await.contains("Revoked"));
    // Another service's token page: 404 for an unknown DID, as elsewhere.
    let unknown = ada
        .get("/dashboard/services/AAAAAAAAAAAAAAAAAAAAAA/tokens")
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

async fn admins_add_change_and_remove_people_but_never_the_last_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "ada", None).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let ada = Session::sign_in(&app, "ada").await;
    let html = ada.page(PEOPLE).await;
    contains_all(
        &html,
        &[
            "ada",
            "vic",
            "Demo service (viewer)",
            ">Add person<",
            "Admin</span>",
        ],
    );
    let html = ada.page(&format!("{PEOPLE}?edit=new")).await;
    assert!(html.contains("aria-labelledby=\"add-person-title\" open"));
    let csrf = ada.csrf(PEOPLE).await;

    // Add person: refusals in the pop-up (the user name kept, never the password), then added.
    let add = |name: &'static str, password: &'static str, admin: bool| {
        let ada = &ada;
        let csrf = csrf.clone();
        async move {
            let mut form = vec![
                ("_csrf", csrf.as_str()),
                ("username", name),
                ("password", password),
            ];
            if admin {
                form.push(("admin", "true"));
            }
            ada.post(PEOPLE, &form, None).await
        }
    };
    let html = answer(
        add("vic", "a long enough password", false).await,
        StatusCode::CONFLICT,
    )
    .await;
    contains_all(
        &html,
        &[
            "aria-labelledby=\"add-person-title\" open",
            "the user name &#34;vic&#34; is taken",
        ],
    );
    let html = answer(
        add("bob", "short", true).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    contains_all(
        &html,
        &[
            "at least 12 characters",
            "value=\"bob\"",
            "value=\"true\" checked",
        ],
    );
    assert!(!html.contains("value=\"short\""));
    let added = add("bob", "a long enough password", false).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&added), PEOPLE);
    let bob = operator(&app, "bob").await.expect("bob added");
    assert_eq!(bob["admin"], false);
    let bob_id = bob["id"].as_str().unwrap().to_owned();

    // Make admin, remove admin.
    let admin_form = |id: String, value: &'static str| {
        let ada = &ada;
        let csrf = csrf.clone();
        async move {
            ada.post(
                &format!("{PEOPLE}/{id}/admin"),
                &[("_csrf", csrf.as_str()), ("admin", value)],
                None,
            )
            .await
        }
    };
    assert_eq!(
        admin_form(bob_id.clone(), "true").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(operator(&app, "bob").await.unwrap()["admin"], true);
    assert!(ada.page(PEOPLE).await.contains("Remove admin"));
    assert_eq!(
        admin_form(bob_id.clone(), "false").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(operator(&app, "bob").await.unwrap()["admin"], false);

    // The last admin: neither demoted nor removed, said above the list.
    let ada_id = operator_id(&app, "ada").await;
    let html = answer(
        admin_form(ada_id.clone(), "false").await,
        StatusCode::CONFLICT,
    )
    .await;
    contains_all(&html, &["role=\"alert\"", "the last admin"]);
    let removed = ada
        .post(
            &format!("{PEOPLE}/{ada_id}/delete"),
            &[("_csrf", csrf.as_str())],
            None,
        )
        .await;
    let html = answer(removed, StatusCode::CONFLICT).await;
    assert!(html.contains("the last admin"));
    assert_eq!(operator(&app, "ada").await.unwrap()["admin"], true);

    // Reset password: the pop-up by address, a short one refused in it, then bob's sessions end.
    let vic_session = Session::sign_in(&app, "vic").await;
    let vic_id = operator_id(&app, "vic").await;
    let html = ada.page(&format!("{PEOPLE}?reset={vic_id}")).await;
    assert!(html.contains("Reset password of vic"), "{html}");
    let reset = format!("{PEOPLE}/{vic_id}/password");
    let refused = ada
        .post(
            &reset,
            &[("_csrf", csrf.as_str()), ("password", "short")],
            None,
        )
        .await;
    let html = answer(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    contains_all(&html, &["Reset password of vic", "at least 12 characters"]);
    let done = ada
        .post(
            &reset,
            &[
                ("_csrf", csrf.as_str()),
                ("password", "another long password"),
            ],
            None,
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&vic_session.get("/dashboard/").await),
        "/dashboard/sign-in",
        "vic's session ended"
    );

    // Remove person.
    let removed = ada
        .post(
            &format!("{PEOPLE}/{bob_id}/delete"),
            &[("_csrf", csrf.as_str())],
            None,
        )
        .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert!(operator(&app, "bob").await.is_none());

    // A forged CSRF token changes nothing.
    let forged = ada
        .post(
            PEOPLE,
            &[
                ("_csrf", "forged"),
                ("username", "mallory"),
                ("password", "a long enough password"),
                ("admin", "true"),
            ],
            None,
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let forged = ada
        .post(SERVICES, &[("_csrf", "forged"), ("name", "Evil")], None)
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(operator(&app, "mallory").await.is_none());
    let services = api_json(&app, "/api/v1/services").await;
    assert_eq!(services["data"].as_array().unwrap().len(), 1);
}

async fn owners_manage_their_services_people(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "olga", Some((&demo.did, Role::Owner))).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    // Pat is someone an admin added, with no role yet.
    let other = app.create_service("Other").await;
    person(&app, "pat", Some((&other, Role::Viewer))).await;
    let olga = Session::sign_in(&app, "olga").await;
    let people = format!("/dashboard/services/{}/people", demo.did);
    let html = olga.page(&people).await;
    contains_all(
        &html,
        &[
            "aria-current=\"page\">People<",
            "olga",
            "vic",
            ">Give a role<",
        ],
    );
    assert!(!html.contains(">Admin<"), "no Admin for an owner");
    assert!(!html.contains("pat"));
    let html = olga.page(&format!("{people}?edit=new")).await;
    assert!(html.contains("aria-labelledby=\"give-role-title\" open"));
    let csrf = olga.csrf(&people).await;

    // Give a role by user name: unknown refused in the pop-up, then pat can open the service.
    let refused = olga
        .post(
            &people,
            &[
                ("_csrf", csrf.as_str()),
                ("username", "nobody"),
                ("role", "editor"),
            ],
            None,
        )
        .await;
    let html = answer(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    contains_all(
        &html,
        &[
            "aria-labelledby=\"give-role-title\" open",
            "no one has the user name",
            "value=\"nobody\"",
        ],
    );
    let pat = Session::sign_in(&app, "pat").await;
    let keys = format!("/dashboard/services/{}/keys", demo.did);
    assert_eq!(pat.get(&keys).await.status(), StatusCode::NOT_FOUND);
    let given = olga
        .post(
            &people,
            &[
                ("_csrf", csrf.as_str()),
                ("username", "Pat"),
                ("role", "editor"),
            ],
            None,
        )
        .await;
    assert_eq!(given.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&given), people);
    assert!(
        people_of(&app, &demo.did)
            .await
            .contains(&("pat".into(), "editor".into()))
    );
    assert_eq!(pat.get(&keys).await.status(), StatusCode::OK);

    // Change a role; an unknown one is refused above the list.
    let pat_id = operator_id(&app, "pat").await;
    let change = format!("{people}/{pat_id}");
    let changed = olga
        .post(
            &change,
            &[("_csrf", csrf.as_str()), ("role", "viewer")],
            None,
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert!(
        people_of(&app, &demo.did)
            .await
            .contains(&("pat".into(), "viewer".into()))
    );
    let refused = olga
        .post(
            &change,
            &[("_csrf", csrf.as_str()), ("role", "admin")],
            None,
        )
        .await;
    let html = answer(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("role=\"alert\""), "{html}");

    // Remove: pat opens the service no more.
    let removed = olga
        .post(
            &format!("{change}/delete"),
            &[("_csrf", csrf.as_str())],
            None,
        )
        .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert!(
        !people_of(&app, &demo.did)
            .await
            .iter()
            .any(|(n, _)| n == "pat")
    );
    assert_eq!(pat.get(&keys).await.status(), StatusCode::NOT_FOUND);

    // A forged CSRF token changes nothing.
    let forged = olga
        .post(
            &people,
            &[("_csrf", "forged"), ("username", "pat"), ("role", "owner")],
            None,
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(
        !people_of(&app, &demo.did)
            .await
            .iter()
            .any(|(n, _)| n == "pat")
    );
}

async fn only_admins_open_admin_and_only_owners_people(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let other = app.create_service("Other").await;
    person(&app, "olga", Some((&demo.did, Role::Owner))).await;
    person(&app, "eve", Some((&demo.did, Role::Editor))).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    person(&app, "oscar", Some((&other, Role::Owner))).await;
    let vic_id = operator_id(&app, "vic").await;
    let people = format!("/dashboard/services/{}/people", demo.did);
    let tokens = format!("/dashboard/services/{}/tokens", demo.did);

    // An owner is no admin: every Admin page and form answers 403.
    let olga = Session::sign_in(&app, "olga").await;
    let csrf = olga.csrf(&people).await;
    for path in [
        SERVICES,
        PEOPLE,
        &tokens,
        &format!("{PEOPLE}?reset={vic_id}"),
    ] {
        assert_eq!(
            olga.get(path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    for (path, form) in [
        (SERVICES.to_owned(), vec![("name", "Mine")]),
        (
            PEOPLE.to_owned(),
            vec![
                ("username", "mallory"),
                ("password", "a long enough password"),
            ],
        ),
        (format!("{PEOPLE}/{vic_id}/admin"), vec![("admin", "true")]),
        (
            format!("{PEOPLE}/{vic_id}/password"),
            vec![("password", "a long enough password")],
        ),
        (format!("{PEOPLE}/{vic_id}/delete"), vec![]),
        (tokens.clone(), vec![("name", "mine")]),
    ] {
        let mut form = form;
        form.push(("_csrf", csrf.as_str()));
        let response = olga.post(&path, &form, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(operator(&app, "mallory").await.is_none());
    assert_eq!(operator(&app, "vic").await.unwrap()["admin"], false);
    let services = api_json(&app, "/api/v1/services").await;
    assert_eq!(services["data"].as_array().unwrap().len(), 2);

    // Editors and viewers: no People entry, and 403 on the page and its forms.
    for name in ["eve", "vic"] {
        let session = Session::sign_in(&app, name).await;
        let keys = format!("/dashboard/services/{}/keys", demo.did);
        let html = session.page(&keys).await;
        assert!(!html.contains(&people), "{name} is offered People");
        assert!(!html.contains(">Admin<"));
        assert_eq!(session.get(&people).await.status(), StatusCode::FORBIDDEN);
        let csrf = session.csrf(&keys).await;
        for (path, form) in [
            (people.clone(), vec![("username", name), ("role", "owner")]),
            (format!("{people}/{vic_id}"), vec![("role", "owner")]),
            (format!("{people}/{vic_id}/delete"), vec![]),
        ] {
            let mut form = form;
            form.push(("_csrf", csrf.as_str()));
            let response = session.post(&path, &form, None).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {path}");
        }
    }
    let roles = people_of(&app, &demo.did).await;
    assert!(
        roles.contains(&("eve".into(), "editor".into())),
        "{roles:?}"
    );
    assert!(
        roles.contains(&("vic".into(), "viewer".into())),
        "{roles:?}"
    );

    // Another service's owner: 404 on this service's People, its forms too.
    let oscar = Session::sign_in(&app, "oscar").await;
    let own = format!("/dashboard/services/{other}/people");
    let csrf = oscar.csrf(&own).await;
    assert_eq!(oscar.get(&people).await.status(), StatusCode::NOT_FOUND);
    let response = oscar
        .post(
            &format!("{people}/{vic_id}"),
            &[("_csrf", csrf.as_str()), ("role", "owner")],
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = oscar
        .post(
            &people,
            &[
                ("_csrf", csrf.as_str()),
                ("username", "oscar"),
                ("role", "owner"),
            ],
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        !people_of(&app, &demo.did)
            .await
            .iter()
            .any(|(n, _)| n == "oscar")
    );
}
