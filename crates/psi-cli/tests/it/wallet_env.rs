//! What the wallet tests run against: a real psi server on 127.0.0.1 port 0 over a fresh
//! database, the kit's webhook receiver verifying psi's signature with the key from the
//! public-key endpoint and replying as scripted, and the real `psi` binary.
//!
//! The database is on either backend: SQLite in a new data directory, or PostgreSQL
//! (`PSI_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`) in a new schema,
//! selected with `search_path` in the connection options and dropped at the end, even on failure.

use std::path::PathBuf;
use std::process::Output;

use psi_link::{LinkKind, LinkRequest, LinkTarget};
use psi_server::config::{Config, Overrides};
use psi_testkit::{Call, Receiver};
use psi_webhook::{Claims, PublicKey, SIGNATURE_HEADER, SharedSecret, Signer, UnixTime, Verifier};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{Backend, PgSchema, random_master_key};

pub const ADMIN_TOKEN: &str = "wallet-test-admin-token-0123456789";

/// How the receiver answers the next interaction webhook calls.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A success reply issuing these credentials: `(credentialId, [(name, value)])`.
    Issue(Vec<(String, Vec<(String, String)>)>),
    /// A success reply with an empty `issuedCredentials`: the service issues later.
    Later,
    /// A success reply revoking credentials by `jti`, issuing nothing.
    Revoke(Vec<String>),
    /// A failure reply with this message and log data.
    Fail(String),
}

/// The ids of the seeded service and its objects.
#[derive(Debug, Clone)]
pub struct Seed {
    pub did: String,
    /// Self-attested, pre-fillable: `Name` and `Email`.
    pub contact: String,
    /// Service-attested: `Level`.
    pub member: String,
    /// Requires `contact` (pre-fill from QR), issues `member`, webhook to the receiver.
    pub join: String,
    /// Requires `member` (only last), issues nothing, webhook to the receiver.
    pub enter: String,
}

/// A server, a receiver and a wallet file for one test.
pub struct Env {
    runtime: tokio::runtime::Runtime,
    app: Option<psi_server::App>,
    pub url: String,
    /// `/hook`: the interaction webhook; `/request.json`: a link's `sourceURL` target.
    receiver: Receiver,
    http: reqwest::Client,
    pub dir: TempDir,
    pub wallet: PathBuf,
    /// `None` on SQLite; dropped after the server stops.
    schema: Option<PgSchema>,
}

impl Env {
    /// Starts the server (on SQLite) and the receiver.
    pub fn start() -> Env {
        Env::start_on(Backend::Sqlite)
    }

    /// Starts the server on `backend` and the receiver.
    pub fn start_on(backend: Backend) -> Env {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("temporary directory");
        let config_path = dir.path().join("psi.toml");
        let data_dir = dir.path().join("data");
        let schema = runtime.block_on(PgSchema::for_backend(backend, "psi_wallet"));
        let database = match &schema {
            Some(schema) => format!(
                "database_url = {:?}\nmaster_key = \"{}\"\n",
                schema.url(),
                random_master_key()
            ),
            None => String::new(),
        };
        std::fs::write(
            &config_path,
            format!(
                "listen = \"127.0.0.1:0\"\ndata_dir = {data_dir:?}\nadmin_token = \"{ADMIN_TOKEN}\"\n\
                 log_level = \"warn\"\n{database}[outbound]\nallow_loopback = true\n"
            ),
        )
        .expect("write the configuration");
        let config =
            Config::load(Some(&config_path), &Overrides::default()).expect("configuration");
        let app = runtime
            .block_on(psi_server::build(config))
            .expect("the server starts");
        let receiver = runtime.block_on(Receiver::start());
        let env = Env {
            url: format!("http://{}", app.addr),
            app: Some(app),
            runtime,
            receiver,
            http: reqwest::Client::new(),
            wallet: dir.path().join("wallet.json"),
            dir,
            schema,
        };
        env.reply(Reply::Later);
        env
    }

    /// A management API call as the admin; asserts a 2xx answer and returns its JSON.
    pub fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.api_status(method, path, body);
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    /// A management API call as the admin: status and JSON body.
    pub fn api_status(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        self.runtime.block_on(async {
            let mut request = self
                .http
                .request(method, format!("{}{path}", self.url))
                .bearer_auth(ADMIN_TOKEN);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("the server answers");
            let status = response.status();
            let text = response.text().await.expect("a body");
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        })
    }

    pub fn post(&self, path: &str, body: Value) -> Value {
        self.api(reqwest::Method::POST, path, Some(body))
    }

    pub fn get(&self, path: &str) -> Value {
        self.api(reqwest::Method::GET, path, None)
    }

