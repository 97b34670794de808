//! What the engine tests share: the kit's webhook receiver, verifying psi's signatures as a third
//! party would, a minimal holder that signs wallet calls, and a service with schemas, definitions
//! and an interaction pointing at the receiver.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use figment::Figment;
use figment::providers::Serialized;
use psi_testkit::{Call, Receiver, Reply, now_ms};
use psi_webhook::{Claims, PublicKey, SharedSecret, UnixTime, Validation, Verifier};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDb, expect_json, spawn_app_on};

/// A server whose outbound calls may reach loopback, where the test receivers listen.
pub async fn engine_app(backend: Backend) -> TestApp {
    engine_app_with(backend, &[]).await
}

/// [`engine_app`] with these configuration keys (`("inbound.token_exp_horizon", json!("1m"))`).
pub async fn engine_app_with(backend: Backend, keys: &[(&str, Value)]) -> TestApp {
    let db = TestDb::new(backend).await;
    let mut figment = db
        .figment()
        .merge(Serialized::default("outbound.allow_loopback", true));
    for (key, value) in keys {
        figment = figment.merge(Serialized::default(key, value));
    }
    spawn_app_on(db, figment).await
}

/// How the receiver authenticates psi's calls.
#[derive(Clone)]
pub enum Auth {
    /// `X-Body-Signature` with the service's public key.
    Signature(PublicKey),
    /// `Authorization: Bearer`, RS256 or HS256, issued by the service's DID.
    Bearer { verifier: Verifier, issuer: String },
}

impl Auth {
    /// Whether `call` passes, as a third party's receiver checks it; the claims of a Bearer token.
    pub fn verify(&self, call: &Call) -> Result<Option<Claims>, String> {
        match self {
            Auth::Signature(key) => Verifier::rsa(key.clone())
                .verify_signature(&call.body, call.header("x-body-signature"))
                .map(|()| None)
                .map_err(|e| e.to_string()),
            Auth::Bearer { verifier, issuer } => verifier
                .verify_authorization(
                    call.header("authorization"),
                    &call.body,
                    &Validation::new().expect_issuer(issuer.clone()),
                    UnixTime::now(),
                )
                .map(|claims| {
                    assert!(claims.body_sha3_256.is_some(), "tokens carry body_sha3_256");
                    Some(claims)
                })
                .map_err(|e| e.to_string()),
        }
    }
}

/// A third party's webhook endpoint: the kit's receiver, refusing (401) calls that fail `auth`.
pub fn authenticate_with(receiver: &Receiver, auth: Auth) {
    receiver.check(move |call| auth.verify(call).map(drop).map_err(|e| Reply::text(401, e)));
}

/// Makes `receiver` verify `X-Body-Signature` with the key the service publishes at its
/// public-key endpoint.
async fn trust_published_key(receiver: &Receiver, app: &TestApp, did: &str) {
    let path = format!("/service-dashboard-backend/service/{did}/public-info/public-key/default");
    let response = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let pem = response.text().await.unwrap();
    authenticate_with(
        receiver,
        Auth::Signature(PublicKey::from_pem(&pem).unwrap()),
    );
}

/// A wallet holder with a pairwise Ed25519 key.
pub struct Holder {
    key: SigningKey,
    pub did: String,
    pub verkey: String,
}

impl Holder {
    pub fn new() -> Self {
        let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let public = key.verifying_key().to_bytes();
        Holder {
            did: bs58::encode(&public[..16]).into_string(),
            verkey: bs58::encode(public).into_string(),
            key,
        }
    }

    /// `body` with `holderDid`, `timestamp` and a fresh `nonce` where it has none.
    pub fn complete(&self, mut body: Value) -> Value {
        let object = body.as_object_mut().expect("a JSON object");
        object.entry("holderDid").or_insert(json!(self.did));
        object.entry("timestamp").or_insert(json!(now_ms()));
        object
            .entry("nonce")
            .or_insert(json!(uuid::Uuid::new_v4().simple().to_string()));
        body
    }

