//! SSI OAuth (docs/ssi-oauth.md): the built-in extension attached to "Join" (the engine's
//! fixture), the device authorization grant as `ssi-auth-lib` drives it, a holder completing it
//! with the user code, and the access token verified against the service's JWKS.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use psi_webhook::{PublicKey, UnixTime, Validation, Verifier};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::engine::support::{Fixture, Holder};
use crate::helpers::{Backend, expect_error, expect_json};

backend_tests!(
    attaching_creates_the_ssi_authentication_definition_and_requires_it_with_prefill,
    the_device_flow_issues_a_verifiable_token_once_to_the_holder_who_completes_it,
    polls_are_answered_pending_slow_down_and_expired_in_rfc_form,
    wrong_clients_codes_grant_types_and_too_many_grants_are_refused_with_cors,
    the_code_flow_with_pkce_gives_an_id_token_once_and_is_discoverable,
    code_flow_refusals_follow_rfc_6749_and_7636,
    a_service_did_names_its_only_client,
);

const CLIENT_ID: &str = "shop-1.example";
const ORIGIN: &str = "https://shop.example";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The club with SSI OAuth installed and attached to "Join".
struct Shop {
    fx: Fixture,
    installation: String,
    /// The attachment's answer.
    attached: Value,
}

impl Shop {
    async fn new(backend: Backend, settings: Value) -> Self {
        let fx = Fixture::new(backend).await;
        fx.issue_membership("1");
        let installation = expect_json(
            fx.app
                .post(
                    &format!("/api/v1/services/{}/installations", fx.did),
                    &fx.token,
                    &json!({"extension_id": "psissioauth"}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(installation["built_in"], true, "{installation}");
        // Not attached yet: the service has no SSI Authentication definition.
        assert!(
            installation["oauth"]["credential_definition_id"].is_null(),
            "{installation}"
        );
        let installation = installation["id"].as_str().unwrap().to_owned();
        let attached = expect_json(
            fx.app
                .post(
                    &format!(
                        "/api/v1/services/{}/interactions/{}/extensions",
                        fx.did, fx.join
                    ),
                    &fx.token,
                    &json!({"installation_id": installation, "settings": settings}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        Shop {
            fx,
            installation,
            attached,
        }
    }

    fn definition(&self) -> &str {
        self.attached["oauth"]["credential_definition_id"]
            .as_str()
            .unwrap()
    }

    async fn form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.fx
            .app
            .client
            .post(self.fx.app.url(path))
            .header("origin", ORIGIN)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Starts a grant as the library does (the doubled slash of its built-in environments).
    async fn device_authorization(&self) -> Value {
        let response = self
            .form("/oauth2//device_authorization", &[("client_id", CLIENT_ID)])
            .await;
        assert_cors(&response);
        expect_json(response, StatusCode::OK).await
    }

    async fn poll(&self, device_code: &str) -> Response {
        let form = [
            ("client_id", CLIENT_ID),
            ("device_code", device_code),
            ("grant_type", DEVICE_GRANT),
        ];
        let response = self.form("/oauth2/token", &form).await;
        assert_cors(&response);
        response
    }

    /// `holder` runs "Join" as Ada presenting the user code as the library's link pre-fills it.
    async fn sign_in(&self, holder: &Holder, user_code: &str) -> Value {
        let code = json!({"credentialId": self.definition(), "attributes": [{"name": "OAuth User Code", "value": user_code}]});
        let mut presented = self.fx.applicant_presented("Ada");
        presented.as_array_mut().unwrap().push(code.clone());
        holder
            .run(
                &self.fx.app,
                &self.fx.did,
                &self.fx.join,
                json!([code]),
                presented,
            )
            .await
    }
}

/// The CORS answer `ssi-auth-lib` needs (it fetches with `credentials: "include"`).
fn assert_cors(response: &Response) {
    let headers = response.headers();
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some(ORIGIN),
        "{headers:?}"
    );
    assert_eq!(
        headers
            .get("access-control-allow-credentials")
            .map(|v| v.to_str().unwrap()),
        Some("true"),
        "{headers:?}"
    );
}

/// An RFC 6749 error answer: its status, `error`, and a description.
async fn expect_oauth_error(response: Response, status: StatusCode, error: &str) {
    let body = expect_json(response, status).await;
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

fn settings() -> Value {
    json!({"client_id": CLIENT_ID, "claims": "Name = name\nBorn = born", "poll_interval_secs": 1})
}

async fn attaching_creates_the_ssi_authentication_definition_and_requires_it_with_prefill(
    backend: Backend,
) {
    let shop = Shop::new(backend, settings()).await;
    let fx = &shop.fx;
    let definition = shop.definition().to_owned();
    assert!(
        definition.starts_with(&format!("{}:3:CL:", fx.did)) && definition.ends_with(":oauth"),
        "{}",
        shop.attached
    );
    assert_eq!(shop.attached["oauth"]["client_id"], CLIENT_ID);
    assert!(
        shop.attached["added_requirements"]
            .to_string()
            .contains(&definition),
        "{}",
        shop.attached
    );
    let base = format!("/api/v1/services/{}", fx.did);
    let interaction = expect_json(
        fx.app
            .get(&format!("{base}/interactions/{}", fx.join), &fx.token)
            .await,
        StatusCode::OK,
    )
    .await;
    let required = interaction["required_credentials"].as_array().unwrap();
    let code = required
        .iter()
        .find(|r| r["credential_id"] == definition.as_str())
        .unwrap_or_else(|| panic!("{interaction}"));
    assert_eq!(code["prefill_from_qr"], true, "{code}");
    assert_eq!(code["added_by"], shop.installation.as_str(), "{code}");
    // The tokens' own key was made: the webhooks' key signs no tokens.
    let keys = expect_json(
        fx.app.get(&format!("{base}/keys"), &fx.token).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        keys["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "oauth" && k["type"] == "rsa_key_pair"),
        "{keys}"
    );
    let installation = expect_json(
        fx.app
            .get(
                &format!("{base}/installations/{}", shop.installation),
                &fx.token,
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        installation["oauth"]["credential_definition_id"],
        definition.as_str()
    );

    // A second interaction reuses the definition, and a client id is unique on the server.
    let other = fx
        .interaction(json!({"name": "Sign in", "issued_credentials": [fx.badge],
            "webhook": fx.webhook("/hook", "default", "signature")}))
        .await;
    let attach = |settings: Value| {
        let body = json!({"installation_id": shop.installation, "settings": settings});
        let path = format!("{base}/interactions/{other}/extensions");
        async move { fx.app.post(&path, &fx.token, &body).await }
    };
    let message = expect_error(
        attach(json!({"client_id": CLIENT_ID})).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("client id"), "{message}");
    expect_error(
        attach(json!({"client_id": "a&b=c"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let attached = expect_json(
        attach(json!({"client_id": "shop-2"})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        attached["oauth"]["credential_definition_id"],
        definition.as_str()
    );
    shop.fx.app.stop().await;
}

async fn the_device_flow_issues_a_verifiable_token_once_to_the_holder_who_completes_it(
    backend: Backend,
) {
    let shop = Shop::new(backend, settings()).await;
    let grant = shop.device_authorization().await;
    let user_code = grant["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9, "{grant}");
    assert_eq!(&user_code[4..5], "-", "{grant}");
    assert!(
        user_code
            .bytes()
            .all(|b| b == b'-' || b"BCDFGHJKLMNPQRSTVWXZ".contains(&b)),
        "{grant}"
    );
    assert_eq!(grant["expires_in"], 600);
    assert_eq!(grant["interval"], 1);
    assert_eq!(grant["initial_interval"], 1);
    assert!(
        grant["verification_uri"]
            .as_str()
            .unwrap()
            .ends_with("/start.html"),
        "{grant}"
    );
    // RFC 8628 §3.3.1: the complete URI pre-fills the user code into the start page's link.
    let complete = grant["verification_uri_complete"].as_str().unwrap();
    let prefill = query_of(complete)["prefill"].as_str().unwrap().to_owned();
    assert_eq!(
        prefill,
        format!("{}:OAuth User Code={user_code}", shop.definition()),
        "{grant}"
    );
    let device_code = grant["device_code"].as_str().unwrap();

    let holder = Holder::new();
    let outcome = shop.sign_in(&holder, user_code).await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let event = shop.fx.event(outcome["event_id"].as_str().unwrap()).await;
    let log = event["log"].to_string();
    assert!(
        log.contains(&format!("signed in with SSI OAuth (client {CLIENT_ID})")),
        "{log}"
    );

    // The code is single-use: a second holder presenting it fails, with a message for them.
    let again = shop.sign_in(&Holder::new(), user_code).await;
    assert_eq!(again["state"], "failed", "{again}");
    assert!(
        again["message"].as_str().unwrap().contains("sign-in"),
        "{again}"
    );

    let token = expect_json(shop.poll(device_code).await, StatusCode::OK).await;
    assert_eq!(token["token_type"], "Bearer", "{token}");
    assert_eq!(token["expires_in"], 3600, "{token}");
    let access_token = token["access_token"].as_str().unwrap();
    // Once.
    expect_oauth_error(
        shop.poll(device_code).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;

    // The relying party verifies it with the key of the JWKS the header names.
    let claims = verify(&shop, access_token).await;
    assert_eq!(claims.sub.as_deref(), Some(holder.did.as_str()));
    assert_eq!(claims.extra["name"], "Ada");
    assert_eq!(claims.extra["born"], "631152000");
    assert_eq!(claims.exp - claims.iat.unwrap(), 3600);
    assert!(claims.jti.is_some());
    shop.fx.app.stop().await;
}

async fn polls_are_answered_pending_slow_down_and_expired_in_rfc_form(backend: Backend) {
    let mut short = settings();
    short["code_lifetime_secs"] = json!(2);
    let shop = Shop::new(backend, short).await;
    let grant = shop.device_authorization().await;
    let device_code = grant["device_code"].as_str().unwrap();
    // A first poll at initial_interval is not punished; one sooner than the interval is.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    expect_oauth_error(
        shop.poll(device_code).await,
        StatusCode::BAD_REQUEST,
        "authorization_pending",
    )
    .await;
    let response = shop.poll(device_code).await;
    let body = expect_json(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["error"], "slow_down", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("6 seconds"),
        "{body}"
    );
    // Past its lifetime the code is expired_token, and a holder presenting it is refused.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    expect_oauth_error(
        shop.poll(device_code).await,
        StatusCode::BAD_REQUEST,
        "expired_token",
    )
    .await;
    let late = shop
        .sign_in(&Holder::new(), grant["user_code"].as_str().unwrap())
        .await;
    assert_eq!(late["state"], "failed", "{late}");
    let unknown = shop.sign_in(&Holder::new(), "BCDF-GHJK").await;
    assert_eq!(unknown["state"], "failed", "{unknown}");
    shop.fx.app.stop().await;
}

async fn wrong_clients_codes_grant_types_and_too_many_grants_are_refused_with_cors(
    backend: Backend,
) {
    let shop = Shop::new(backend, settings()).await;
    let grant = shop.device_authorization().await;
    let device_code = grant["device_code"].as_str().unwrap();

    let response = shop
        .form("/oauth2/device_authorization", &[("client_id", "nobody")])
        .await;
    assert_cors(&response);
    expect_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let response = shop.form("/oauth/device_authorization", &[]).await;
    assert_cors(&response);
    expect_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    let token = |client_id: &'static str, code: String, grant_type: &'static str| {
        let form = [
            ("client_id", client_id.to_owned()),
            ("device_code", code),
            ("grant_type", grant_type.to_owned()),
        ];
        let shop = &shop;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = shop.form("/oauth//token", &form).await;
            assert_cors(&response);
            response
        }
    };
    expect_oauth_error(
        token("nobody", device_code.into(), DEVICE_GRANT).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    expect_oauth_error(
        token(CLIENT_ID, "not-a-code".into(), DEVICE_GRANT).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    expect_oauth_error(
        token(CLIENT_ID, device_code.into(), "password").await,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
    )
    .await;

    // Starting grants is limited per client (20 at once): the one above and 19 more pass.
    for _ in 0..19 {
        shop.device_authorization().await;
    }
    let response = shop
        .form("/oauth2/device_authorization", &[("client_id", CLIENT_ID)])
        .await;
    assert_cors(&response);
    assert!(
        response.headers().contains_key("retry-after"),
        "{response:?}"
    );
    expect_oauth_error(response, StatusCode::TOO_MANY_REQUESTS, "slow_down").await;

    // A browser's preflight is answered for any page.
    let fx = &shop.fx;
    let preflight = fx
        .app
        .client
        .request(reqwest::Method::OPTIONS, fx.app.url("/oauth2/token"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{preflight:?}");
    assert_cors(&preflight);

    // The management API stays closed to pages.
    let response = fx
        .app
        .client
        .get(fx.app.url(&format!("/api/v1/services/{}", fx.did)))
        .header("origin", ORIGIN)
        .bearer_auth(&fx.token)
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    shop.fx.app.stop().await;
}

/// Where the relying party of the code-flow tests takes the browser back.
const REDIRECT: &str = "https://rp.example/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn code_settings(secret: Option<&str>) -> Value {
    let mut settings = settings();
    settings["redirect_uris"] = json!(format!("{REDIRECT}\nhttp://127.0.0.1:9/cb"));
    if let Some(secret) = secret {
        settings["client_secret"] = json!(secret);
    }
    settings
}

/// A browser that does not follow redirects, so each step is seen.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Location` of a redirect.
fn location(response: &Response) -> String {
    assert!(
        response.status().is_redirection(),
        "expected a redirect: {response:?}"
    );
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The query parameters of a URL, as a JSON object.
fn query_of(url: &str) -> Value {
    let url = url::Url::parse(url).unwrap();
    Value::Object(
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
            .collect(),
    )
}

impl Shop {
    /// The browser's visit of `GET /oauth2/authorization` with `params` (client id added).
    async fn authorize(&self, params: &[(&str, &str)]) -> Response {
        let mut url = url::Url::parse(&self.fx.app.url("/oauth2/authorization")).unwrap();
        url.query_pairs_mut().append_pair("client_id", CLIENT_ID);
        for (name, value) in params {
            url.query_pairs_mut().append_pair(name, value);
        }
        browser().get(url).send().await.unwrap()
    }

    /// The authorization page's URL and the user code its link pre-fills.
    async fn authorization_page(&self, params: &[(&str, &str)]) -> (String, String) {
        let page = location(&self.authorize(params).await);
        assert!(page.contains("/oauth2/authorization/"), "{page}");
        let response = browser().get(&page).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers().get("content-security-policy").is_some(),
            "{response:?}"
        );
        let html = response.text().await.unwrap();
        let start = html.find("/native/execute/").expect("a link on the page") + 16;
        let payload: String = html[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let link: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let prepared = link["preparedCredentials"].as_array().unwrap();
        let code = prepared
            .iter()
            .find(|c| c["credentialId"] == self.definition())
            .unwrap_or_else(|| panic!("{link}"));
        assert_eq!(code["attributes"][0]["name"], "OAuth User Code");
        let user_code = code["attributes"][0]["value"].as_str().unwrap().to_owned();
        (page, user_code)
    }

    /// The token request of the code flow, as a form (`client_secret_post` when a secret is in it).
    async fn exchange(&self, form: &[(&str, &str)]) -> Response {
        let mut fields = vec![("grant_type", "authorization_code")];
        if !form.iter().any(|(name, _)| *name == "client_id") {
            fields.push(("client_id", CLIENT_ID));
        }
        fields.extend_from_slice(form);
        self.form("/oauth2/token", &fields).await
    }

    /// Signs in through the authorization page with PKCE; returns the code and the holder.
    async fn code(&self, extra: &[(&str, &str)]) -> (String, Holder) {
        let mut params = vec![
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("state", "st-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        params.extend_from_slice(extra);
        let (page, user_code) = self.authorization_page(&params).await;
        let holder = Holder::new();
        let outcome = self.sign_in(&holder, &user_code).await;
        assert_eq!(outcome["state"], "completed", "{outcome}");
        let back = location(&browser().get(&page).send().await.unwrap());
        assert!(back.starts_with(&format!("{REDIRECT}?")), "{back}");
        let query = query_of(&back);
        assert_eq!(query["state"], "st-1", "{back}");
        // RFC 9207: the issuer comes back with the code.
        let issuer = format!("{}/oauth2/{}", self.fx.app.address, self.fx.did);
        assert_eq!(query["iss"], issuer.as_str(), "{back}");
        (query["code"].as_str().unwrap().to_owned(), holder)
    }
}

/// Verifies an RS256 token of the shop's service with the key its JWKS publishes.
async fn verify(shop: &Shop, token: &str) -> psi_webhook::Claims {
    let fx = &shop.fx;
    let jwks = expect_json(
        fx.app
            .client
            .get(fx.app.url(&format!("/oauth2/{}/jwks", fx.did)))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
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
        .expect_issuer(format!("{}/oauth2/{}", fx.app.address, fx.did));
    Verifier::rsa(PublicKey::from_jwk(jwk).unwrap())
        .verify_bearer(token, b"", &validation, UnixTime::now())
        .unwrap()
}

async fn the_code_flow_with_pkce_gives_an_id_token_once_and_is_discoverable(backend: Backend) {
    let shop = Shop::new(backend, code_settings(None)).await;
    let fx = &shop.fx;
    let endpoint = fx.receiver.url("/signed-in");
    expect_json(
        fx.app
            .post(
                &format!("/api/v1/services/{}/endpoints", fx.did),
                &fx.token,
                &json!({"url": endpoint, "key": "default", "auth": "signature",
                    "event_types": ["oauth.signed_in"]}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;

    // Discovery names the endpoints a standard relying party needs.
    let issuer = format!("{}/oauth2/{}", fx.app.address, fx.did);
    let discovery = expect_json(
        fx.app
            .client
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(discovery["issuer"], issuer.as_str());
    for (name, path) in [
        ("authorization_endpoint", "/oauth2/authorization"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
    ] {
        assert_eq!(discovery[name], fx.app.url(path), "{discovery}");
    }
    assert_eq!(discovery["jwks_uri"], format!("{issuer}/jwks"));
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );

    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    let (code, holder) = shop
        .code(&[("scope", "openid email admin"), ("nonce", "n-0S6_WzA2Mj")])
        .await;
    let token = expect_json(
        shop.exchange(&[
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(token["token_type"], "Bearer", "{token}");
    // Only what psi supports is granted.
    assert_eq!(token["scope"], "openid", "{token}");
    let id_token = verify(&shop, token["id_token"].as_str().unwrap()).await;
    assert_eq!(id_token.sub.as_deref(), Some(holder.did.as_str()));
    assert_eq!(id_token.extra["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id_token.extra["name"], "Ada");
    let auth_time = id_token.extra["auth_time"].as_u64().unwrap();
    assert!(
        auth_time.abs_diff(UnixTime::now().as_secs()) < 60,
        "{auth_time}"
    );
    let access_token = token["access_token"].as_str().unwrap();
    assert_eq!(verify(&shop, access_token).await.sub, id_token.sub);

    // Userinfo answers the access token, not the id_token or a forged one.
    let userinfo = |token: String| {
        let fx = &shop.fx;
        async move {
            fx.app
                .client
                .get(fx.app.url("/oauth2/userinfo"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let answer = userinfo(access_token.to_owned()).await;
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let info = expect_json(answer, StatusCode::OK).await;
    assert_eq!(
        info,
        json!({"sub": holder.did, "name": "Ada", "born": "631152000"})
    );
    for bad in [
        token["id_token"].as_str().unwrap().to_owned(),
        format!("{access_token}x"),
        "nonsense".to_owned(),
    ] {
        let response = userinfo(bad).await;
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token"),
            "{response:?}"
        );
        expect_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // Without a token: the challenge alone (RFC 6750 §3.1).
    let bare = fx
        .app
        .client
        .get(fx.app.url("/oauth2/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(bare.headers()["www-authenticate"], "Bearer");

    // The code is single-use, and the page does not hand out another.
    expect_oauth_error(
        shop.exchange(&[
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;

    // The sign-in is in the event's log and notified through the outbox.
    let calls = fx
        .receiver
        .wait_for_calls("/signed-in", 1, Duration::from_secs(10))
        .await;
    let notified: Value = serde_json::from_slice(&calls[0].body).unwrap();
    assert_eq!(notified["type"], "oauth.signed_in", "{notified}");
    assert_eq!(notified["clientId"], CLIENT_ID, "{notified}");
    assert_eq!(notified["flow"], "authorization_code", "{notified}");
    assert_eq!(notified["subscriberConnectDid"], holder.did.as_str());
    assert_eq!(notified["claims"]["name"], "Ada", "{notified}");
    let event = fx.event(notified["actionEventId"].as_str().unwrap()).await;
    let log = event["log"].to_string();
    assert!(
        log.contains("signed_in") && log.contains("authorization_code"),
        "{log}"
    );
    shop.fx.app.stop().await;
}

async fn code_flow_refusals_follow_rfc_6749_and_7636(backend: Backend) {
    let shop = Shop::new(backend, code_settings(Some("s3cret-of-the-rp"))).await;
    let fx = &shop.fx;

    // Before the redirect URI is trusted, the person sees the error; the site is not called.
    for params in [
        vec![
            ("redirect_uri", "https://evil.example/callback"),
            ("response_type", "code"),
        ],
        // Two are registered: the request must name one.
        vec![("response_type", "code")],
    ] {
        let response = shop.authorize(&params).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{response:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains("redirect_uri"), "{html}");
    }
    let nobody = browser()
        .get(
            fx.app
                .url("/oauth2/authorization?client_id=nobody&response_type=code"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(nobody.status(), StatusCode::BAD_REQUEST);

    // After, the site hears of it with its state.
    for (params, error) in [
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            vec![("response_type", "code"), ("code_challenge", CHALLENGE)],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ],
            "invalid_request",
        ),
    ] {
        let mut params = params;
        params.extend([("redirect_uri", REDIRECT), ("state", "st-2")]);
        let back = location(&shop.authorize(&params).await);
        let query = query_of(&back);
        assert!(back.starts_with(REDIRECT), "{back}");
        assert_eq!(query["error"], error, "{back}");
        assert_eq!(query["state"], "st-2", "{back}");
        assert!(query["error_description"].is_string(), "{back}");
    }

    // What psi does not do is refused, not ignored (OpenID Connect Core §3.1.2.6, §6).
    for (extra, error) in [
        (("prompt", "none"), "login_required"),
        (
            ("request", "eyJhbGciOiJub25lIn0.e30."),
            "request_not_supported",
        ),
        (
            ("request_uri", "https://rp.example/r"),
            "request_uri_not_supported",
        ),
        (("response_mode", "fragment"), "invalid_request"),
    ] {
        let params = [
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            extra,
        ];
        let back = location(&shop.authorize(&params).await);
        assert_eq!(query_of(&back)["error"], error, "{back}");
    }
    // The request may come as a form POST too.
    let posted = browser()
        .post(fx.app.url("/oauth2/authorization"))
        .form(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert!(location(&posted).contains("/oauth2/authorization/"));

    // A confidential client authenticates in the device flow too (RFC 8628 §3.4).
    let grant = shop.device_authorization().await;
    expect_oauth_error(
        shop.poll(grant["device_code"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;

    // A confidential client authenticates at the token endpoint, by form or Basic.
    let (code, _) = shop.code(&[]).await;
    let with = |secret: &str, verifier: &str, redirect: &str| {
        let (code, secret, verifier, redirect) = (
            code.clone(),
            secret.to_owned(),
            verifier.to_owned(),
            redirect.to_owned(),
        );
        let shop = &shop;
        async move {
            shop.exchange(&[
                ("code", &code),
                ("client_secret", &secret),
                ("code_verifier", &verifier),
                ("redirect_uri", &redirect),
            ])
            .await
        }
    };
    expect_oauth_error(
        with("wrong", VERIFIER, REDIRECT).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    expect_oauth_error(
        shop.exchange(&[
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ])
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    let wrong_verifier = "x".repeat(43);
    expect_oauth_error(
        with("s3cret-of-the-rp", &wrong_verifier, REDIRECT).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    expect_oauth_error(
        with("s3cret-of-the-rp", VERIFIER, "http://127.0.0.1:9/cb").await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    expect_oauth_error(
        shop.exchange(&[
            ("code", &code),
            ("client_secret", "s3cret-of-the-rp"),
            ("code_verifier", VERIFIER),
        ])
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    expect_oauth_error(
        shop.exchange(&[("code", "unknown"), ("client_secret", "s3cret-of-the-rp")])
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;

    // Basic authentication, on a fresh code; the code expires (set in the database: a minute is
    // long for a test).
    let (code, _) = shop.code(&[]).await;
    let basic = |code: String| {
        let fx = &shop.fx;
        async move {
            fx.app
                .client
                .post(fx.app.url("/oauth2/token"))
                .basic_auth(CLIENT_ID, Some("s3cret-of-the-rp"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", VERIFIER),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let pool = fx.app.db.raw_pool().await;
    sqlx::query("UPDATE oauth_grants SET code_expires_at = 0 WHERE code_hash IS NOT NULL")
        .execute(&pool)
        .await
        .unwrap();
    expect_oauth_error(basic(code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let (code, _) = shop.code(&[]).await;
    let token = expect_json(basic(code).await, StatusCode::OK).await;
    // No openid scope: no id_token.
    assert!(token["id_token"].is_null(), "{token}");
    verify(&shop, token["access_token"].as_str().unwrap()).await;
    let wrong = fx
        .app
        .client
        .post(fx.app.url("/oauth2/token"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert!(
        wrong.headers().contains_key("www-authenticate"),
        "{wrong:?}"
    );
    expect_oauth_error(wrong, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // A sign-in approved but past its time gives no code when the browser comes back late.
    let (page, user_code) = shop
        .authorization_page(&[
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .await;
    let outcome = shop.sign_in(&Holder::new(), &user_code).await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    sqlx::query(
        "UPDATE oauth_grants SET expires_at = 0 WHERE state = 'approved' AND code_hash IS NULL",
    )
    .execute(&pool)
    .await
    .unwrap();
    let back = location(&browser().get(&page).send().await.unwrap());
    assert_eq!(query_of(&back)["error"], "access_denied", "{back}");

    // Wrong secrets are throttled like wrong tokens: past the budget, 429 with Retry-After.
    let mut throttled = None;
    for _ in 0..20 {
        let response = with("wrong-secret-guess", VERIFIER, REDIRECT).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(response);
            break;
        }
    }
    let throttled = throttled.expect("wrong secrets are throttled");
    assert!(throttled.headers().contains_key("retry-after"));

    // A grant the holder did not complete in time sends the browser back with access_denied,
    // and its user code signs no one in.
    let (page, user_code) = shop
        .authorization_page(&[
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("state", "st-3"),
        ])
        .await;
    sqlx::query("UPDATE oauth_grants SET expires_at = 0 WHERE client_state = 'st-3'")
        .execute(&pool)
        .await
        .unwrap();
    let back = location(&browser().get(&page).send().await.unwrap());
    assert_eq!(query_of(&back)["error"], "access_denied", "{back}");
    assert_eq!(query_of(&back)["state"], "st-3", "{back}");
    let late = shop.sign_in(&Holder::new(), &user_code).await;
    assert_eq!(late["state"], "failed", "{late}");
    let unknown = browser()
        .get(fx.app.url("/oauth2/authorization/not-a-handle"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);

    // Grants a day past their expiry (the two set to 0 above) are purged; the others are kept.
    let db = &fx.app.app.state().db;
    let count = |sql: &'static str| {
        let pool = &pool;
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(pool)
                .await
                .unwrap()
        }
    };
    let before = count("SELECT COUNT(*) FROM oauth_grants").await;
    let now = psi_server::db::now_ms();
    assert_eq!(psi_server::db::oauth::purge(db, now).await.unwrap(), 2);
    assert_eq!(count("SELECT COUNT(*) FROM oauth_grants").await, before - 2);
    assert_eq!(
        count("SELECT COUNT(*) FROM oauth_grants WHERE expires_at = 0").await,
        0
    );
    shop.fx.app.stop().await;
}

/// `ssi-auth-lib` 0.0.6 sends the service DID as the client id, on the legacy base.
async fn a_service_did_names_its_only_client(backend: Backend) {
    let shop = Shop::new(backend, settings()).await;
    let fx = &shop.fx;
    let did = fx.did.as_str();
    let response = shop
        .form("/oauth/device_authorization", &[("client_id", did)])
        .await;
    let grant = expect_json(response, StatusCode::OK).await;
    let outcome = shop
        .sign_in(&Holder::new(), grant["user_code"].as_str().unwrap())
        .await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let form = [
        ("client_id", did),
        ("device_code", grant["device_code"].as_str().unwrap()),
        ("grant_type", DEVICE_GRANT),
    ];
    let token = expect_json(shop.form("/oauth/token", &form).await, StatusCode::OK).await;
    assert!(token["access_token"].is_string(), "{token}");

    // With a second client the DID is ambiguous: the page must give a client id.
    let other = fx
        .interaction(json!({"name": "Sign in", "issued_credentials": [fx.badge],
            "webhook": fx.webhook("/hook", "default", "signature")}))
        .await;
    expect_json(
        fx.app
            .post(
                &format!("/api/v1/services/{did}/interactions/{other}/extensions"),
                &fx.token,
                &json!({"installation_id": shop.installation,
                    "settings": {"client_id": "shop-2"}}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let response = shop
        .form("/oauth/device_authorization", &[("client_id", did)])
        .await;
    let body = expect_json(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["error"], "invalid_client", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("several"),
        "{body}"
    );
    // A signing key the service lacks is refused when attaching.
    let third = fx
        .interaction(json!({"name": "Third", "issued_credentials": [fx.badge],
            "webhook": fx.webhook("/hook", "default", "signature")}))
        .await;
    let message = expect_error(
        fx.app
            .post(
                &format!("/api/v1/services/{did}/interactions/{third}/extensions"),
                &fx.token,
                &json!({"installation_id": shop.installation,
                    "settings": {"client_id": "shop-3", "signing_key": "missing"}}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("signing_key"), "{message}");
    shop.fx.app.stop().await;
}
