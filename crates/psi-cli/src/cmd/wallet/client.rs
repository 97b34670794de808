//! The wallet API client (`/wallet/v1` on the psi server) and its wire types.
//!
//! Holder calls are signed by the pairwise key (`X-Holder-Verkey`, `X-Holder-Signature` over the
//! exact body bytes) and carry `holderDid`, a unix-ms `timestamp` and a random `nonce`, so the
//! server can tell who is calling and refuse replays. Only `super::holder` is imported: the load
//! generator in `examples/` compiles this file too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use psi_link::{Attribute, LinkRequest, PreparedCredential};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::holder::HolderKey;

/// Header carrying the holder's base58 verkey.
pub const VERKEY_HEADER: &str = "X-Holder-Verkey";
/// Header carrying the signature over the body.
pub const SIGNATURE_HEADER: &str = "X-Holder-Signature";

/// Time for one call: the server runs a whole event (webhooks included) inside one request.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A failed wallet API call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL cannot be used.
    #[error("invalid server URL {url:?}: {detail}")]
    BadServerUrl {
        /// The URL given.
        url: String,
        /// Why it is refused.
        detail: String,
    },
    /// No answer: connection refused, timeout, broken connection.
    #[error("cannot reach the psi server at {url}: {source}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The server answered with an error (`{"error":{"code","message"}}`).
    #[error("the server refused {what} (HTTP {status}, {code}): {message}")]
    Refused {
        /// What was asked, e.g. `the interaction`.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// The error code, or `http_error` when the body had none.
        code: String,
        /// The error message, or the start of the body.
        message: String,
    },
    /// A 2xx answer whose body is not what the wallet API documents.
    #[error("the server's answer to {what} is not valid: {detail}")]
    InvalidReply {
        /// What was asked.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// A service as the wallet API presents it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub did: String,
    pub name: String,
    /// Base58 Ed25519 public key that signs the service's credentials.
    pub verkey: String,
}

/// `GET /wallet/v1/services/{did}/interactions/{actionId}`: what a wallet needs to run it.
#[derive(Debug, Clone, Deserialize)]
pub struct InteractionInfo {
    pub service: ServiceInfo,
    pub interaction: InteractionSummary,
    pub instance: InstanceInfo,
    /// What the holder presents, in order.
    #[serde(default)]
    pub required: Vec<RequiredCredential>,
    /// What the holder presents after `required`: a credential of each schema from one of its
    /// trusted issuers.
    #[serde(default)]
    pub required_schemas: Vec<RequiredSchema>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionSummary {
    pub action_id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstanceInfo {
    pub id: String,
}

/// Who vouches for a credential's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Attestation {
    /// The holder types the values (or the link pre-fills them).
    #[serde(rename = "self")]
    SelfAttested,
    /// A service issued it; the wallet presents the signed credential.
    Service,
}

/// A credential the interaction asks for by schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequiredSchema {
    pub schema_id: String,
    /// The services whose credentials of the schema count.
    pub trusted_issuers: Vec<String>,
    #[serde(default)]
    pub issued_by: Vec<IssuingAction>,
}

/// A credential the interaction asks the holder for.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequiredCredential {
    pub credential_id: String,
    pub attestation: Attestation,
    /// Whether the link's pre-filled values count (docs/protocol.md §2).
    #[serde(default)]
    pub prefill_from_qr: bool,
    #[serde(default)]
    pub attributes: Vec<AttributeSpec>,
    /// The interactions, of this service or another, that issue it.
    #[serde(default)]
    pub issued_by: Vec<IssuingAction>,
}

/// An interaction that issues a credential.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuingAction {
    pub service_did: String,
    pub service_name: String,
    pub action_id: String,
    pub action_name: String,
    /// Its default instance.
    #[serde(default)]
    pub action_instance_id: Option<String>,
}

impl IssuingAction {
    /// The request of a link that starts it.
    pub fn request(&self) -> LinkRequest {
        LinkRequest {
            id: self.action_instance_id.clone(),
            action_id: Some(self.action_id.clone()),
            service_did: Some(self.service_did.clone()),
            ..LinkRequest::default()
        }
    }
}

