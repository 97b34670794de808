//! What the tests of calls from third parties share: the engine's fixture (a service whose "Join"
//! interaction calls a scripted receiver), plus the third party's keys registered as issuers of
//! its credentials, a push-from-server interaction, and a client that signs calls to psi.

use psi_testkit::{Reply, now_ms};
use psi_webhook::{Claims, PrivateKey, SharedSecret, Signer, UnixTime};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::engine::support::{Fixture, Holder};
use crate::helpers::expect_json;

/// The third party's RSA key: the PKCS#1 key of the signature vectors, as the public
/// async-issue example holds its key.
pub fn partner_key() -> PrivateKey {
    let vectors: Value =
        serde_json::from_str(include_str!("../../../../../vectors/signatures.json")).unwrap();
    PrivateKey::from_pem(vectors["rsa_private_key_pkcs1_pem"].as_str().unwrap()).unwrap()
}

/// How a test call authenticates.
#[derive(Clone)]
pub enum Auth {
    /// No authentication at all.
    None,
    /// `X-Body-Signature` with this RSA key.
    Signature(PrivateKey),
    /// `Authorization: Bearer` with these claims (RS256 with an RSA key, HS256 with a secret).
    Bearer(Signer, Claims),
}

/// A service ready for calls from the third party "partner".
pub struct Scene {
    pub fx: Fixture,
    /// The partner's RSA key; its public half is the service's key `partner`.
    pub partner: PrivateKey,
    /// The SHA secret `shared`.
    pub shared: SharedSecret,
    /// "Reward": push-from-server, issues the badge, instances `{tier: gold}` (default) and
    /// `{tier: silver}`.
    pub reward: String,
}

impl Scene {
    /// The engine's fixture whose "Join" webhook answers "nothing now" (the event waits), with
    /// `partner` and `shared` authorised to issue the membership and the badge.
    pub async fn new(backend: crate::helpers::Backend) -> Self {
        Self::on(Fixture::new(backend).await).await
    }

