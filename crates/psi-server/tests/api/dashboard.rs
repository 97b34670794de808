//! The dashboard's accounts and its first screen over real HTTP: signing in and out (a strict
//! session cookie, sessions ended everywhere), failed sign-ins throttled, every form guarded by
//! the session's CSRF token and the origin, viewers changing nothing, and each person seeing only
//! their services.

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::backend_tests;
use crate::demo_fixture::{Demo, demo};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json, spawn_app};
use psi_server::cli::{AddOperatorArgs, AdminCommand};
use psi_server::db::operators::{self, Role};

backend_tests!(
    signing_in_sets_a_strict_session_cookie_and_signing_out_ends_it,
    forms_need_the_csrf_token_and_this_origin_and_viewers_change_nothing,
    failed_sign_ins_are_throttled_and_say_nothing_of_the_user_name,
    each_person_sees_only_their_services,
);

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A browser without redirects, so each answer is seen.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Adds a person with `role` in `did` (none: an admin), as `psi admin add-operator` does.
pub(crate) async fn person(app: &TestApp, name: &str, role: Option<(&str, Role)>) {
    let args = AddOperatorArgs {
        username: name.to_owned(),
        admin: role.is_none(),
        service: role.map(|(did, _)| did.to_owned()),
        role: role.map(|(_, role)| role.as_str().to_owned()),
    };
    let command = AdminCommand::AddOperator(args);
    psi_server::dashboard::accounts::administer(&app.app.state().db, &command, PASSWORD)
        .await
        .unwrap();
}

/// Asserts the answer's status and returns its body.
pub(crate) async fn answer(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "{response:?}");
    response.text().await.unwrap()
}

/// Asserts that `html` contains every one of `texts`.
pub(crate) fn contains_all(html: &str, texts: &[&str]) {
    for text in texts {
        assert!(html.contains(text), "{text} in {html}");
    }
}

/// `eve`, an editor of the demo service, signed in.
pub(crate) async fn editor<'a>(app: &'a TestApp, demo: &Demo) -> Session<'a> {
    person(app, "eve", Some((&demo.did, Role::Editor))).await;
    Session::sign_in(app, "eve").await
}

/// A signed-in browser session: its cookie and CSRF token.
pub(crate) struct Session<'a> {
    app: &'a TestApp,
    cookie: String,
}

