//! The dashboard in a real browser: a server on 127.0.0.1 (SQLite in a temporary directory) with
//! the demo service, an admin and a viewer added as `psi admin add-operator` adds them, and
//! `node tests/browser/dashboard.mjs` driving Debian's Chromium: keyboard-only sign-in, every
//! screen at desktop and phone width with axe-core, the guide's walkthroughs by their labels.
//! Each walkthrough's effect is checked here through the management API. Needs Chromium and the
//! browser scripts' Node packages, so it is ignored (or under `CI=true`, fails) where the browser
//! test is.

use figment::providers::Serialized;
use psi_server::cli::{AddOperatorArgs, AdminCommand};
use serde_json::{Value, json};

use crate::common::{repo_root, require_browser, spawn_node, start_server};
use psi_testkit::{Receiver, Reply};
use std::time::Duration;

const ADMIN_TOKEN: &str = "dashboard-test-admin-token-0123456789";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    browser_test_ignored,
    ignore = "needs Chromium and tests/browser/node_modules: apt-get install chromium; npm ci --prefix tests/browser"
)]
async fn the_dashboard_works_by_keyboard_on_phones_and_passes_axe() {
    let chromium = require_browser("dashboard", &["@axe-core/playwright"]);
    // The failing delivery to replay goes to a receiver on loopback.
    let (app, base, _data_dir) = start_server(ADMIN_TOKEN, |figment, _| {
        figment.merge(Serialized::default("outbound.allow_loopback", true))
    })
    .await;
    let did = psi_server::demo::seed(app.state())
        .await
        .expect("demo seed")
        .to_string();
    let db = &app.state().db;
    for (username, admin, role) in [("ada", true, None), ("vic", false, Some("viewer"))] {
        let command = AdminCommand::AddOperator(AddOperatorArgs {
            username: username.into(),
            admin,
            service: role.map(|_| did.clone()),
            role: role.map(str::to_owned),
        });
        psi_server::dashboard::accounts::administer(db, &command, PASSWORD)
            .await
            .expect("operator added");
    }
    let api = |path: String| {
        let url = format!("{base}{path}");
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .expect("the API answers");
            assert!(response.status().is_success(), "{response:?}");
            response.json::<Value>().await.expect("JSON")
        }
    };
    let send = |path: String, body: Value| {
        let url = format!("{base}{path}");
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(ADMIN_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("the API answers");
            assert!(response.status().is_success(), "{response:?}");
            response.json::<Value>().await.expect("JSON")
        }
    };
    // A SHA secret for the web hook walkthrough, and a delivery that failed once to replay.
    send(
        format!("/api/v1/services/{did}/keys"),
        json!({"name": "shared", "type": "sha_secret"}),
    )
    .await;
    let receiver = Receiver::start().await;
    receiver.queue("/hook", [Reply::status(500)]);
    let endpoint = send(
        format!("/api/v1/services/{did}/endpoints"),
        json!({"url": receiver.url("/hook"), "key": "default", "auth": "signature"}),
    )
    .await;
    let endpoint = endpoint["id"].as_str().unwrap();
    let test = send(
        format!("/api/v1/services/{did}/endpoints/{endpoint}/test"),
        json!({}),
    )
    .await;
    let failed_message = test["message_id"].as_str().unwrap().to_owned();
    receiver
        .wait_for_calls("/hook", 1, Duration::from_secs(20))
        .await;
    let interactions = api(format!("/api/v1/services/{did}/interactions")).await;
    let interaction = interactions["data"][0].clone();
    let id = interaction["id"].as_str().unwrap().to_owned();
    let service = format!("/dashboard/services/{did}");
    let fixture = json!({
        "did": did,
        "interaction": id,
        "interactionName": interaction["name"],
        "admin": {"username": "ada", "password": PASSWORD},
        "viewer": {"username": "vic", "password": PASSWORD},
        "shaKey": "shared",
        "requiredSchema": "Demo Member 1.0",
        "failedMessage": failed_message,
        "newPerson": {"username": "nia", "password": PASSWORD},
        "screens": [
            ["overview", format!("{service}/overview")],
            ["interactions", format!("{service}/interactions")],
            ["events", format!("{service}/events")],
            ["webhooks", format!("{service}/webhooks")],
            ["extensions", format!("{service}/extensions")],
            ["install-extension", format!("{service}/extensions/install?tab=public")],
            ["extension-editor", format!("{service}/extensions/editor")],
            ["interaction-extensions", format!("{service}/interactions/{id}/extensions")],
            ["interaction", format!("{service}/interactions/{id}")],
            ["links", format!("{service}/links?interaction={id}&generate=1")],
            ["keys", format!("{service}/keys")],
            ["schemas", format!("{service}/schemas")],
            ["definitions", format!("{service}/definitions")],
            ["people", format!("{service}/people")],
            ["admin-services", "/dashboard/admin/services"],
            ["admin-people", "/dashboard/admin/people"],
            ["admin-tokens", format!("{service}/tokens")],
        ],
    });

    let (mut node, mut lines) = spawn_node(
        "dashboard.mjs",
        &[&base],
        &[
            ("PSI_DASHBOARD_FIXTURE", &fixture.to_string()),
            ("PSI_CHROMIUM", &chromium),
        ],
        &repo_root(),
    );
    let mut done = Vec::new();
    let mut passed = false;
    let run = async {
        while let Some(line) = lines.next_line().await.expect("node's output") {
            println!("{line}");
            if let Some(step) = line.strip_prefix("DONE ") {
                let step = step.split(' ').next().unwrap_or_default();
                if step == "extension" {
                    let attached = api(format!(
                        "/api/v1/services/{did}/interactions/{id}/extensions"
                    ))
                    .await;
                    assert!(
                        attached.to_string().contains("Allow list check"),
                        "the extension was added with its settings: {attached}"
                    );
                }
                if step == "webhook" {
                    let now = api(format!("/api/v1/services/{did}/interactions/{id}")).await;
                    let hook = &now["webhook"];
                    assert_eq!(hook["url"], "https://crm.example.com/psi", "{now}");
                    assert_eq!(hook["key"], "shared", "{now}");
                    assert_eq!(
                        hook["auth"], "bearer",
                        "a SHA secret with Bearer Token: {now}"
                    );
                }
                if step == "prefill" {
                    let now = api(format!("/api/v1/services/{did}/interactions/{id}")).await;
                    assert_eq!(
                        now["required_credentials"][0]["prefill_from_qr"], false,
                        "Pre-fill from QR unticked: {now}"
                    );
                }
                if step == "replay" {
                    // The replay reaches the receiver again, which now answers 200.
                    receiver
                        .wait_for_calls("/hook", 2, Duration::from_secs(20))
                        .await;
                }
                if step == "people" {
                    let people = api(format!("/api/v1/services/{did}/people")).await;
                    let nia = |p: &Value| p["username"] == "nia" && p["role"] == "editor";
                    assert!(
                        people["data"].as_array().unwrap().iter().any(nia),
                        "the person added was given a role: {people}"
                    );
                }
                if step == "pause" {
                    let now = api(format!("/api/v1/services/{did}/interactions/{id}")).await;
                    assert_eq!(now["active"], false, "the Pause button paused it: {now}");
                }
                done.push(step.to_owned());
            }
            if line == "PASSED" {
                passed = true;
            }
            assert!(
                !line.starts_with("ERROR "),
                "the dashboard test failed: {line}"
            );
        }
    };
    tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser run ends within 3 minutes");
    let status = node.wait().await.expect("node exits");
    assert!(
        status.success() && passed,
        "node: {status}; steps done: {done:?}"
    );
    for step in [
        "sign-in",
        "screens",
        "extension",
        "webhook",
        "prefill",
        "embed",
        "replay",
        "pause",
        "people",
        "sign-out",
    ] {
        assert!(done.iter().any(|d| d == step), "{step} not done: {done:?}");
    }
    app.stop().await.expect("server stops");
}