    /// [`Scene::new`] on the fixture `fx`.
    pub async fn on(fx: Fixture) -> Self {
        let partner = partner_key();
        let did = fx.did.clone();
        expect_json(
            fx.app
                .post(
                    &format!("/api/v1/services/{did}/keys"),
                    &fx.token,
                    &json!({"name": "partner", "type": "rsa_public_key",
                        "public_key_pem": partner.public_key().to_spki_pem().unwrap()}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        let shared = fx.sha_secret("shared").await;
        let reward = fx
            .interaction(json!({
                "name": "Reward",
                "media": ["PUSH"],
                "issued_credentials": [fx.badge],
                "parameters": [{"name": "tier", "value": "gold"}],
            }))
            .await;
        expect_json(
            fx.app
                .post(
                    &format!("/api/v1/services/{did}/interactions/{reward}/instances"),
                    &fx.token,
                    &json!({"parameters": [{"name": "tier", "value": "silver"}]}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        let scene = Scene {
            fx,
            partner,
            shared,
            reward,
        };
        for definition in [&scene.fx.membership, &scene.fx.badge] {
            scene
                .set_definition(definition, json!({"issuers": ["partner", "shared"]}))
                .await;
        }
        scene.fx.receiver.on_json("/hook", |request| {
            Reply::json(json!({
                "serviceDid": request["publicServiceDid"],
                "subscriberConnectDid": request["subscriberConnectDid"],
                "actionEventId": request["actionEventId"],
                "issuedCredentials": [],
                "revokedCredentials": [],
                "ok": true,
            }))
        });
        scene
    }

    /// Changes a credential definition's settings.
    pub async fn set_definition(&self, credential_id: &str, settings: Value) {
        expect_json(
            self.fx
                .app
                .patch(
                    &format!(
                        "/api/v1/services/{}/credential-definitions/{credential_id}",
                        self.fx.did
                    ),
                    &self.fx.token,
                    &settings,
                )
                .await,
            StatusCode::OK,
        )
        .await;
    }

    /// Runs "Join" for `holder`; the webhook answers "nothing now". Returns the waiting event's id.
    pub async fn waiting_event(&self, holder: &Holder) -> String {
        let outcome = self.fx.join(holder, "Ada Lovelace").await;
        assert_eq!(outcome["state"], "waiting", "{outcome}");
        outcome["event_id"].as_str().unwrap().to_owned()
    }

    /// A membership at `level` for the holder, as the public async-issue example sends it.
    pub fn membership(&self, level: &str) -> Value {
        json!({
            "credentialId": self.fx.membership,
            "schemaId": self.fx.membership_schema,
            "fields": [{"name": "Name", "value": "Ada Lovelace"}, {"name": "Level", "value": level}],
            "utcIssuedAt": now_ms(),
            "revoked": false,
        })
    }

    /// A badge with this title.
    pub fn badge(&self, title: &str) -> Value {
        json!({
            "credentialId": self.fx.badge,
            "fields": [{"name": "Title", "value": title}, {"name": "Since", "value": "1700000000"}],
        })
    }

    /// The public async-issue example's body: `issuedCredentials` for the event.
    pub fn issued_body(&self, event_id: &str, holder: &Holder, credentials: Value) -> Value {
        json!({
            "serviceDid": self.fx.did,
            "subscriberConnectDid": holder.did,
            "subscriberEventId": event_id,
            "issuedCredentials": credentials,
            "revokedCredentials": [],
            "issuedAt": now_ms(),
            "ok": true,
        })
    }

    /// A push of "Reward" to `holder`.
    pub fn push_body(&self, holder: &Holder, credentials: Value, params: Value) -> Value {
        json!({
            "serviceDid": self.fx.did,
            "subscriberConnectDid": holder.did,
            "actionTemplate": self.reward,
            "actionParams": params,
            "credentials": credentials,
        })
    }

    /// The partner's signature.
    pub fn signed(&self) -> Auth {
        Auth::Signature(self.partner.clone())
    }

    /// A fresh RS256 token by the partner for this service.
    pub fn rs256(&self) -> Auth {
        Auth::Bearer(Signer::rsa(self.partner.clone()), self.claims())
    }

    /// A fresh HS256 token with the shared secret.
    pub fn hs256(&self) -> Auth {
        Auth::Bearer(Signer::shared_secret(self.shared.clone()), self.claims())
    }

    /// Claims for this service, now, with a new `jti`.
    pub fn claims(&self) -> Claims {
        Claims::new(UnixTime::now())
            .with_audience(&self.fx.did)
            .with_jwt_id(uuid::Uuid::new_v4().to_string())
    }

    /// POSTs `raw` to `<base>/webhook-accept/<endpoint>` of this service.
    pub async fn call_raw(
        &self,
        base: &str,
        endpoint: &str,
        raw: Vec<u8>,
        auth: &Auth,
        headers: &[(&str, &str)],
    ) -> Response {
        let base = base.replace("{serviceDid}", &self.fx.did);
        let mut request = self
            .fx
            .app
            .client
            .post(
                self.fx
                    .app
                    .url(&format!("{base}/webhook-accept/{endpoint}")),
            )
            .header("content-type", "application/json");
        match auth {
            Auth::None => {}
            Auth::Signature(key) => {
                let (name, value) = Signer::rsa(key.clone()).signature_header(&raw).unwrap();
                request = request.header(name, value);
            }
            Auth::Bearer(signer, claims) => {
                let (name, value) = signer.authorization_header(claims).unwrap();
                request = request.header(name, value);
            }
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(raw).send().await.expect("request")
    }

    /// POSTs `body` to the documented path of `endpoint`.
    pub async fn call(&self, endpoint: &str, body: &Value, auth: &Auth) -> Response {
        let raw = serde_json::to_vec(body).unwrap();
        self.call_raw(DASHBOARD, endpoint, raw, auth, &[]).await
    }

    /// Calls `endpoint` and expects it to act: returns the answer.
    pub async fn accepted(&self, endpoint: &str, body: &Value, auth: &Auth) -> Value {
        let answer = expect_json(self.call(endpoint, body, auth).await, StatusCode::OK).await;
        assert_eq!(answer["ok"], true, "{answer}");
        answer
    }

    /// Calls `endpoint` and expects a refusal with this status and code: returns its message.
    pub async fn refused(
        &self,
        endpoint: &str,
        body: &Value,
        auth: &Auth,
        status: StatusCode,
        code: &str,
    ) -> String {
        expect_refusal(self.call(endpoint, body, auth).await, status, code).await
    }

    /// `credentials-issued` signed by the partner, expected to act.
    pub async fn issue(&self, body: &Value) -> Value {
        self.accepted("credentials-issued", body, &self.signed())
            .await
    }

    /// `credentials-issued` signed by the partner, expected to be refused: returns the message.
    pub async fn issue_refused(&self, body: &Value, status: StatusCode, code: &str) -> String {
        self.refused("credentials-issued", body, &self.signed(), status, code)
            .await
    }

    /// The service's credentials issued to `holder`.
    pub async fn credentials_of(&self, holder: &Holder) -> Vec<Value> {
        let listed = expect_json(
            self.fx
                .app
                .get(
                    &format!(
                        "/api/v1/services/{}/credentials?holder={}",
                        self.fx.did, holder.did
                    ),
                    &self.fx.token,
                )
                .await,
            StatusCode::OK,
        )
        .await;
        listed["data"].as_array().unwrap().clone()
    }

    /// How many rows `table` has.
    pub async fn rows(&self, table: &str) -> i64 {
        let pool = self.fx.app.db.raw_pool().await;
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        count
    }
}

/// The documented base path.
pub const DASHBOARD: &str = "/service-dashboard-backend/service/{serviceDid}";
/// The other base path in circulation.
pub const BACKEND: &str = "/service-backend/v1/service/{serviceDid}";

/// Asserts a refusal: the status, `ok: false` and the error code; returns the message.
pub async fn expect_refusal(response: Response, status: StatusCode, code: &str) -> String {
    let body = expect_json(response, status).await;
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}
