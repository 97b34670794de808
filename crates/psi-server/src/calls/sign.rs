//! The authentication headers of a call (docs/protocol.md §4, Standard Webhooks), with the key
//! overlap of a rotation (deliveries; the engine's webhooks have no overlap).
//!
//! - `signature` auth: `X-Body-Signature` with the endpoint's key; during a rotation's overlap
//!   also `X-Body-Signature-Previous` with the key it replaced, so a receiver that still has only
//!   the old public key keeps verifying until it switches.
//! - `bearer` auth: `Authorization: Bearer <JWT>` (`iss` the service DID, `jti` the call's id,
//!   `body_sha3_256`) signed with the endpoint's key; during the overlap receivers should accept
//!   a token from either key.
//! - `standard_webhooks` auth: `webhook-id` (the message id, the same on every retry, so a
//!   receiver acts on a message once), `webhook-timestamp` and `webhook-signature` with a `v1`
//!   signature by the endpoint's SHA secret; during the overlap a second `v1` signature by the
//!   secret it replaced, in the same header, as the specification rotates secrets.
//!
//! A replaced key that cannot sign with the current scheme (a rotation that also changed the
//! scheme) adds nothing.

use std::sync::Arc;

use psi_outbound::header::{HeaderMap, HeaderName, HeaderValue};
use psi_webhook::{
    Algorithm, Claims, Signer, UnixTime, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
};

use crate::domain::AuthScheme;

/// The header carrying the previous key's signature during a rotation's overlap.
pub const PREVIOUS_SIGNATURE_HEADER: &str = "X-Body-Signature-Previous";

/// What authenticates one call.
pub struct Credentials {
    pub current: Arc<Signer>,
    /// The key a rotation replaced, while its overlap lasts.
    pub previous: Option<Arc<Signer>>,
    pub auth: AuthScheme,
}

impl Credentials {
    /// Whether signing is slow enough (RSA, about 2 ms) to keep off the async threads.
    pub fn is_expensive(&self) -> bool {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .any(|signer| signer.algorithm() == Algorithm::Rs256)
    }

    /// The authentication headers for `body` (see the module documentation): `issuer` is the
    /// service's DID, `call_id` names this one call (a token's `jti`), `message_id` the message
    /// on every retry (`webhook-id`). `Err`: why it cannot be signed.
    pub fn headers(
        &self,
        issuer: &str,
        call_id: &str,
        message_id: &str,
        body: &[u8],
    ) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::new();
        match self.auth {
            AuthScheme::Signature => {
                let (name, value) = self
                    .current
                    .signature_header(body)
                    .map_err(|e| e.to_string())?;
                insert(&mut headers, name, &value)?;
                if let Some(Ok((_, value))) =
                    self.previous.as_ref().map(|p| p.signature_header(body))
                {
                    insert(&mut headers, PREVIOUS_SIGNATURE_HEADER, &value)?;
                }
            }
            AuthScheme::Bearer => {
                let claims = Claims::new(UnixTime::now())
                    .with_issuer(issuer)
                    .with_jwt_id(call_id)
                    .with_body(body);
                let (name, value) = self
                    .current
                    .authorization_header(&claims)
                    .map_err(|e| e.to_string())?;
                insert(&mut headers, name, &value)?;
            }
            AuthScheme::StandardWebhooks => {
                let now = UnixTime::now();
                let sign =
                    |signer: &Signer| signer.standard_webhooks_signature(message_id, now, body);
                let mut signatures = sign(&self.current).map_err(|e| e.to_string())?;
                if let Some(Ok(previous)) = self.previous.as_deref().map(sign) {
                    signatures = format!("{signatures} {previous}");
                }
                insert(&mut headers, WEBHOOK_ID_HEADER, message_id)?;
                insert(
                    &mut headers,
                    WEBHOOK_TIMESTAMP_HEADER,
                    &now.as_secs().to_string(),
                )?;
                insert(&mut headers, WEBHOOK_SIGNATURE_HEADER, &signatures)?;
            }
        }
        Ok(headers)
    }
}

