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
            .decode(access_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256", "{header}");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("no key {header} in {jwks}"));
    let issuer = format!("{}/oauth2/{}", fx.app.address, fx.did);
    let validation = Validation::new()
        .expect_audience(CLIENT_ID)
        .expect_issuer(issuer);
    let claims = Verifier::rsa(PublicKey::from_jwk(jwk).unwrap())
        .verify_bearer(access_token, b"", &validation, UnixTime::now())
        .unwrap();
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
        token(CLIENT_ID, device_code.into(), "authorization_code").await,
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
