//! Real-browser tests of the web pages: starts a server on 127.0.0.1 (SQLite in a temporary
//! directory, a service with an interaction made through the management API) and runs
//! `node tests/browser/run.mjs <base-url>`, which drives Debian's Chromium with Playwright. For
//! the live status, the script prints the start page's link (`LINK <link>`) and this test runs
//! it with the wallet simulator (`psi wallet run`) while the page watches. When `/usr/bin/chromium`
//! or `tests/browser/node_modules` is missing (`apt-get install chromium`, `npm ci --prefix
//! tests/browser`), the build marks the test ignored (`build.rs`), and under `CI=true` it runs
//! and fails. Screenshots land in `test-artifacts/browser/`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use figment::providers::Serialized;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::common::{repo_root, require_browser, spawn_node, start_server};

const ADMIN_TOKEN: &str = "browser-test-admin-token-0123456789";
const APP_STORE: &str = "https://apps.apple.com/app/id000000001";
const GOOGLE_PLAY: &str = "https://play.google.com/store/apps/details?id=org.example.wallet";
/// The package an Android phone's `intent:` link names.
const ANDROID_PACKAGE: &str = "org.example.wallet";
/// A pre-filled name that HTML and JSON must both escape.
const PREFILLED: &str = r#"Ada "<b>" & Co"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    browser_test_ignored,
    ignore = "needs Chromium and tests/browser/node_modules: apt-get install chromium; npm ci --prefix tests/browser"
)]
async fn pages_work_in_a_real_browser() {
    let chromium = require_browser("browser", &["playwright-core"]);
    let (app, base, data_dir) = start_server(ADMIN_TOKEN, |figment, base| {
        figment
            .merge(Serialized::default("pages.app_store_url", APP_STORE))
            .merge(Serialized::default("pages.google_play_url", GOOGLE_PLAY))
            .merge(Serialized::default(
                "pages.android_package",
                ANDROID_PACKAGE,
            ))
            .merge(Serialized::default("pages.redirect_origins", [base]))
    })
    .await;
    let client = reqwest::Client::new();
    let (did, interaction) = club(&client, &base).await;
    let id = interaction["id"].as_str().unwrap().to_owned();
    let link_of = |query: Vec<(&'static str, String)>| {
        let request = client
            .get(format!(
                "{base}/api/v1/services/{did}/interactions/{id}/link"
            ))
            .query(&query)
            .bearer_auth(ADMIN_TOKEN);
        async move {
            let response = request.send().await.unwrap();
            response.json::<Value>().await.unwrap()
        }
    };
    let link = link_of(vec![]).await;
    // The embed snippet the link endpoint writes, with a pre-filled value that needs escaping.
    let member = interaction["required_credentials"][0]["credential_id"]
        .as_str()
        .unwrap();
    let shared = link_of(vec![("prefill", format!("{member}:Full name={PREFILLED}"))]).await;
    let fixture = json!({
        "embed": shared["embed"],
        "prefilled": PREFILLED,
        "did": did,
        "interaction": id,
        "instance": interaction["instances"][0]["id"],
        "name": interaction["name"],
        "app_link": link["app_link"],
        "deep_link": link["deep_link"],
        "app_store_url": APP_STORE,
        "google_play_url": GOOGLE_PLAY,
        "android_package": ANDROID_PACKAGE,
    });

    let (mut node, mut lines) = spawn_node(
        "run.mjs",
        &[&base],
        &[
            ("PSI_BROWSER_FIXTURE", &fixture.to_string()),
            ("PSI_CHROMIUM", &chromium),
        ],
        &repo_root(),
    );
    let wallet = data_dir.path().join("wallet.json");
    let mut summary = None;
    let run = async {
        while let Some(line) = lines.next_line().await.expect("node's output") {
            println!("{line}");
            if let Some(link) = line.strip_prefix("LINK ") {
                run_wallet(
                    &base,
                    &wallet,
                    link,
                    &["Full name=Ada Lovelace", "Born=631152000"],
                )
                .await;
            }
            if line.contains(" passed, ") {
                summary = Some(line);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the browser tests finish within 5 minutes");
    let status = node.wait().await.expect("node exits");
    app.stop().await.expect("server stops");
    assert!(status.success(), "browser tests failed: {summary:?}");
    assert!(
        summary.is_some_and(|s| s.ends_with(" 0 failed")),
        "no summary line from run.mjs"
    );
}

/// Creates, through the management API, a service "Club" with an interaction that requires a
/// self-attested credential; returns the service's DID and the interaction.
async fn club(client: &reqwest::Client, base: &str) -> (String, Value) {
    let post = |path: String, body: Value| {
        let request = client
            .post(format!("{base}{path}"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response.json::<Value>().await.unwrap()
        }
    };
    let did = post("/api/v1/services".into(), json!({"name": "Club"})).await["did"]
        .as_str()
        .unwrap()
        .to_owned();
    let attributes =
        json!([{"name": "Full name", "type": "text"}, {"name": "Born", "type": "date"}]);
    let schema = post(
        format!("/api/v1/services/{did}/schemas"),
        json!({"name": "Member", "version": "1.0", "attributes": attributes}),
    )
    .await;
    let member = post(
        format!("/api/v1/services/{did}/credential-definitions"),
        json!({"schema": schema["schema_id"], "attestation": "self", "tag": "member"}),
    )
    .await;
    let interaction = post(
        format!("/api/v1/services/{did}/interactions"),
        json!({
            "name": "Join the club",
            "description": "Show your member card and become a member.",
            "parameters": [{"name": "location", "value": "Online"}],
            "required_credentials": [{"credential_id": member["credential_id"], "prefill_from_qr": true}],
        }),
    )
    .await;
    (did, interaction)
}

/// Runs `link` with the wallet simulator, as a holder who scanned a page's QR code (or whose
/// phone opened it) would, giving `attributes` (`--attr`).
pub(crate) async fn run_wallet(server: &str, wallet: &Path, link: &str, attributes: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_psi"))
        .args(["wallet", "run", link, "--json"])
        .args(attributes.iter().flat_map(|a| ["--attr", a]))
        .env("PSI_SERVER", server)
        .env("PSI_WALLET", wallet)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("psi runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "psi wallet run: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome: Value = serde_json::from_str(&stdout).expect("JSON outcome");
    assert_eq!(outcome["state"], "completed", "{outcome}");
}
