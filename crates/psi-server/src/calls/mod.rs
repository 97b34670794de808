//! One signed outbound call, as the engine's webhooks (interaction, credential check) and the
//! delivery workers make it: the key opened once per process ([`Keys`]), the authentication
//! headers of the endpoint's scheme with a rotation's overlap ([`sign`]), signed off the async
//! threads when the key is RSA, sent through the guarded client within the endpoint's timeout,
//! and the answer kept as an excerpt ([`Made`]), whatever happens.

pub mod sign;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use psi_outbound::header::HeaderMap;
use psi_outbound::{Bytes, OutboundClient, OutboundError};
use psi_webhook::{PrivateKey, SharedSecret, Signer};

use crate::crypto::MasterKey;
use crate::crypto::opened::OpenedKeys;
use crate::db::keys::{KeyKind, SigningMaterial};
use crate::db::{self, Db, now_ms};
use crate::http::AppState;
use crate::scope::ServiceScope;
pub use sign::Credentials;

/// How much of an answer a call keeps.
pub const EXCERPT_BYTES: usize = 1024;

/// Why a call did not give a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("its key {key:?} cannot sign: {reason}")]
    Key { key: String, reason: String },
    #[error("the call cannot be signed: {0}")]
    Sign(String),
    #[error("{0}")]
    Send(#[from] OutboundError),
    #[error("it answered HTTP {0}")]
    Status(u16),
    #[error("its answer is not the expected JSON: {0}")]
    Json(String),
}

impl CallError {
    /// What a holder is told: why, without URLs or internals.
    pub fn holder_reason(&self) -> String {
        match self {
            CallError::Key { .. } | CallError::Sign(_) => "is not configured correctly".into(),
            CallError::Send(OutboundError::Timeout { .. }) => "did not answer in time".into(),
            CallError::Send(_) => "could not be reached".into(),
            CallError::Status(status) => format!("answered HTTP {status}"),
            CallError::Json(_) => "answered with something that is not the expected JSON".into(),
        }
    }
}

/// The keys that sign calls, each opened once per process (`AppState::opened_keys`). Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct Keys {
    db: Db,
    master_key: MasterKey,
    opened: OpenedKeys,
}

/// A signer, or why the key cannot sign (which fails the call, not psi). `Err` of the outer
/// result: psi failed (the database, a sealed key that does not open).
pub type Opened = anyhow::Result<Result<Arc<Signer>, CallError>>;

impl Keys {
    pub fn new(state: &AppState) -> Self {
        Keys {
            db: state.db.clone(),
            master_key: state.master_key.clone(),
            opened: state.opened_keys.clone(),
        }
    }

    /// The scoped service's key `name`, through the configuration cache, which deleting the key
    /// makes stale: a deleted key stops signing at once (in other processes, once they hear).
    pub async fn named(&self, scope: &ServiceScope, name: &str) -> Opened {
        let material = db::keys::signing_material(&self.db, scope, name).await?;
        self.open(name, material)
    }

    /// Key row `id` (delivery claims name endpoint keys by id; key rows never change under an
    /// id, so an open one is used without reading its row).
    pub async fn by_id(&self, id: &str) -> Opened {
        if let Some(signer) = self.opened.open_signer(id) {
            return Ok(Ok(signer));
        }
        let material = db::keys::signing_material_by_id(&self.db, id).await?;
        self.open(id, material)
    }

    fn open(&self, key: &str, material: Option<SigningMaterial>) -> Opened {
        let cannot = |reason: &str| {
            Ok(Err(CallError::Key {
                key: key.to_owned(),
                reason: reason.to_owned(),
            }))
        };
        let Some(SigningMaterial { id, kind, sealed }) = material else {
            return cannot("it does not exist");
        };
        let Some(sealed) = sealed.filter(|_| kind != KeyKind::RsaPublicKey) else {
            return cannot("it is a third party's public key");
        };
        let signer = self.opened.signer(&id, || {
            let secret = self
                .master_key
                .open(id.as_bytes(), &sealed)
                .context("a sealed webhook key")?;
            let text = std::str::from_utf8(&secret).context("a sealed webhook key is not text")?;
            let signer = match kind {
                KeyKind::ShaSecret => SharedSecret::from_base64(text).map(Signer::shared_secret),
                _ => PrivateKey::from_pem(text).map(Signer::rsa),
            };
            signer.context("a stored webhook key does not parse")
        })?;
        Ok(Ok(signer))
    }
}

/// One call to make.
pub struct Call<'a> {
    pub url: &'a str,
    pub body: Bytes,
    /// What authenticates it, or why nothing can (the call is then not sent).
    pub credentials: Result<Credentials, CallError>,
    /// The service's DID: a token's `iss`.
    pub issuer: &'a str,
    /// Names this one call: a token's `jti`.
    pub call_id: &'a str,
    /// Names the message on every retry: `webhook-id`.
    pub message_id: &'a str,
    /// Headers besides authentication.
    pub headers: &'a [(&'a str, &'a str)],
    pub timeout: Duration,
}

/// A call made, whatever happened.
#[derive(Debug)]
pub struct Made {
    /// Unix milliseconds when it started.
    pub at: i64,
    pub duration_ms: i64,
    /// The answer's status, if there was an answer.
    pub status: Option<u16>,
    /// The start of the answer's body ([`EXCERPT_BYTES`]).
    pub excerpt: String,
    /// The answer's headers (none without an answer).
    pub headers: HeaderMap,
    /// The answer's body if its status was 2xx.
    pub result: Result<Bytes, CallError>,
}

impl Made {
    /// Why the call failed, for its record.
    pub fn error(&self) -> Option<String> {
        self.result.as_ref().err().map(ToString::to_string)
    }
}

/// Signs and sends `call`.
pub async fn send(outbound: &OutboundClient, call: Call<'_>) -> Made {
    let at = now_ms();
    let started = Instant::now();
    let mut made = Made {
        at,
        duration_ms: 0,
        status: None,
        excerpt: String::new(),
        headers: HeaderMap::new(),
        result: Err(CallError::Status(0)),
    };
    let (url, body, timeout) = (call.url, call.body.clone(), call.timeout);
    made.result = match headers(call).await {
        Ok(headers) => match outbound.post_json(url, body, headers, Some(timeout)).await {
            Ok(response) => {
                let status = response.status.as_u16();
                made.status = Some(status);
                made.excerpt = response.excerpt(EXCERPT_BYTES);
                made.headers = response.headers;
                if response.status.is_success() {
                    Ok(response.body)
                } else {
                    Err(CallError::Status(status))
                }
            }
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e),
    };
    made.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    made
}

/// The call's headers: authentication and the caller's own.
async fn headers(call: Call<'_>) -> Result<HeaderMap, CallError> {
    let credentials = call.credentials?;
    let (issuer, call_id, message_id, body) = (
        call.issuer.to_owned(),
        call.call_id.to_owned(),
        call.message_id.to_owned(),
        call.body,
    );
    let expensive = credentials.is_expensive();
    let sign = move || credentials.headers(&issuer, &call_id, &message_id, &body);
    let signed = if expensive {
        // RSA takes milliseconds: off the async threads.
        tokio::task::spawn_blocking(sign)
            .await
            .map_err(|e| CallError::Sign(format!("the signing task failed: {e}")))?
    } else {
        sign()
    };
    let mut headers = signed.map_err(CallError::Sign)?;
    for (name, value) in call.headers {
        sign::insert(&mut headers, name, value).map_err(CallError::Sign)?;
    }
    Ok(headers)
}
