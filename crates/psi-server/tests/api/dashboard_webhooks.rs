//! The dashboard's **Webhooks** screen over real HTTP: notification endpoints (Add endpoint, Send
//! test, Disable / Enable, Rotate key), messages with their attempts, and the walkthrough
//! "replay a failed delivery" (one message, and every failed one since a time), each checked
//! through the management API; viewers change nothing, other services see nothing.

use psi_server::db::operators::Role;
use psi_testkit::{Receiver, Reply};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::dashboard::{Session, answer, contains_all, location, person};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json};
use crate::notifications::spawn_delivering;

backend_tests!(
    replaying_a_failed_delivery_from_the_dashboard,
    endpoints_are_added_tested_disabled_enabled_and_rotated,
    viewers_and_other_services_change_nothing,
);

/// A server whose deliveries get one attempt each, stepped by hand, with a service and its
/// editor `eve` and viewer `vic`.
async fn setup(backend: Backend) -> (TestApp, String) {
    let app = spawn_delivering(backend, &[("workers", json!(0)), ("schedule", json!([]))]).await;
    let did = app.create_service("Hooks").await;
    person(&app, "eve", Some((&did, Role::Editor))).await;
    person(&app, "vic", Some((&did, Role::Viewer))).await;
    (app, did)
}

fn webhooks(did: &str) -> String {
    format!("/dashboard/services/{did}/webhooks")
}

async fn endpoints(app: &TestApp, did: &str) -> Vec<Value> {
    let path = format!("/api/v1/services/{did}/endpoints");
    let page = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    page["data"].as_array().unwrap().clone()
}

async fn newest_message(app: &TestApp, did: &str) -> Value {
    let path = format!("/api/v1/services/{did}/messages");
    let page = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    page["data"][0].clone()
}

/// Adds an endpoint to `url` through the dashboard's form; returns its id (from the API).
async fn add(session: &Session<'_>, app: &TestApp, did: &str, url: &str) -> String {
    let csrf = session.csrf(&webhooks(did)).await;
    let added = session
        .post(
            &format!("{}/endpoints", webhooks(did)),
            &[
                ("_csrf", &csrf),
                ("url", url),
                ("event_types", "event.failed"),
                ("event_types", "event.completed"),
                ("key", "default"),
                ("auth", "signature"),
            ],
            None,
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&added), format!("{}?done=added", webhooks(did)));
    let endpoint = endpoints(app, did)
        .await
        .into_iter()
        .find(|e| e["url"] == url)
        .expect("the API lists it");
    assert_eq!(
        endpoint["event_types"],
        json!(["event.failed", "event.completed"])
    );
    endpoint["id"].as_str().unwrap().to_owned()
}

