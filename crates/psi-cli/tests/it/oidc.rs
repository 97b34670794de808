//! Sign in with a credential through OpenID Connect, end to end with a standard relying party: a
//! server on 127.0.0.1 (SQLite in a temporary directory) with SSI OAuth attached to an interaction
//! as a confidential client with a redirect URI on loopback; the unchanged `openid-client` from
//! npm (`node tests/browser/oidc.mjs`) discovering psi, sending Debian's Chromium through psi's
//! authorization page with PKCE, state and nonce; `psi wallet run` on the link that page shows;
//! and what the relying party got (the validated `id_token`'s claims, userinfo) checked against
//! the event psi recorded. Needs Chromium and the browser scripts' Node packages, so it is
//! ignored (or under `CI=true`, fails) where the browser test is.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::browser::run_wallet;
use crate::common::free_port;

const ADMIN_TOKEN: &str = "oidc-test-admin-token-0123456789";
const CLIENT_ID: &str = "rp.example";
const CLIENT_SECRET: &str = "rp-secret-0123456789";
/// What the holder shares, and the claim the relying party gets it as.
const FULL_NAME: &str = "Ada Lovelace";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    browser_test_ignored,
    ignore = "needs Chromium and tests/browser/node_modules: apt-get install chromium; npm ci --prefix tests/browser"
)]
async fn openid_client_signs_in_through_the_authorization_page() {
    let chromium = std::env::var("PSI_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let scripts = repo_root().join("tests/browser");
    let missing: Vec<String> = [
        (
            Path::new(&chromium).to_path_buf(),
            "apt-get install chromium",
        ),
        (
            scripts.join("node_modules/openid-client"),
            "npm ci --prefix tests/browser",
        ),
    ]
    .into_iter()
    .filter(|(path, _)| !path.exists())
    .map(|(path, fix)| format!("{} (run `{fix}`)", path.display()))
    .collect();
    assert!(
        missing.is_empty(),
        "the OpenID Connect test cannot run: missing {}",
        missing.join(", ")
    );

    let data_dir = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let figment = Figment::from(Toml::string(psi_server::config::DEFAULT_TOML))
        .merge(Serialized::default("listen", format!("127.0.0.1:{port}")))
        .merge(Serialized::default("data_dir", data_dir.path()))
        .merge(Serialized::default("admin_token", ADMIN_TOKEN))
        .merge(Serialized::default("log_level", "warn"));
    let config = psi_server::Config::from_figment(figment).expect("configuration");
    let app = psi_server::build(config).await.expect("server starts");
    // The redirect URI is registered when attaching, so its port is chosen before node runs.
    let rp_port = free_port();
    let site = Site::new(&base, &format!("http://127.0.0.1:{rp_port}/callback")).await;

    let mut node = Command::new("node")
        .arg(scripts.join("oidc.mjs"))
        .args([
            &base,
            &site.did,
            CLIENT_ID,
            CLIENT_SECRET,
            &rp_port.to_string(),
        ])
        .env("PSI_CHROMIUM", &chromium)
        .current_dir(&scripts)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let wallet = data_dir.path().join("wallet.json");
    let mut result = None;
    let mut error = None;
    let run = async {
        while let Some(line) = lines.next_line().await.expect("node's output") {
            println!("{line}");
            if let Some(link) = line.strip_prefix("LINK ") {
                // The user code comes pre-filled in the link; the name is the holder's to give.
                let name = format!("Full name={FULL_NAME}");
                run_wallet(&base, &wallet, link, &[&name]).await;
            }
            if let Some(answer) = line.strip_prefix("RESULT ") {
                result = Some(serde_json::from_str::<Value>(answer).expect("the result"));
            }
            if let Some(message) = line.strip_prefix("ERROR ") {
                error = Some(message.to_owned());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the sign-in finishes within 2 minutes");
    let status = node.wait().await.expect("node exits");
    assert!(
        status.success() && error.is_none(),
        "the relying party did not sign in: {error:?}"
    );
    let result = result.expect("the relying party printed what it got");

    // The holder of the completed event is who the site signed in.
    let events = site
        .get(&format!(
            "/events?interaction={}&state=completed",
            site.interaction
        ))
        .await;
    let events = events["data"].as_array().expect("a page of events");
    assert_eq!(events.len(), 1, "{events:?}");
    let holder = events[0]["holder_did"].as_str().expect("the holder's DID");
    assert!(!holder.is_empty(), "{events:?}");

    let issuer = format!("{base}/oauth2/{}", site.did);
    let claims = &result["claims"];
    assert_eq!(claims["iss"], issuer.as_str(), "{claims}");
    assert_eq!(claims["aud"], CLIENT_ID, "{claims}");
    assert_eq!(claims["sub"], holder, "{claims}");
    assert!(claims["nonce"].is_string(), "{claims}");
    assert!(claims["auth_time"].is_u64(), "{claims}");
    assert_eq!(claims["name"], FULL_NAME, "{claims}");
    let userinfo = &result["userinfo"];
    assert_eq!(userinfo["sub"], holder, "{userinfo}");
    assert_eq!(userinfo["name"], FULL_NAME, "{userinfo}");

    // The token request recorded the sign-in on the event.
    let event = site
        .get(&format!("/events/{}", events[0]["id"].as_str().unwrap()))
        .await;
    let signed_in = event["log"]
        .as_array()
        .expect("the event's log")
        .iter()
        .find(|entry| entry["kind"] == "signed_in")
        .unwrap_or_else(|| panic!("no signed_in entry: {event}"));
    let detail = signed_in["detail"].as_str().unwrap();
    assert!(
        detail.contains(CLIENT_ID) && detail.contains("authorization_code"),
        "{detail}"
    );
    app.stop().await.expect("server stops");
}

/// A service whose interaction "Sign in" asks for a self-attested name, with SSI OAuth attached
/// as the confidential client [`CLIENT_ID`] redirecting to `redirect_uri`, made through the
/// management API.
struct Site {
    client: reqwest::Client,
    base: String,
    did: String,
    interaction: String,
}

impl Site {
    async fn new(base: &str, redirect_uri: &str) -> Self {
        let mut site = Site {
            client: reqwest::Client::new(),
            base: base.to_owned(),
            did: String::new(),
            interaction: String::new(),
        };
        let service = site.post("/api/v1/services", json!({"name": "Shop"})).await;
        site.did = service["did"].as_str().unwrap().to_owned();
        let services = format!("/api/v1/services/{}", site.did);
        let schema = site
            .post(
                &format!("{services}/schemas"),
                json!({"name": "Member", "version": "1.0",
                       "attributes": [{"name": "Full name", "type": "text"}]}),
            )
            .await;
        let member = site
            .post(
                &format!("{services}/credential-definitions"),
                json!({"schema": schema["schema_id"], "attestation": "self", "tag": "member"}),
            )
            .await;
        let interaction = site
            .post(
                &format!("{services}/interactions"),
                json!({"name": "Sign in", "description": "Sign in to the shop.",
                       "required_credentials": [{"credential_id": member["credential_id"]}]}),
            )
            .await;
        site.interaction = interaction["id"].as_str().unwrap().to_owned();
        let installation = site
            .post(
                &format!("{services}/installations"),
                json!({"extension_id": "psissioauth"}),
            )
            .await;
        site.post(
            &format!("{services}/interactions/{}/extensions", site.interaction),
            json!({"installation_id": installation["id"],
                   "settings": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                "redirect_uris": redirect_uri, "claims": "Full name = name"}}),
        )
        .await;
        site
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let request = self.client.post(format!("{}{path}", self.base)).json(&body);
        Self::answer(path, request).await
    }

    /// `path` under the service's management API.
    async fn get(&self, path: &str) -> Value {
        let url = format!("{}/api/v1/services/{}{path}", self.base, self.did);
        Self::answer(path, self.client.get(url)).await
    }

    async fn answer(path: &str, request: reqwest::RequestBuilder) -> Value {
        let response = request.bearer_auth(ADMIN_TOKEN).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json::<Value>().await.unwrap()
    }
}