pub(super) fn insert(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), String> {
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
    let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
    headers.insert(name, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use psi_webhook::{
        DEFAULT_TOLERANCE, PrivateKey, SharedSecret, Validation, Verifier, WebhookHeaders,
    };

    fn credentials(auth: AuthScheme, previous: bool) -> (Credentials, PrivateKey, PrivateKey) {
        let new = PrivateKey::generate().unwrap();
        let old = PrivateKey::generate().unwrap();
        let credentials = Credentials {
            current: Arc::new(Signer::rsa(new.clone())),
            previous: previous.then(|| Arc::new(Signer::rsa(old.clone()))),
            auth,
        };
        (credentials, new, old)
    }

    #[test]
    fn during_an_overlap_each_signature_verifies_with_its_own_key_only() {
        let (credentials, new, old) = credentials(AuthScheme::Signature, true);
        let body = br#"{"type":"test"}"#;
        let headers = credentials.headers("did", "a1", "m1", body).unwrap();
        let current = headers["x-body-signature"].to_str().unwrap();
        let previous = headers["x-body-signature-previous"].to_str().unwrap();
        let with = |key: &PrivateKey, sig: &str| {
            Verifier::rsa(key.public_key()).verify_signature(body, Some(sig))
        };
        assert!(with(&new, current).is_ok());
        assert!(with(&old, previous).is_ok());
        assert!(with(&old, current).is_err());
        assert!(with(&new, previous).is_err());
        assert!(credentials.is_expensive());
    }

    #[test]
    fn without_an_overlap_only_the_current_signature_is_sent() {
        let (credentials, _, _) = credentials(AuthScheme::Signature, false);
        let headers = credentials.headers("did", "a1", "m1", b"{}").unwrap();
        assert!(headers.contains_key("x-body-signature"));
        assert!(!headers.contains_key("x-body-signature-previous"));
    }

    #[test]
    fn bearer_tokens_carry_the_call_id_the_issuer_and_the_body_hash() {
        let secret = SharedSecret::generate().unwrap();
        let credentials = Credentials {
            current: Arc::new(Signer::shared_secret(secret.clone())),
            previous: None,
            auth: AuthScheme::Bearer,
        };
        assert!(!credentials.is_expensive());
        let body = br#"{"type":"test"}"#;
        let headers = credentials
            .headers("the-did", "attempt-7", "m1", body)
            .unwrap();
        let claims = Verifier::shared_secret(secret)
            .verify_authorization(
                headers["authorization"].to_str().ok(),
                body,
                &Validation::new().expect_issuer("the-did"),
                UnixTime::now(),
            )
            .unwrap();
        assert_eq!(claims.jti.as_deref(), Some("attempt-7"));
        assert!(claims.body_sha3_256.is_some());
    }

    #[test]
    fn standard_webhooks_name_the_message_and_sign_with_both_secrets_during_an_overlap() {
        let (new, old) = (
            SharedSecret::generate().unwrap(),
            SharedSecret::generate().unwrap(),
        );
        let credentials = Credentials {
            current: Arc::new(Signer::shared_secret(new.clone())),
            previous: Some(Arc::new(Signer::shared_secret(old.clone()))),
            auth: AuthScheme::StandardWebhooks,
        };
        assert!(!credentials.is_expensive());
        let body = br#"{"type":"test"}"#;
        let headers = credentials.headers("did", "a1", "m1", body).unwrap();
        let value = |name: &str| headers[name].to_str().unwrap();
        assert_eq!(value("webhook-id"), "m1");
        assert_eq!(value("webhook-signature").split(' ').count(), 2);
        let received = WebhookHeaders {
            id: Some(value("webhook-id")),
            timestamp: Some(value("webhook-timestamp")),
            signature: Some(value("webhook-signature")),
        };
        for secret in [new, old] {
            Verifier::shared_secret(secret)
                .verify_standard_webhooks(&received, body, UnixTime::now(), DEFAULT_TOLERANCE)
                .unwrap();
        }
        let stranger = Verifier::shared_secret(SharedSecret::generate().unwrap());
        assert!(
            stranger
                .verify_standard_webhooks(&received, body, UnixTime::now(), DEFAULT_TOLERANCE)
                .is_err()
        );
    }

    #[test]
    fn a_replaced_key_of_another_kind_adds_nothing_and_fails_nothing() {
        let key = PrivateKey::generate().unwrap();
        let secret = SharedSecret::generate().unwrap();
        let signature = Credentials {
            current: Arc::new(Signer::rsa(key.clone())),
            previous: Some(Arc::new(Signer::shared_secret(secret.clone()))),
            auth: AuthScheme::Signature,
        };
        let headers = signature.headers("did", "a1", "m1", b"{}").unwrap();
        assert!(!headers.contains_key("x-body-signature-previous"));
        let standard = Credentials {
            current: Arc::new(Signer::shared_secret(secret)),
            previous: Some(Arc::new(Signer::rsa(key))),
            auth: AuthScheme::StandardWebhooks,
        };
        let headers = standard.headers("did", "a1", "m1", b"{}").unwrap();
        assert_eq!(
            headers["webhook-signature"]
                .to_str()
                .unwrap()
                .split(' ')
                .count(),
            1
        );
    }

    #[test]
    fn a_key_that_cannot_sign_with_the_scheme_is_an_error() {
        let cases = [
            (
                Signer::shared_secret(SharedSecret::generate().unwrap()),
                AuthScheme::Signature,
                "shared secret",
            ),
            (
                Signer::rsa(PrivateKey::generate().unwrap()),
                AuthScheme::StandardWebhooks,
                "not an RSA key",
            ),
        ];
        for (signer, auth, says) in cases {
            let credentials = Credentials {
                current: Arc::new(signer),
                previous: None,
                auth,
            };
            let error = credentials.headers("did", "a1", "m1", b"{}").unwrap_err();
            assert!(error.contains(says), "{error}");
        }
    }
}