async fn replaying_a_failed_delivery_from_the_dashboard(backend: Backend) {
    let (app, did) = setup(backend).await;
    let receiver = Receiver::start().await;
    receiver.answer(Reply::status(500));
    let editor = Session::sign_in(&app, "eve").await;
    let endpoint = add(&editor, &app, &did, &receiver.url("/hook")).await;

    // A test message fails (one attempt, answered 500).
    let csrf = editor.csrf(&webhooks(&did)).await;
    let sent = editor
        .post(
            &format!("{}/endpoints/{endpoint}/test", webhooks(&did)),
            &[("_csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(location(&sent), format!("{}?done=test", webhooks(&did)));
    app.worker().drain().await.unwrap();
    let message = newest_message(&app, &did).await;
    assert_eq!(message["status"], "failed");
    let id = message["id"].as_str().unwrap();

    let html = editor
        .page(&format!("{}?status=failed", webhooks(&did)))
        .await;
    assert!(
        html.contains(&format!("/webhooks/messages/{id}\"")) && html.contains(">failed<"),
        "{html}"
    );
    let page = format!("{}/messages/{id}", webhooks(&did));
    let html = editor.page(&page).await;
    contains_all(
        &html,
        &[
            "Attempts",
            ">500<",
            "Replay",
            "&#34;type&#34;: &#34;test&#34;",
        ],
    );

    // Replay: the receiver answers now, and the API shows the new attempt.
    receiver.answer(Reply::status(200));
    let csrf = editor.csrf(&page).await;
    let replayed = editor
        .post(&format!("{page}/replay"), &[("_csrf", &csrf)], None)
        .await;
    assert_eq!(location(&replayed), format!("{page}?done=replayed&n=1"));
    assert_eq!(app.worker().drain().await.unwrap(), 1);
    let message = app.message(&did, id).await;
    assert_eq!(message["status"], "succeeded");
    let attempts = message["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status"], 200, "newest first");
    let html = editor.page(&format!("{page}?done=replayed&n=1")).await;
    assert!(
        html.contains("Replay started: 1 delivery.") && html.contains(">200<"),
        "{html}"
    );

    // Replay failed since a time: another failed message, replayed to every endpoint.
    receiver.answer(Reply::status(500));
    let csrf = editor.csrf(&webhooks(&did)).await;
    editor
        .post(
            &format!("{}/endpoints/{endpoint}/test", webhooks(&did)),
            &[("_csrf", &csrf)],
            None,
        )
        .await;
    app.worker().drain().await.unwrap();
    let second = newest_message(&app, &did).await;
    assert_eq!(second["status"], "failed");
    let html = editor.page(&webhooks(&did)).await;
    assert!(html.contains("Replay failed since") && html.contains("type=\"datetime-local\""));
    let replay = format!("{}/replay", webhooks(&did));
    let wrong = editor
        .post(
            &replay,
            &[("_csrf", &csrf), ("endpoint", ""), ("since", "yesterday")],
            None,
        )
        .await;
    let wrong = answer(wrong, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        wrong.contains("role=\"alert\"") && wrong.contains("Since: give a date"),
        "{wrong}"
    );
    receiver.answer(Reply::status(200));
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let since = humantime::format_rfc3339_seconds(an_hour_ago).to_string()[..16].to_owned();
    let all = editor
        .post(
            &replay,
            &[("_csrf", &csrf), ("endpoint", ""), ("since", &since)],
            None,
        )
        .await;
    assert_eq!(
        location(&all),
        format!("{}?done=replayed&n=1#messages", webhooks(&did))
    );
    app.worker().drain().await.unwrap();
    let second = app.message(&did, second["id"].as_str().unwrap()).await;
    assert_eq!(second["status"], "succeeded");
    assert_eq!(second["attempts"].as_array().unwrap().len(), 2);
    app.stop().await;
}

async fn endpoints_are_added_tested_disabled_enabled_and_rotated(backend: Backend) {
    let (app, did) = setup(backend).await;
    let receiver = Receiver::start().await;
    let editor = Session::sign_in(&app, "eve").await;

    // The pop-up, open without a script when the address asks for it.
    let html = editor.page(&format!("{}?add=1", webhooks(&did))).await;
    contains_all(
        &html,
        &[
            "Add endpoint",
            "Event types",
            "Request Signature",
            "Bearer Token",
            "Authentication type",
            "<dialog id=\"add-endpoint\" aria-labelledby=\"add-endpoint-title\" open>",
            "value=\"default\" selected",
            "Notification endpoints",
            "Messages",
        ],
    );

    // The API's refusal, shown in the form with what was typed.
    let csrf = editor.csrf(&webhooks(&did)).await;
    let url = receiver.url("/hook");
    let refused = editor
        .post(
            &format!("{}/endpoints", webhooks(&did)),
            &[
                ("_csrf", &csrf),
                ("url", &url),
                ("key", "default"),
                ("auth", "standard_webhooks"),
            ],
            None,
        )
        .await;
    let html = answer(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        html.contains("role=\"alert\"")
            && html.contains(" open>")
            && html.contains(&format!("value=\"{url}\"")),
        "{html}"
    );
    assert!(endpoints(&app, &did).await.is_empty());

    let id = add(&editor, &app, &did, &url).await;
    let html = editor.page(&webhooks(&did)).await;
    contains_all(
        &html,
        &[
            "Endpoint",
            "event.failed, event.completed",
            "Healthy",
            "Send test",
            "Disable",
            "Rotate key",
        ],
    );

    // Disable: the API shows it, and a test is refused (409) on the page.
    let endpoint_path = format!("{}/endpoints/{id}", webhooks(&did));
    let disabled = editor
        .post(
            &format!("{endpoint_path}/disable"),
            &[("_csrf", &csrf), ("back", "endpoint")],
            None,
        )
        .await;
    assert_eq!(
        location(&disabled),
        format!("{endpoint_path}?done=disabled")
    );
    assert_eq!(app.endpoint(&did, &id).await["enabled"], false);
    let test = editor
        .post(&format!("{endpoint_path}/test"), &[("_csrf", &csrf)], None)
        .await;
    let html = answer(test, StatusCode::CONFLICT).await;
    assert!(
        html.contains("the endpoint is disabled: enable it first"),
        "{html}"
    );
    let enabled = editor
        .post(
            &format!("{endpoint_path}/enable"),
            &[("_csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(
        location(&enabled),
        format!("{}?done=enabled", webhooks(&did))
    );
    assert_eq!(app.endpoint(&did, &id).await["enabled"], true);
    let test = editor
        .post(&format!("{endpoint_path}/test"), &[("_csrf", &csrf)], None)
        .await;
    assert_eq!(test.status(), StatusCode::SEE_OTHER);
    app.worker().drain().await.unwrap();
    assert_eq!(receiver.calls().len(), 1);
    let html = editor.page(&endpoint_path).await;
    assert!(
        html.contains("succeeded") && html.contains(">test<"),
        "{html}"
    );

    // Rotate key: to a SHA secret, which cannot sign a Request Signature (the API says so), then
    // with Bearer Token.
    let key = json!({"name": "shared", "type": "sha_secret"});
    let path = format!("/api/v1/services/{did}/keys");
    assert_eq!(
        app.post(&path, ADMIN_TOKEN, &key).await.status(),
        StatusCode::CREATED
    );
    let html = editor.page(&format!("{endpoint_path}?rotate=1")).await;
    assert!(
        html.contains("<dialog id=\"rotate-key\" aria-labelledby=\"rotate-key-title\" open>")
            && html.contains("shared (SHA secret)"),
        "{html}"
    );
    let rotate = format!("{endpoint_path}/rotate");
    let refused = editor
        .post(
            &rotate,
            &[
                ("_csrf", &csrf),
                ("key", "shared"),
                ("auth", ""),
                ("overlap_hours", "2"),
            ],
            None,
        )
        .await;
    let html = answer(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        html.contains("role=\"alert\"") && html.contains(" open>"),
        "{html}"
    );
    assert_eq!(app.endpoint(&did, &id).await["key"], "default");
    let rotated = editor
        .post(
            &rotate,
            &[
                ("_csrf", &csrf),
                ("key", "shared"),
                ("auth", "bearer"),
                ("overlap_hours", "2"),
            ],
            None,
        )
        .await;
    assert_eq!(location(&rotated), format!("{endpoint_path}?done=rotated"));
    let endpoint = app.endpoint(&did, &id).await;
    assert_eq!(endpoint["key"], "shared");
    assert_eq!(endpoint["auth"], "bearer");
    assert_eq!(endpoint["previous_key"]["key"], "default");
    let html = editor.page(&format!("{endpoint_path}?done=rotated")).await;
    assert!(
        html.contains("Key rotated.") && html.contains("Bearer Token"),
        "{html}"
    );
    app.stop().await;
}

async fn viewers_and_other_services_change_nothing(backend: Backend) {
    let (app, did) = setup(backend).await;
    let receiver = Receiver::start().await;
    let endpoint = app
        .create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    let message = app.send_test(&did, &id).await;
    app.worker().drain().await.unwrap();
    let base = webhooks(&did);
    let posts = [
        format!("{base}/endpoints"),
        format!("{base}/endpoints/{id}/test"),
        format!("{base}/endpoints/{id}/disable"),
        format!("{base}/endpoints/{id}/enable"),
        format!("{base}/endpoints/{id}/rotate"),
        format!("{base}/replay"),
        format!("{base}/messages/{message}/replay"),
    ];
    let fields = |csrf: &str| -> Vec<(String, String)> {
        vec![
            ("_csrf".into(), csrf.into()),
            ("url".into(), receiver.url("/other")),
            ("key".into(), "default".into()),
            ("auth".into(), "signature".into()),
            ("since".into(), "2020-01-01T00:00".into()),
        ]
    };

    // The viewer sees the lists, no buttons, and every form answers 403.
    let viewer = Session::sign_in(&app, "vic").await;
    let html = viewer.page(&base).await;
    assert!(html.contains(&receiver.url("/hook")) && html.contains("(viewer)"));
    for button in [
        "Add endpoint",
        "Send test",
        "Rotate key",
        "Replay failed since",
    ] {
        assert!(!html.contains(button), "{button}: {html}");
    }
    let html = viewer.page(&format!("{base}/messages/{message}")).await;
    assert!(!html.contains(">Replay<"), "{html}");
    let csrf = viewer.csrf(&base).await;
    for path in &posts {
        let form = fields(&csrf);
        let form: Vec<(&str, &str)> = form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let response = viewer.post(path, &form, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // A forged token: 403 for the editor too.
    let editor = Session::sign_in(&app, "eve").await;
    for path in &posts {
        let form = fields("forged");
        let form: Vec<(&str, &str)> = form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let response = editor.post(path, &form, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(endpoints(&app, &did).await.len(), 1);
    let endpoint = app.endpoint(&did, &id).await;
    assert_eq!(
        (endpoint["enabled"].clone(), endpoint["key"].clone()),
        (json!(true), json!("default"))
    );
    assert_eq!(receiver.calls().len(), 1, "no test, no replay");
    assert_eq!(
        app.message(&did, &message).await["attempts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Another service's person: 404 on every page and form.
    let other = app.create_service("Other").await;
    person(&app, "olga", Some((&other, Role::Owner))).await;
    let olga = Session::sign_in(&app, "olga").await;
    for path in [
        base.clone(),
        format!("{base}/endpoints/{id}"),
        format!("{base}/messages/{message}"),
    ] {
        assert_eq!(
            olga.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let csrf = olga.csrf(&webhooks(&other)).await;
    for path in &posts {
        let form = fields(&csrf);
        let form: Vec<(&str, &str)> = form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let response = olga.post(path, &form, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Nor through her own service's address.
    let through_hers = olga
        .get(&format!("{}/endpoints/{id}", webhooks(&other)))
        .await;
    assert_eq!(through_hers.status(), StatusCode::NOT_FOUND);
    assert_eq!(endpoints(&app, &did).await.len(), 1);
    app.stop().await;
}