impl<'a> Session<'a> {
    pub(crate) async fn sign_in(app: &'a TestApp, name: &str) -> Session<'a> {
        let response = sign_in(app, name, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{response:?}");
        let set_cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        contains_all(
            &set_cookie,
            &[
                "HttpOnly",
                "SameSite=Strict",
                "Path=/dashboard",
                "Max-Age=43200",
            ],
        );
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        Session { app, cookie }
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        browser()
            .get(self.app.url(path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}: {response:?}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("form-action 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        response.text().await.unwrap()
    }

    /// The CSRF token the page's forms carry.
    pub(crate) async fn csrf(&self, path: &str) -> String {
        let html = self.page(path).await;
        let at = html.find("name=\"_csrf\" value=\"").expect("a form") + 20;
        html[at..].split('"').next().unwrap().to_owned()
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Response {
        let mut request = browser()
            .post(self.app.url(path))
            .header("cookie", &self.cookie)
            .form(form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send().await.unwrap()
    }
}

async fn sign_in(app: &TestApp, name: &str, password: &str) -> Response {
    browser()
        .post(app.url("/dashboard/sign-in"))
        .form(&[("username", name), ("password", password)])
        .send()
        .await
        .unwrap()
}

pub(crate) fn location(response: &Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

/// Whether the demo interaction is active, as the API says.
async fn active(app: &TestApp, demo: &Demo) -> bool {
    let path = demo.interaction_path();
    let interaction: Value = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    interaction["active"].as_bool().unwrap()
}

fn interactions(demo: &Demo) -> String {
    format!("/dashboard/services/{}/interactions", demo.did)
}

async fn signing_in_sets_a_strict_session_cookie_and_signing_out_ends_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "ada", None).await;

    // `/` leads to the dashboard, which asks to sign in.
    let root = browser().get(app.url("/")).send().await.unwrap();
    assert_eq!(location(&root), "/dashboard/");
    let anonymous = browser().get(app.url("/dashboard/")).send().await.unwrap();
    assert_eq!(location(&anonymous), "/dashboard/sign-in");
    let form = browser()
        .get(app.url("/dashboard/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert!(
        form.text()
            .await
            .unwrap()
            .contains("autocomplete=\"current-password\"")
    );

    // User names are folded to lower case.
    let session = Session::sign_in(&app, "Ada").await;
    assert_eq!(
        location(&session.get("/dashboard/").await),
        interactions(&demo)
    );
    let html = session.page(&interactions(&demo)).await;
    assert!(
        html.contains("Join the demo club") && html.contains(">Interactions<"),
        "{html}"
    );

    // A second browser; signing out ends only this one, signing out everywhere ends both.
    let other = Session::sign_in(&app, "ada").await;
    let csrf = session.csrf(&interactions(&demo)).await;
    let out = session
        .post("/dashboard/sign-out", &[("_csrf", &csrf)], None)
        .await;
    assert_eq!(location(&out), "/dashboard/sign-in");
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        location(&session.get(&interactions(&demo)).await),
        "/dashboard/sign-in"
    );
    other.page(&interactions(&demo)).await;
    let third = Session::sign_in(&app, "ada").await;
    let csrf = other.csrf(&interactions(&demo)).await;
    let everywhere = other
        .post("/dashboard/sign-out-everywhere", &[("_csrf", &csrf)], None)
        .await;
    assert_eq!(location(&everywhere), "/dashboard/sign-in");
    for gone in [&other, &third] {
        assert_eq!(
            location(&gone.get(&interactions(&demo)).await),
            "/dashboard/sign-in"
        );
    }

    // Expired sessions sign no one in, and the sweep deletes them.
    let last = Session::sign_in(&app, "ada").await;
    let pool = app.db.raw_pool().await;
    sqlx::query("UPDATE operator_sessions SET expires_at = 0")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        location(&last.get(&interactions(&demo)).await),
        "/dashboard/sign-in"
    );
    let now = psi_server::db::now_ms();
    let purged = operators::purge_sessions(&app.app.state().db, now)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    app.app.stop().await.unwrap();
}

async fn forms_need_the_csrf_token_and_this_origin_and_viewers_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "eve", Some((&demo.did, Role::Editor))).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let pause = format!("{}/{}/active", interactions(&demo), demo.interaction);

    let editor = Session::sign_in(&app, "eve").await;
    let csrf = editor.csrf(&interactions(&demo)).await;
    let forged = editor
        .post(&pause, &[("_csrf", "forged"), ("active", "false")], None)
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let elsewhere = editor
        .post(
            &pause,
            &[("_csrf", &csrf), ("active", "false")],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);
    assert!(active(&app, &demo).await, "a refused form changed nothing");
    let own_origin = app.address.clone();
    let paused = editor
        .post(
            &pause,
            &[("_csrf", &csrf), ("active", "false")],
            Some(&own_origin),
        )
        .await;
    assert_eq!(location(&paused), interactions(&demo));
    assert!(!active(&app, &demo).await, "the API shows the pause");
    assert!(editor.page(&interactions(&demo)).await.contains("Paused"));

    // A viewer sees no button, and the form itself is refused.
    let viewer = Session::sign_in(&app, "vic").await;
    let html = viewer.page(&interactions(&demo)).await;
    assert!(
        !html.contains("Resume") && html.contains("(viewer)"),
        "{html}"
    );
    let csrf = viewer.csrf(&interactions(&demo)).await;
    let refused = viewer
        .post(&pause, &[("_csrf", &csrf), ("active", "true")], None)
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(!active(&app, &demo).await);
    app.app.stop().await.unwrap();
}

async fn failed_sign_ins_are_throttled_and_say_nothing_of_the_user_name(backend: Backend) {
    let app = spawn_app(backend).await;
    person(&app, "ada", None).await;
    let wrong = sign_in(&app, "ada", "not the password").await;
    let unknown = sign_in(&app, "nobody", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    let (wrong, unknown) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert!(wrong.contains("Wrong user name or password."), "{wrong}");
    assert_eq!(
        wrong.replace("value=\"ada\"", ""),
        unknown.replace("value=\"nobody\"", ""),
        "the same page either way"
    );
    // The failure budget ([auth]: 10 at once) runs out; then even the right password waits.
    let mut throttled = false;
    for _ in 0..12 {
        if sign_in(&app, "ada", "still not it").await.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "failed sign-ins are throttled");
    let right = sign_in(&app, "ada", PASSWORD).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        right
            .text()
            .await
            .unwrap()
            .contains("Too many failed sign-ins")
    );
    app.app.stop().await.unwrap();
}

async fn each_person_sees_only_their_services(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let other = app.create_service("Other").await;
    person(&app, "olga", Some((&other, Role::Owner))).await;
    let olga = Session::sign_in(&app, "olga").await;
    assert_eq!(
        location(&olga.get("/dashboard/").await),
        format!("/dashboard/services/{other}/interactions")
    );
    let html = olga
        .page(&format!("/dashboard/services/{other}/interactions"))
        .await;
    assert!(
        html.contains("has no interactions yet") && !html.contains(&demo.did),
        "{html}"
    );
    // Another service's pages and forms answer 404, as in the API.
    assert_eq!(
        olga.get(&interactions(&demo)).await.status(),
        StatusCode::NOT_FOUND
    );
    let csrf = olga
        .csrf(&format!("/dashboard/services/{other}/interactions"))
        .await;
    let pause = format!("{}/{}/active", interactions(&demo), demo.interaction);
    let response = olga
        .post(&pause, &[("_csrf", &csrf), ("active", "false")], None)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Someone in no service is told so.
    person(&app, "nemo", Some((&other, Role::Viewer))).await;
    let state = app.app.state();
    let (nemo, _) = operators::by_username(&state.db, "nemo")
        .await
        .unwrap()
        .unwrap();
    sqlx::query("DELETE FROM operator_roles WHERE operator_id = $1")
        .bind(&nemo.id)
        .execute(&app.db.raw_pool().await)
        .await
        .unwrap();
    let nemo = Session::sign_in(&app, "nemo").await;
    assert!(nemo.page("/dashboard/").await.contains("No service yet"));
    app.app.stop().await.unwrap();
}