/// One attribute of a schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub enum_values: Option<Vec<Attribute>>,
}

/// One presented credential: typed values (self-attested) or a signed credential.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum Presented {
    SelfAttested {
        credential_id: String,
        attributes: Vec<Attribute>,
    },
    Service {
        credential_id: String,
        jwt: String,
        /// For a credential issued to another of the holder's pairwise DIDs.
        #[serde(skip_serializing_if = "Option::is_none")]
        binding: Option<Binding>,
    },
}

/// Proof that the holder controls the DID a credential was issued to: that DID's key signs the
/// service's DID, the presenting holder's DID there, the request's nonce and the credential's
/// `jti` (docs/protocol.md §6).
#[derive(Debug, Clone, Serialize)]
pub struct Binding {
    pub verkey: String,
    pub signature: String,
}

/// Where a credential is presented: the service, the holder's DID there, the request's nonce.
pub struct PresentedTo<'a> {
    pub service_did: &'a str,
    pub holder_did: &'a str,
    pub nonce: &'a str,
}

impl Binding {
    /// `key`'s proof for presenting `jti` as `to` says.
    pub fn sign(key: &HolderKey, to: &PresentedTo<'_>, jti: &str) -> Self {
        let message = format!(
            "psi-presentation\n{}\n{}\n{}\n{jti}",
            to.service_did, to.holder_did, to.nonce
        );
        Binding {
            verkey: key.verkey().to_owned(),
            signature: key.sign(message.as_bytes()),
        }
    }
}

/// A new request nonce: 16 random bytes, base64url.
pub fn new_nonce() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// `POST /wallet/v1/services/{did}/events`: run the interaction now.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRequest {
    pub action_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The link's `preparedCredentials`, as they were, so the server can check nothing changed.
    pub prefilled: Vec<PreparedCredential>,
    pub presented: Vec<Presented>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// The link's `psiSession`: the start page that offered the link follows this event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// How an event ended, as far as the holder is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventState {
    Completed,
    Failed,
    /// The third party issues later (docs/protocol.md §4.1, an empty `issuedCredentials`).
    Waiting,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Waiting => "waiting",
        }
    }
}

/// The answer to an event.
#[derive(Debug, Clone, Deserialize)]
pub struct EventReply {
    pub event_id: String,
    pub state: EventState,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub issued: Vec<IssuedCredential>,
    #[serde(default)]
    pub callback: Option<String>,
}

/// A credential the server hands to the holder.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCredential {
    pub jti: String,
    pub credential_id: String,
    pub schema_id: String,
    /// The VC-JWT; the wallet keeps the values it signs, not a copy sent beside it.
    pub jwt: String,
    /// The event that issued it (inbox only).
    #[serde(default, rename = "event_id")]
    pub event_id: Option<String>,
}

/// `POST /wallet/v1/services/{did}/inbox`: what arrived since the last look.
#[derive(Debug, Clone, Deserialize)]
pub struct InboxReply {
    #[serde(default)]
    pub credentials: Vec<IssuedCredential>,
    /// Revoked credential ids (`jti`) of this holder.
    #[serde(default)]
    pub revoked: Vec<String>,
}

/// `GET /wallet/v1/credentials/{jti}/status`.
#[derive(Debug, Clone, Deserialize)]
pub struct CredentialStatus {
    pub revoked: bool,
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

/// The fields every holder call carries, around the call's own body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Signed<'a, T: Serialize> {
    holder_did: &'a str,
    timestamp: u64,
    nonce: String,
    #[serde(flatten)]
    body: &'a T,
}

/// The inbox call has no body of its own.
#[derive(Serialize)]
struct Empty {}

/// A client for one psi server's wallet API.
#[derive(Debug, Clone)]
pub struct WalletClient {
    http: reqwest::Client,
    base: Url,
}

