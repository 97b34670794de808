//! Sign in with a credential through OpenID Connect, end to end with a standard relying party: a
//! server on 127.0.0.1 (SQLite in a temporary directory) with SSI OAuth attached to an interaction
//! as a confidential client with a redirect URI on loopback; the unchanged `openid-client` from
//! npm (`node tests/browser/oidc.mjs`) discovering psi, sending Debian's Chromium through psi's
//! authorization page with PKCE, state and nonce; `psi wallet run` on the link that page shows;
//! and what the relying party got (the validated `id_token`'s claims, userinfo) checked against
//! the event psi recorded. Then the static example site `examples/sign-in.html` (a public client:
//! PKCE and the code exchanged from the browser), attached to a second interaction, signs in the
//! same way and shows what userinfo said. Needs Chromium and the browser scripts' Node packages,
//! so it is ignored (or under `CI=true`, fails) where the browser test is.

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::run_wallet;
use crate::common::{browser_scripts, free_port, require_browser, spawn_node, start_server};

const ADMIN_TOKEN: &str = "oidc-test-admin-token-0123456789";
const CLIENT_ID: &str = "rp.example";
const CLIENT_SECRET: &str = "rp-secret-0123456789";
/// Not the example's own `example-site`, so that a page still using its default fails.
const EXAMPLE_CLIENT_ID: &str = "static.example";
/// What the holder shares, and the claim the relying party gets it as.
const FULL_NAME: &str = "Ada Lovelace";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    browser_test_ignored,
    ignore = "needs Chromium and tests/browser/node_modules: apt-get install chromium; npm ci --prefix tests/browser"
)]
async fn openid_client_signs_in_through_the_authorization_page() {
    let chromium = require_browser("OpenID Connect", &["openid-client"]);
    let scripts = browser_scripts();
    let (app, base, data_dir) = start_server(ADMIN_TOKEN, |figment, _| figment).await;
    // The redirect URI is registered when attaching, so its port is chosen before node runs.
    let rp_port = free_port();
    let site = Site::new(&base, &format!("http://127.0.0.1:{rp_port}/callback")).await;
    let example = site
        .attach(
            "Sign in on the example site",
            json!({"client_id": EXAMPLE_CLIENT_ID,
                   "redirect_uris": format!("http://127.0.0.1:{rp_port}/sign-in.html"),
                   "claims": "Full name = name"}),
        )
        .await;

    let (mut node, mut lines) = spawn_node(
        "oidc.mjs",
        &[
            &base,
            &site.did,
            CLIENT_ID,
            CLIENT_SECRET,
            &rp_port.to_string(),
            EXAMPLE_CLIENT_ID,
        ],
        &[("PSI_CHROMIUM", &chromium)],
        &scripts,
    );
    let wallet = data_dir.path().join("wallet.json");
    let mut result = None;
    let mut shown = None;
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
            if let Some(claims) = line.strip_prefix("EXAMPLE ") {
                shown = Some(serde_json::from_str::<Value>(claims).expect("the example's claims"));
            }
            if let Some(message) = line.strip_prefix("ERROR ") {
                error = Some(message.to_owned());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the sign-ins finish within 2 minutes");
    let status = node.wait().await.expect("node exits");
    assert!(
        status.success() && error.is_none(),
        "the relying party did not sign in: {error:?}"
    );
    let result = result.expect("the relying party printed what it got");
    let shown = shown.expect("the example printed what it showed");

    // The holder of the completed event is who the site signed in.
    let (event_id, holder) = site.completed(&site.interaction).await;

    let issuer = format!("{base}/oauth2/{}", site.did);
    let claims = &result["claims"];
    assert_eq!(claims["iss"], issuer.as_str(), "{claims}");
    assert_eq!(claims["aud"], CLIENT_ID, "{claims}");
    assert_eq!(claims["sub"], holder.as_str(), "{claims}");
    assert!(claims["nonce"].is_string(), "{claims}");
    assert!(claims["auth_time"].is_u64(), "{claims}");
    assert_eq!(claims["name"], FULL_NAME, "{claims}");
    let userinfo = &result["userinfo"];
    assert_eq!(userinfo["sub"], holder.as_str(), "{userinfo}");
    assert_eq!(userinfo["name"], FULL_NAME, "{userinfo}");

    // The token request recorded the sign-in on the event.
    site.assert_signed_in(&event_id, CLIENT_ID).await;

    // The example shows userinfo's answer for the holder of its own interaction's event.
    let (event_id, holder) = site.completed(&example).await;
    assert_eq!(shown["sub"], holder.as_str(), "{shown}");
    assert_eq!(shown["name"], FULL_NAME, "{shown}");
    site.assert_signed_in(&event_id, EXAMPLE_CLIENT_ID).await;
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
    /// The self-attested name's credential definition.
    member: Value,
    /// The SSI OAuth installation.
    installation: Value,
}

impl Site {
    async fn new(base: &str, redirect_uri: &str) -> Self {
        let mut site = Site {
            client: reqwest::Client::new(),
            base: base.to_owned(),
            did: String::new(),
            interaction: String::new(),
            member: Value::Null,
            installation: Value::Null,
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
        site.member = site
            .post(
                &format!("{services}/credential-definitions"),
                json!({"schema": schema["schema_id"], "attestation": "self", "tag": "member"}),
            )
            .await;
        site.installation = site
            .post(
                &format!("{services}/installations"),
                json!({"extension_id": "psissioauth"}),
            )
            .await;
        site.interaction = site
            .attach(
                "Sign in",
                json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                       "redirect_uris": redirect_uri, "claims": "Full name = name"}),
            )
            .await;
        site
    }

    /// A new interaction asking for the name, with SSI OAuth attached with `settings`: an
    /// interaction takes an installation once, so each client gets its own. Returns its id.
    async fn attach(&self, name: &str, settings: Value) -> String {
        let services = format!("/api/v1/services/{}", self.did);
        let interaction = self
            .post(
                &format!("{services}/interactions"),
                json!({"name": name, "description": "Sign in to the shop.",
                       "required_credentials": [{"credential_id": self.member["credential_id"]}]}),
            )
            .await;
        let id = interaction["id"].as_str().unwrap().to_owned();
        self.post(
            &format!("{services}/interactions/{id}/extensions"),
            json!({"installation_id": self.installation["id"], "settings": settings}),
        )
        .await;
        id
    }

    /// The id and the holder's DID of the interaction's one completed event.
    async fn completed(&self, interaction: &str) -> (String, String) {
        let events = self
            .get(&format!(
                "/events?interaction={interaction}&state=completed"
            ))
            .await;
        let events = events["data"].as_array().expect("a page of events");
        assert_eq!(events.len(), 1, "{events:?}");
        let holder = events[0]["holder_did"].as_str().expect("the holder's DID");
        assert!(!holder.is_empty(), "{events:?}");
        (
            events[0]["id"].as_str().unwrap().to_owned(),
            holder.to_owned(),
        )
    }

    /// The token request recorded the sign-in of `client_id` on the event.
    async fn assert_signed_in(&self, event_id: &str, client_id: &str) {
        let event = self.get(&format!("/events/{event_id}")).await;
        let signed_in = event["log"]
            .as_array()
            .expect("the event's log")
            .iter()
            .find(|entry| entry["kind"] == "signed_in")
            .unwrap_or_else(|| panic!("no signed_in entry: {event}"));
        let detail = signed_in["detail"].as_str().unwrap();
        assert!(
            detail.contains(client_id) && detail.contains("authorization_code"),
            "{detail}"
        );
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
