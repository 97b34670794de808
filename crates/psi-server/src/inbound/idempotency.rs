//! Repeated calls: the same call twice (the same body to the same endpoint, or the same
//! `Idempotency-Key` header) acts once and gets the same answer.
//!
//! A successful answer is stored under the body's hash and, when given, the key, in the
//! transaction that acts on the call. A later call finds it before acting; two calls racing both
//! act in their transactions, and the one whose answer cannot be stored (the other stored first)
//! rolls back and replays the other's answer. Refusals are not stored: they change nothing, so
//! repeating one refuses it again.
//!
//! How long an answer is kept:
//! - under the body of a call authenticated by `X-Body-Signature`: for good. The signature holds
//!   no time and never expires, so the same bytes can be sent again at any time; the stored
//!   answer is what keeps such a replay (of a push above all, which names no event) from acting
//!   again. A signed call answered from an answer kept for less makes that answer permanent.
//! - everything else (bodies of calls authenticated by a Bearer token or Standard Webhooks, and
//!   `Idempotency-Key`s): [`RETENTION_MS`], longer than a token or a `webhook-timestamp` is
//!   accepted (`[inbound] token_exp_horizon` at most 12 hours, `standard_webhooks_tolerance` at
//!   most 1 hour), so that a later replay is refused by its time.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use sqlx::{Any, Transaction};

use crate::db::inbound::{self, NewAnswer};
use crate::db::{Db, now_ms};
use crate::http::error::ApiError;
use crate::scope::ServiceScope;

/// The header naming a call, as in the IETF `Idempotency-Key` draft.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";
/// How long answers are kept unless kept for good: 24 hours.
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 255;

/// An answer to a call, as given and as replayed.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    /// JSON.
    pub body: String,
    pub replayed: bool,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.body,
        )
            .into_response();
        if self.replayed {
            response
                .headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
        }
        response
    }
}

/// How one call is recognised when it comes again.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// base64url SHA-256 of the endpoint's name and the body.
    body_sha256: String,
    /// `body:<hash>`, then `key:<Idempotency-Key>` when given.
    request_keys: Vec<String>,
    /// Keep the answer under the body for good (the call is signed with `X-Body-Signature`).
    keep_body_forever: bool,
}

impl Idempotency {
    /// For a call to `endpoint` with these headers and body, whose answer is kept for good under
    /// the body when `keep_body_forever`. A malformed key: 400.
    pub fn new(
        endpoint: &str,
        headers: &HeaderMap,
        body: &[u8],
        keep_body_forever: bool,
    ) -> Result<Self, ApiError> {
        let mut hasher = Sha256::new();
        hasher.update(endpoint.as_bytes());
        hasher.update(b"\n");
        hasher.update(body);
        let body_sha256 = URL_SAFE_NO_PAD.encode(hasher.finalize());
        let mut request_keys = vec![format!("body:{body_sha256}")];
        if let Some(value) = headers.get(IDEMPOTENCY_KEY) {
            let key = value
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|key| (1..=MAX_KEY_LEN).contains(&key.len()))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "`Idempotency-Key` must be 1 to {MAX_KEY_LEN} visible ASCII characters"
                    ))
                })?;
            request_keys.push(format!("key:{key}"));
        }
        Ok(Idempotency {
            body_sha256,
            request_keys,
            keep_body_forever,
        })
    }

    /// The answer an earlier call with this body or key was given, if any (kept for good from
    /// now on when this call is signed). A key that named a call with another body: 422.
    pub async fn earlier(&self, db: &Db, scope: &ServiceScope) -> Result<Option<Answer>, ApiError> {
        let found = inbound::answers(db, scope, &self.request_keys).await?;
        if found.iter().any(|a| a.body_sha256 != self.body_sha256) {
            return Err(ApiError::Validation(
                "this `Idempotency-Key` was used for another request: use a new key for every \
                 distinct call"
                    .into(),
            ));
        }
        let Some(answer) = found.into_iter().next() else {
            return Ok(None);
        };
        if self.keep_body_forever {
            inbound::keep_forever(db, scope, &self.request_keys[0]).await?;
        }
        Ok(Some(Answer {
            status: u16::try_from(answer.status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK),
            body: answer.response,
            replayed: true,
        }))
    }

    /// Stores `answer` in the transaction acting on the call; false when a call with this body
    /// or key stored its answer first (roll back and replay that one).
    pub async fn record(
        &self,
        tx: &mut Transaction<'_, Any>,
        scope: &ServiceScope,
        answer: &Answer,
    ) -> sqlx::Result<bool> {
        let now = now_ms();
        let mut all = true;
        for (i, request_key) in self.request_keys.iter().enumerate() {
            let forever = i == 0 && self.keep_body_forever;
            let new = NewAnswer {
                request_key,
                body_sha256: &self.body_sha256,
                status: answer.status.as_u16(),
                response: &answer.body,
                now,
                expires_at: (!forever).then_some(now + RETENTION_MS),
            };
            all &= inbound::record_answer(tx, scope, &new).await?;
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_body_is_one_call_per_endpoint_and_a_key_adds_a_second_name() {
        let headers = HeaderMap::new();
        let a = Idempotency::new("issued", &headers, b"{}", false).unwrap();
        let b = Idempotency::new("issued", &headers, b"{}", true).unwrap();
        let other = Idempotency::new("failed", &headers, b"{}", false).unwrap();
        assert_eq!(a.request_keys, b.request_keys);
        assert_ne!(a.request_keys, other.request_keys);
        let mut keyed = HeaderMap::new();
        keyed.insert(IDEMPOTENCY_KEY, "order-7".parse().unwrap());
        let c = Idempotency::new("issued", &keyed, b"{}", false).unwrap();
        assert_eq!(c.request_keys[1], "key:order-7");
    }

    #[test]
    fn an_empty_or_overlong_key_is_refused() {
        for bad in ["", &"k".repeat(MAX_KEY_LEN + 1)] {
            let mut headers = HeaderMap::new();
            headers.insert(IDEMPOTENCY_KEY, bad.parse().unwrap());
            assert!(matches!(
                Idempotency::new("issued", &headers, b"{}", false),
                Err(ApiError::BadRequest(_))
            ));
        }
    }
}