    /// A service with schemas, definitions and the two interactions of [`Seed`].
    pub fn seed(&self) -> Seed {
        let did = self.post("/api/v1/services", json!({"name": "Wallet test service"}))["did"]
            .as_str()
            .expect("a DID")
            .to_owned();
        let base = format!("/api/v1/services/{did}");
        let schema = |name: &str, attributes: &[&str]| {
            let attributes: Vec<Value> = attributes
                .iter()
                .map(|a| json!({"name": a, "type": "text"}))
                .collect();
            let body = json!({"name": name, "version": "1.0", "attributes": attributes});
            self.post(&format!("{base}/schemas"), body)["schema_id"]
                .as_str()
                .expect("a schema id")
                .to_owned()
        };
        let definition = |schema: &str, tag: &str, attestation: &str| {
            let body = json!({"schema": schema, "tag": tag, "attestation": attestation});
            self.post(&format!("{base}/credential-definitions"), body)["credential_id"]
                .as_str()
                .expect("a credential id")
                .to_owned()
        };
        let contact = definition(&schema("Contact", &["Name", "Email"]), "contact", "self");
        let member = definition(&schema("Member", &["Level"]), "member", "service");
        let webhook = json!({"url": self.receiver.url("/hook"), "key": "default",
                             "auth": "signature", "timeout_ms": 5000});
        let interaction = |name: &str, required: Value, issued: Value| {
            let body = json!({"name": name, "required_credentials": required,
                              "issued_credentials": issued, "webhook": webhook});
            self.post(&format!("{base}/interactions"), body)["id"]
                .as_str()
                .expect("an interaction id")
                .to_owned()
        };
        let join = interaction(
            "Join",
            json!([{"credential_id": contact, "prefill_from_qr": true}]),
            json!([member]),
        );
        let enter = interaction(
            "Enter",
            json!([{"credential_id": member, "only_last": true}]),
            json!([]),
        );
        let pem = self.runtime.block_on(async {
            let url = format!(
                "{}/service-dashboard-backend/service/{did}/public-info/public-key/default",
                self.url
            );
            let response = self.http.get(url).send().await.expect("public key");
            assert!(response.status().is_success());
            response.text().await.expect("a PEM")
        });
        let key = PublicKey::from_pem(&pem).expect("an RSA public key");
        self.receiver.check(move |call| verify_hook(&key, call));
        Seed {
            did,
            contact,
            member,
            join,
            enter,
        }
    }