    /// The `X-Holder-Signature` of `raw`.
    pub fn signature(&self, raw: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.key.sign(raw).to_bytes())
    }

    /// POSTs the exact bytes `raw`, signed.
    pub async fn post_raw(&self, app: &TestApp, path: &str, raw: Vec<u8>) -> Response {
        let signature = self.signature(&raw);
        app.client
            .post(app.url(path))
            .header("content-type", "application/json")
            .header("x-holder-verkey", &self.verkey)
            .header("x-holder-signature", signature)
            .body(raw)
            .send()
            .await
            .expect("request")
    }

    /// POSTs `body`, completed and signed.
    pub async fn post(&self, app: &TestApp, path: &str, body: Value) -> Response {
        let raw = serde_json::to_vec(&self.complete(body)).unwrap();
        self.post_raw(app, path, raw).await
    }

    /// Runs `action_id` of `did` presenting `presented` with the link's `prefilled`; returns the
    /// outcome (200 expected).
    pub async fn run(
        &self,
        app: &TestApp,
        did: &str,
        action_id: &str,
        prefilled: Value,
        presented: Value,
    ) -> Value {
        let body = json!({"actionId": action_id, "prefilled": prefilled, "presented": presented});
        let response = self
            .post(app, &format!("/wallet/v1/services/{did}/events"), body)
            .await;
        expect_json(response, StatusCode::OK).await
    }

    /// The inbox (200 expected).
    pub async fn inbox(&self, app: &TestApp, did: &str) -> Value {
        let response = self
            .post(app, &format!("/wallet/v1/services/{did}/inbox"), json!({}))
            .await;
        expect_json(response, StatusCode::OK).await
    }
}

/// An unauthenticated GET, as wallets make.
pub async fn get_public(app: &TestApp, path: &str) -> Response {
    app.client.get(app.url(path)).send().await.expect("request")
}

/// A service with an applicant schema (self-attested, pre-fillable), a membership and a badge
/// (issued by the service), and the interaction "Join" that requires the first and issues the
/// other two through the receiver's `/hook`, signed with the `default` key.
pub struct Fixture {
    pub app: TestApp,
    pub receiver: Receiver,
    pub did: String,
    pub token: String,
    /// Self-attested: `Name` (text), `Born` (date); pre-fillable in "Join".
    pub applicant: String,
    /// Service-attested: `Name` (text), `Level` (number); its check webhook is `/check`.
    pub membership: String,
    pub membership_schema: String,
    /// Service-attested: `Title` (text), `Since` (date).
    pub badge: String,
    /// "Join".
    pub join: String,
}

impl Fixture {
    /// On a server whose outbound calls may reach the receiver on loopback.
    pub async fn new(backend: Backend) -> Self {
        Self::on(engine_app(backend).await).await
    }

    /// The same fixture on a new server on its database, configured by `configure`.
    pub async fn restarted_with(self, configure: impl FnOnce(&TestDb) -> Figment) -> Self {
        let app = self.app.restart_with(configure).await;
        Fixture { app, ..self }
    }

    /// On `app`.
    pub async fn on(app: TestApp) -> Self {
        let receiver = Receiver::start().await;
        // A path the test scripted no answer for is a webhook that does not exist.
        receiver.answer(Reply::text(404, "no script for this path"));
        let did = app.create_service("Club").await;
        let (_, token) = app.create_token(&did).await;
        trust_published_key(&receiver, &app, &did).await;
        let mut fixture = Fixture {
            app,
            receiver,
            did,
            token,
            applicant: String::new(),
            membership: String::new(),
            membership_schema: String::new(),
            badge: String::new(),
            join: String::new(),
        };
        fixture.applicant = fixture
            .definition(
                "Applicant",
                &[("Name", "text"), ("Born", "date")],
                "self",
                None,
            )
            .await;
        let check = json!({"url": fixture.receiver.url("/check"), "key": "default", "auth": "signature", "timeout_ms": 2000});
        fixture.membership = fixture
            .definition(
                "Membership",
                &[("Name", "text"), ("Level", "number")],
                "service",
                Some(check),
            )
            .await;
        fixture.membership_schema = format!("{}:2:Membership:1.0", fixture.did);
        fixture.badge = fixture
            .definition(
                "Badge",
                &[("Title", "text"), ("Since", "date")],
                "service",
                None,
            )
            .await;
        fixture.join = fixture
            .interaction(json!({
                "name": "Join",
                "required_credentials": [{"credential_id": fixture.applicant, "prefill_from_qr": true}],
                "issued_credentials": [fixture.membership, fixture.badge],
                "webhook": fixture.webhook("/hook", "default", "signature"),
                "parameters": [{"name": "club", "value": "chess"}],
            }))
            .await;
        fixture
    }

    /// A webhook setting pointing at the receiver's `path`.
    pub fn webhook(&self, path: &str, key: &str, auth: &str) -> Value {
        json!({"url": self.receiver.url(path), "key": key, "auth": auth, "timeout_ms": 2000})
    }

