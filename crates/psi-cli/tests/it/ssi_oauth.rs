//! Sign in with a credential, end to end with the platform's own library: a server on
//! 127.0.0.1 (SQLite in a temporary directory) with SSI OAuth attached to an interaction, the
//! unchanged `ssi-auth-lib` from npm driving the device flow in Node (`node
//! tests/browser/ssi-oauth.cjs`, jsdom with a phone's user agent, so the library builds the link
//! itself), `psi wallet run` on the link it opens (the user code pre-filled in it), and the token
//! the library resolves with verified against psi's JWKS. Needs the browser scripts' Node
//! packages, so it is ignored (or under `CI=true`, fails) where the browser test is.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use psi_webhook::{PublicKey, UnixTime, Validation, Verifier};
use serde_json::{Value, json};

use crate::browser::run_wallet;

use crate::common::{browser_scripts, require_node_packages, spawn_node, start_server};

const ADMIN_TOKEN: &str = "ssi-oauth-test-admin-token-0123456789";
const CLIENT_ID: &str = "shop.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    browser_test_ignored,
    ignore = "needs tests/browser/node_modules: npm ci --prefix tests/browser"
)]
async fn ssi_auth_lib_signs_in_with_psi_wallet_run() {
    require_node_packages("SSI OAuth", &["ssi-auth-lib"]);
    let scripts = browser_scripts();
    let (app, base, data_dir) = start_server(ADMIN_TOKEN, |figment, _| figment).await;
    let shop = Shop::new(&base).await;

    let (mut node, mut lines) = spawn_node(
        "ssi-oauth.cjs",
        &[
            &base,
            CLIENT_ID,
            &shop.credential_definition,
            &shop.did,
            &shop.interaction,
            &shop.instance,
            &shop.link_prefix,
        ],
        &[],
        &scripts,
    );
    let wallet = data_dir.path().join("wallet.json");
    let mut token = None;
    let run = async {
        while let Some(line) = lines.next_line().await.expect("node's output") {
            println!("{line}");
            if let Some(link) = line.strip_prefix("LINK ") {
                // The user code comes pre-filled in the link.
                run_wallet(&base, &wallet, link, &[]).await;
            }
            if let Some(answer) = line.strip_prefix("TOKEN ") {
                token = Some(serde_json::from_str::<Value>(answer).expect("the token answer"));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the sign-in finishes within 2 minutes");
    let status = node.wait().await.expect("node exits");
    assert!(status.success(), "the library did not sign in");
    let token = token.expect("the library resolved with the token answer");
    assert_eq!(token["token_type"], "Bearer", "{token}");
    let access_token = token["access_token"].as_str().expect("an access token");

    // What the site's back end does: the key the token's header names, from psi's JWKS.
    let jwks: Value = reqwest::get(format!("{base}/oauth2/{}/jwks", shop.did))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("no key {header} in {jwks}"));
    let validation = Validation::new()
        .expect_audience(CLIENT_ID)
        .expect_issuer(format!("{base}/oauth2/{}", shop.did));
    let claims = Verifier::rsa(PublicKey::from_jwk(jwk).unwrap())
        .verify_bearer(access_token, b"", &validation, UnixTime::now())
        .expect("the token verifies against the JWKS");
    let holder = claims.sub.expect("the holder's pairwise DID");
    assert!(!holder.is_empty());
    app.stop().await.expect("server stops");
}

/// A service with an interaction "Sign in" and SSI OAuth attached to it, made through the
/// management API; what the page configures the library with.
struct Shop {
    did: String,
    interaction: String,
    instance: String,
    credential_definition: String,
    /// psi's link prefix (of `app_link`), ending in `/`.
    link_prefix: String,
}

impl Shop {
    async fn new(base: &str) -> Self {
        let client = reqwest::Client::new();
        let call = |method: reqwest::Method, path: String, body: Option<Value>| {
            let mut request = client
                .request(method, format!("{base}{path}"))
                .bearer_auth(ADMIN_TOKEN);
            if let Some(body) = body {
                request = request.json(&body);
            }
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
        let post = |path: String, body: Value| call(reqwest::Method::POST, path, Some(body));
        let did = post("/api/v1/services".into(), json!({"name": "Shop"})).await["did"]
            .as_str()
            .unwrap()
            .to_owned();
        let services = format!("/api/v1/services/{did}");
        let interaction = post(
            format!("{services}/interactions"),
            json!({"name": "Sign in", "description": "Sign in to the shop."}),
        )
        .await;
        let id = interaction["id"].as_str().unwrap().to_owned();
        let installation = post(
            format!("{services}/installations"),
            json!({"extension_id": "psissioauth"}),
        )
        .await;
        let attached = post(
            format!("{services}/interactions/{id}/extensions"),
            json!({"installation_id": installation["id"],
                   "settings": {"client_id": CLIENT_ID, "poll_interval_secs": 1}}),
        )
        .await;
        let link = call(
            reqwest::Method::GET,
            format!("{services}/interactions/{id}/link"),
            None,
        )
        .await;
        let app_link = link["app_link"].as_str().unwrap();
        let marker = "/native/execute/";
        let end = app_link.find(marker).expect("an app link") + marker.len();
        Shop {
            did,
            instance: interaction["instances"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
            interaction: id,
            credential_definition: attached["oauth"]["credential_definition_id"]
                .as_str()
                .unwrap()
                .to_owned(),
            link_prefix: app_link[..end].to_owned(),
        }
    }
}