impl WalletClient {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<Self, ClientError> {
        let bad = |detail: String| ClientError::BadServerUrl {
            url: base.to_owned(),
            detail,
        };
        let url = Url::parse(base).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(bad("use an http:// or https:// URL".to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(WalletClient { http, base: url })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// What the wallet needs to run an interaction (`instance`: `None` for the default one).
    pub async fn interaction(
        &self,
        service_did: &str,
        action_id: &str,
        instance: Option<&str>,
    ) -> Result<InteractionInfo, ClientError> {
        let mut url = self.url(&["services", service_did, "interactions", action_id]);
        if let Some(instance) = instance {
            url.query_pairs_mut().append_pair("instance", instance);
        }
        self.get("the interaction", url).await
    }

    /// Runs an event: presents, and receives what is issued.
    /// Runs the interaction now; `nonce` is the one the request's bindings signed.
    pub async fn start_event(
        &self,
        service_did: &str,
        key: &HolderKey,
        request: &EventRequest,
        nonce: String,
    ) -> Result<EventReply, ClientError> {
        let url = self.url(&["services", service_did, "events"]);
        self.signed("the event", url, key, request, nonce).await
    }

    /// Credentials issued later and revocations, for this holder at this service.
    pub async fn inbox(
        &self,
        service_did: &str,
        key: &HolderKey,
    ) -> Result<InboxReply, ClientError> {
        let url = self.url(&["services", service_did, "inbox"]);
        self.signed("the inbox", url, key, &Empty {}, new_nonce())
            .await
    }

    /// Whether a credential is revoked.
    pub async fn status(&self, jti: &str) -> Result<CredentialStatus, ClientError> {
        let url = self.url(&["credentials", jti, "status"]);
        self.get("the credential status", url).await
    }

    /// `/wallet/v1/<segments...>`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new: the URL can be a base")
            .pop_if_empty()
            .extend(["wallet", "v1"])
            .extend(segments);
        url
    }

    async fn signed<T: Serialize, R: DeserializeOwned>(
        &self,
        what: &'static str,
        url: Url,
        key: &HolderKey,
        body: &T,
        nonce: String,
    ) -> Result<R, ClientError> {
        let envelope = Signed {
            holder_did: key.did(),
            timestamp: unix_ms(),
            nonce,
            body,
        };
        // Strings, numbers and lists only: serialising into memory cannot fail.
        let bytes = serde_json::to_vec(&envelope).expect("a wallet request always serialises");
        let request = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(VERKEY_HEADER, key.verkey())
            .header(SIGNATURE_HEADER, key.sign(&bytes))
            .body(bytes);
        self.send(what, &url, request).await
    }

    async fn get<R: DeserializeOwned>(
        &self,
        what: &'static str,
        url: Url,
    ) -> Result<R, ClientError> {
        let request = self.http.get(url.clone());
        self.send(what, &url, request).await
    }

    async fn send<R: DeserializeOwned>(
        &self,
        what: &'static str,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<R, ClientError> {
        let unreachable = |source| ClientError::Unreachable {
            url: url.to_string(),
            source,
        };
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let text = response.text().await.map_err(unreachable)?;
        if !status.is_success() {
            return Err(refused(what, status, &text));
        }
        serde_json::from_str(&text).map_err(|e| ClientError::InvalidReply {
            what,
            detail: e.to_string(),
        })
    }
}

/// The error an unsuccessful answer carries, or its status and first bytes.
fn refused(what: &'static str, status: StatusCode, text: &str) -> ClientError {
    #[derive(Deserialize)]
    struct Body {
        error: ErrorBody,
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        code: String,
        message: String,
    }
    let (code, message) = match serde_json::from_str::<Body>(text) {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => {
            let excerpt: String = text.chars().take(200).collect();
            let message = if excerpt.trim().is_empty() {
                status.canonical_reason().unwrap_or("no body").to_owned()
            } else {
                excerpt
            };
            ("http_error".to_owned(), message)
        }
    };
    ClientError::Refused {
        what,
        status: status.as_u16(),
        code,
        message,
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