    /// Lets a third party issue the seed's member credential from outside with a new SHA secret
    /// key (docs/protocol.md §4.3); returns the secret.
    pub fn authorise_issuer(&self, seed: &Seed) -> SharedSecret {
        let base = format!("/api/v1/services/{}", seed.did);
        let key = self.post(
            &format!("{base}/keys"),
            json!({"name": "crm", "type": "sha_secret"}),
        );
        let path = format!("{base}/credential-definitions/{}", seed.member);
        self.api(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"issuers": ["crm"]})),
        );
        SharedSecret::from_base64(key["secret"].as_str().expect("a generated secret"))
            .expect("a SHA secret")
    }

    /// The third party's `credentials-issued` call for a waiting event, with an HS256 Bearer
    /// token; returns psi's answer.
    pub fn credentials_issued(
        &self,
        seed: &Seed,
        secret: &SharedSecret,
        holder: &str,
        event: &str,
        level: &str,
    ) -> Value {
        let body = json!({
            "serviceDid": seed.did, "subscriberConnectDid": holder, "subscriberEventId": event,
            "credentials": [{"credentialId": seed.member, "fields": [{"name": "Level", "value": level}],
                             "utcIssuedAt": 1_700_000_000_000_i64, "revoked": false}],
            "revokedCredentials": [], "ok": true
        });
        self.signed_credentials_issued(seed, secret, event, body)
    }

    /// The third party's `credentials-issued` call pushing a member credential at `level` to
    /// `holder` through the push-from-server interaction `interaction` (`actionTemplate`, no
    /// event), with an HS256 Bearer token; returns psi's answer.
    pub fn push_credentials(
        &self,
        seed: &Seed,
        secret: &SharedSecret,
        interaction: &str,
        holder: &str,
        level: &str,
    ) -> Value {
        let body = json!({
            "serviceDid": seed.did, "subscriberConnectDid": holder,
            "actionTemplate": interaction, "actionParams": [],
            "credentials": [{"credentialId": seed.member, "fields": [{"name": "Level", "value": level}]}]
        });
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos();
        self.signed_credentials_issued(seed, secret, &format!("push-{level}-{nanos}"), body)
    }

    /// POSTs `body` to the service's `webhook-accept/credentials-issued` with an HS256 Bearer
    /// token whose `jti` is `jwt_id`; asserts a 2xx answer and returns it.
    fn signed_credentials_issued(
        &self,
        seed: &Seed,
        secret: &SharedSecret,
        jwt_id: &str,
        body: Value,
    ) -> Value {
        let body = body.to_string();
        let claims = Claims::new(UnixTime::now())
            .with_audience(seed.did.clone())
            .with_jwt_id(jwt_id.to_owned())
            .with_body(body.as_bytes());
        let (name, value) = Signer::shared_secret(secret.clone())
            .authorization_header(&claims)
            .expect("a token");
        let url = format!(
            "{}/service-dashboard-backend/service/{}/webhook-accept/credentials-issued",
            self.url, seed.did
        );
        self.runtime.block_on(async {
            let response = self
                .http
                .post(url)
                .header(name, value)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("the server answers");
            let status = response.status();
            let answer: Value = response.json().await.expect("JSON");
            assert!(status.is_success(), "{status} {answer}");
            answer
        })
    }

    /// Scripts the receiver's next replies.
    pub fn reply(&self, reply: Reply) {
        self.receiver
            .on_json("/hook", move |request| hook_reply(&reply, request));
    }

    /// What `GET <receiver>/request.json` serves.
    pub fn serve_source(&self, request: Value) -> String {
        self.receiver
            .on("/request.json", psi_testkit::Reply::json(request));
        self.receiver.url("/request.json")
    }

    /// Bodies of the verified webhook calls so far.
    pub fn calls(&self) -> Vec<Value> {
        let calls = self.receiver.calls_to("/hook");
        calls.iter().map(Call::json).collect()
    }

    /// An app link to an interaction of the seed's service, with pre-filled values
    /// `(credentialId, name, value)` and a callback.
    pub fn link(
        &self,
        seed: &Seed,
        action: &str,
        prefill: &[(&str, &str, &str)],
        callback: Option<&str>,
    ) -> String {
        let mut request = LinkRequest {
            action_id: Some(action.to_owned()),
            service_did: Some(seed.did.clone()),
            callback: callback.map(str::to_owned),
            ..Default::default()
        };
        for (credential, name, value) in prefill {
            request.set_prefilled(credential, name, value);
        }
        link_of(&request)
    }

    /// Runs `psi wallet ARGS` with this test's wallet file and server.
    pub fn wallet(&self, args: &[&str]) -> Output {
        self.psi_with(args, &[("PSI_WALLET", self.wallet.to_str().unwrap())])
    }

    /// Runs `psi wallet ARGS` with these environment variables (and `PSI_SERVER`).
    pub fn psi_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = assert_cmd::Command::new(env!("CARGO_BIN_EXE_psi"));
        command
            .arg("wallet")
            .args(args)
            .env_remove("PSI_WALLET")
            .env_remove("XDG_DATA_HOME")
            .env("PSI_SERVER", &self.url)
            .write_stdin("");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().expect("the psi binary runs")
    }

    /// Runs `psi wallet ARGS --json`, asserts the exit status, returns the JSON printed.
    pub fn wallet_json(&self, args: &[&str], status: i32) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let output = self.wallet(&args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(status),
            "stdout: {stdout}\nstderr: {stderr}"
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(app) = self.app.take() {
            let _ = self.runtime.block_on(app.stop());
        }
        // Only once the server stopped using it.
        drop(self.schema.take());
    }
}

/// The app link (production domain) carrying `request`.
pub fn link_of(request: &LinkRequest) -> String {
    let target = LinkTarget::env(psi_link::Environment::Production);
    psi_link::encode(request, &target, LinkKind::App).expect("a valid request")
}

/// The interaction webhook's check: `X-Body-Signature` over the raw body (a 401 otherwise).
fn verify_hook(key: &PublicKey, call: &Call) -> Result<(), psi_testkit::Reply> {
    if call.path != "/hook" {
        return Ok(());
    }
    Verifier::rsa(key.clone())
        .verify_signature(&call.body, call.header(SIGNATURE_HEADER))
        .map_err(|e| psi_testkit::Reply::text(401, e.to_string()))
}

/// The interaction webhook's answer to `request` (docs/protocol.md §4.1 reply shapes).
fn hook_reply(reply: &Reply, request: &Value) -> psi_testkit::Reply {
    let event = request["actionEventId"].clone();
    let success = |issued: Value, revoked: Value| {
        json!({"serviceDid": request["publicServiceDid"], "subscriberConnectDid": request["subscriberConnectDid"],
               "actionEventId": event, "issuedCredentials": issued, "revokedCredentials": revoked, "ok": true})
    };
    let body = match reply {
        Reply::Issue(credentials) => {
            let issued: Vec<Value> = credentials
                .iter()
                .map(|(credential_id, fields)| {
                    let fields: Vec<Value> = fields
                        .iter()
                        .map(|(name, value)| json!({"name": name, "value": value}))
                        .collect();
                    json!({"credentialId": credential_id, "fields": fields,
                           "utcIssuedAt": 1_700_000_000_000_i64, "revoked": false})
                })
                .collect();
            success(json!(issued), json!([]))
        }
        Reply::Later => success(json!([]), json!([])),
        Reply::Revoke(jtis) => success(json!([]), json!(jtis)),
        Reply::Fail(message) => json!({"ok": false, "type": "failure", "message": message,
            "actionEventId": event,
            "integrationOutput": {"integrationId": "crm", "logData": "member list is closed"}}),
    };
    psi_testkit::Reply::json(body)
}
