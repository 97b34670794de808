//! Signed webhook calls: the body signed per the webhook's key and auth scheme (docs/protocol.md §4 or
//! Standard Webhooks, as `delivery::sign` signs deliveries), sent through the guarded client with
//! the webhook's timeout, and recorded whatever happens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use psi_outbound::{Bytes, OutboundError};
use psi_webhook::{PrivateKey, SharedSecret, Signer};

use crate::db::events::{CallKind, WebhookCall};
use crate::db::keys::KeyKind;
use crate::db::webhooks::Webhook;
use crate::db::{self, new_id, now_ms};
use crate::delivery::sign::Credentials;
use crate::http::AppState;
use crate::scope::ServiceScope;

/// How much of an answer a call record keeps.
const EXCERPT_BYTES: usize = 1024;

/// Why a webhook call did not give a usable answer.
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
    /// What the holder is told: why, without URLs or internals.
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

/// A call made: its record, and the answer's body if it was a 2xx.
pub struct Sent {
    pub record: WebhookCall,
    result: Result<Bytes, CallError>,
}

impl Sent {
    /// Reads a 2xx answer with `parse`; a parse error is recorded on the call.
    pub fn read<T>(
        mut self,
        parse: impl FnOnce(&[u8]) -> Result<T, serde_json::Error>,
    ) -> (WebhookCall, Result<T, CallError>) {
        let result = self
            .result
            .and_then(|body| parse(&body).map_err(|e| CallError::Json(e.to_string())));
        if let Err(e) = &result
            && self.record.error.is_none()
        {
            self.record.error = Some(e.to_string());
        }
        (self.record, result)
    }
}

/// Calls `webhook` with `body`: signed, within its timeout, recorded.
pub async fn call(
    state: &AppState,
    scope: &ServiceScope,
    webhook: &Webhook,
    kind: CallKind,
    body: Vec<u8>,
) -> anyhow::Result<Sent> {
    let id = new_id();
    let at = now_ms();
    let started = Instant::now();
    let mut record = WebhookCall {
        id,
        kind,
        url: webhook.url.clone(),
        status: None,
        duration_ms: 0,
        response_excerpt: String::new(),
        error: None,
        at,
    };
    let headers = match signer(state, scope, &webhook.key_name).await? {
        Ok(current) => Credentials {
            current,
            previous: None,
            auth: webhook.auth,
        }
        // One call, not retried: its id is both the token's `jti` and the message id.
        .headers(scope.did().as_str(), &record.id, &record.id, &body)
        .map_err(CallError::Sign),
        Err(e) => Err(e),
    };
    let timeout = Duration::from_millis(u64::try_from(webhook.timeout_ms).unwrap_or(0));
    let result = match headers {
        Ok(headers) => state
            .outbound
            .post_json(&webhook.url, body, headers, Some(timeout))
            .await
            .map_err(CallError::from),
        Err(e) => Err(e),
    };
    record.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let result = match result {
        Ok(response) => {
            record.status = Some(response.status.as_u16());
            record.response_excerpt = response.excerpt(EXCERPT_BYTES);
            if response.is_success() {
                Ok(response.body)
            } else {
                Err(CallError::Status(response.status.as_u16()))
            }
        }
        Err(e) => Err(e),
    };
    if let Err(e) = &result {
        record.error = Some(e.to_string());
    }
    Ok(Sent { record, result })
}

/// The signer of the scoped service's key `name`: an RSA key pair or a SHA secret.
async fn signer(
    state: &AppState,
    scope: &ServiceScope,
    name: &str,
) -> anyhow::Result<Result<Arc<Signer>, CallError>> {
    let key_error = |reason: &str| {
        Ok(Err(CallError::Key {
            key: name.to_owned(),
            reason: reason.to_owned(),
        }))
    };
    let Some((id, kind, sealed)) = db::keys::signing_material(&state.db, scope, name).await? else {
        return key_error("it does not exist");
    };
    let Some(sealed) = sealed.filter(|_| kind != KeyKind::RsaPublicKey) else {
        return key_error("it is a third party's public key");
    };
    let signer = state.opened_keys.signer(&id, || {
        let secret = state
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