    /// Creates a schema (version 1.0) and a definition of it; returns the credential id.
    pub async fn definition(
        &self,
        name: &str,
        attributes: &[(&str, &str)],
        attestation: &str,
        check_webhook: Option<Value>,
    ) -> String {
        let attributes: Vec<Value> = attributes
            .iter()
            .map(|(name, kind)| json!({"name": name, "type": kind}))
            .collect();
        let schema = expect_json(
            self.app
                .post(
                    &format!("/api/v1/services/{}/schemas", self.did),
                    &self.token,
                    &json!({"name": name, "version": "1.0", "attributes": attributes}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        let mut body = json!({"schema": schema["schema_id"], "attestation": attestation});
        if let Some(check) = check_webhook {
            body["check_webhook"] = check;
        }
        let definition = expect_json(
            self.app
                .post(
                    &format!("/api/v1/services/{}/credential-definitions", self.did),
                    &self.token,
                    &body,
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        definition["credential_id"].as_str().unwrap().to_owned()
    }

    /// Creates an interaction; returns its `actionId`.
    pub async fn interaction(&self, body: Value) -> String {
        let created = expect_json(
            self.app
                .post(
                    &format!("/api/v1/services/{}/interactions", self.did),
                    &self.token,
                    &body,
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        created["id"].as_str().unwrap().to_owned()
    }

    /// Changes an interaction (`PATCH`).
    pub async fn patch_interaction(&self, action_id: &str, body: Value) {
        let response = self
            .app
            .client
            .patch(self.app.url(&format!(
                "/api/v1/services/{}/interactions/{action_id}",
                self.did
            )))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_json(response, StatusCode::OK).await;
    }

    /// The applicant credential as the wallet presents it.
    pub fn applicant_presented(&self, name: &str) -> Value {
        json!([{"credentialId": self.applicant, "attributes": [
            {"name": "Name", "value": name}, {"name": "Born", "value": "631152000"}]}])
    }

    /// Runs "Join" for `holder` as `name`.
    pub async fn join(&self, holder: &Holder, name: &str) -> Value {
        holder
            .run(
                &self.app,
                &self.did,
                &self.join,
                json!([]),
                self.applicant_presented(name),
            )
            .await
    }

    /// Scripts `/hook` to issue a membership at `level` with the applicant's name, as the public
    /// Node example replies.
    pub fn issue_membership(&self, level: &'static str) {
        let membership = self.membership.clone();
        let schema = self.membership_schema.clone();
        let did = self.did.clone();
        self.receiver.on_json("/hook", move |request| {
            Reply::json(json!({
                "serviceDid": did,
                "subscriberConnectDid": request["subscriberConnectDid"],
                "actionEventId": request["actionEventId"],
                "issuedCredentials": [{
                    "credentialId": membership,
                    "schemaId": schema,
                    "fields": [
                        {"name": "Name", "value": received_value(request, "Name")},
                        {"name": "Level", "value": level},
                    ],
                    "utcIssuedAt": now_ms(),
                    "revoked": false,
                }],
                "revokedCredentials": [],
                "ok": true,
            }))
        });
    }

    /// Joins and returns the membership credential issued (`{jti, jwt, ...}`).
    pub async fn member(&self, holder: &Holder, level: &'static str) -> Value {
        self.issue_membership(level);
        let outcome = self.join(holder, "Ada").await;
        assert_eq!(outcome["state"], "completed", "{outcome}");
        outcome["issued"][0].clone()
    }

    /// The event as the management API shows it.
    pub async fn event(&self, id: &str) -> Value {
        expect_json(
            self.app
                .get(
                    &format!("/api/v1/services/{}/events/{id}", self.did),
                    &self.token,
                )
                .await,
            StatusCode::OK,
        )
        .await
    }

    /// The credentials the service issued, as the management API lists them (one page).
    pub async fn credentials(&self) -> Value {
        let path = format!("/api/v1/services/{}/credentials", self.did);
        let mut page = expect_json(self.app.get(&path, &self.token).await, StatusCode::OK).await;
        page["data"].take()
    }

    /// Creates a SHA secret key; returns it.
    pub async fn sha_secret(&self, name: &str) -> SharedSecret {
        let created = expect_json(
            self.app
                .post(
                    &format!("/api/v1/services/{}/keys", self.did),
                    &self.token,
                    &json!({"name": name, "type": "sha_secret"}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        SharedSecret::from_base64(created["secret"].as_str().unwrap()).unwrap()
    }
}

/// The value of attribute `name` in the first received credential of a §4.1 request.
pub fn received_value(request: &Value, name: &str) -> Value {
    request["receivedCredentials"][0]["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|f| f["name"] == name))
        .map(|f| f["value"].clone())
        .unwrap_or(Value::Null)
}

/// The log kinds of an event, in order.
pub fn log_kinds(event: &Value) -> Vec<String> {
    event["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap().to_owned())
        .collect()
}
