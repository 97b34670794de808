//! The high-level API: a [`Signer`] for what we send and a [`Verifier`] for what we receive.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use std::time::Duration;

use crate::body_signature::{self, SIGNATURE_HEADER};
use crate::claims::{Claims, Validation};
use crate::error::{Error, Result};
use crate::jwt::{self, Algorithm};
use crate::keys::{PrivateKey, PublicKey, SharedSecret};
use crate::standard::{self, WebhookHeaders};
use crate::time::UnixTime;

/// Name of the header that carries a Bearer token.
pub const AUTHORIZATION_HEADER: &str = "Authorization";

/// Signs outgoing calls: with an RSA private key (`X-Body-Signature` or RS256 tokens) or with a
/// shared secret (HS256 tokens only; docs/protocol.md §4 allows a SHA secret with Bearer tokens only).
///
/// ```
/// use psi_webhook::{Claims, PrivateKey, Signer, UnixTime, Validation, Verifier};
///
/// let key = PrivateKey::generate()?;
/// let verifier = Verifier::rsa(key.public_key());
/// let signer = Signer::rsa(key);
/// let body = br#"{"ok":true}"#;
///
/// let (name, value) = signer.signature_header(body)?;
/// assert_eq!(name, "X-Body-Signature");
/// verifier.verify_signature(body, Some(&value))?;
///
/// let now = UnixTime::now();
/// let claims = Claims::new(now).with_issuer("9s57yZDBqwfZHdodKXTjKH").with_jwt_id("d-1").with_body(body);
/// let token = signer.bearer_token(&claims)?;
/// assert_eq!(verifier.verify_bearer(&token, body, &Validation::new(), now)?, claims);
/// # Ok::<(), psi_webhook::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Signer {
    key: SigningKey,
}

#[derive(Debug, Clone)]
enum SigningKey {
    Rsa(PrivateKey),
    Secret(SharedSecret),
}

/// The header's `typ` of the tokens of docs/protocol.md §4.
const JWT_TYPE: &str = "JWT";

impl Signer {
    /// Signs with an RSA private key: `X-Body-Signature` and RS256 tokens.
    pub fn rsa(key: PrivateKey) -> Self {
        Self {
            key: SigningKey::Rsa(key),
        }
    }

    /// Signs HS256 tokens with a shared secret.
    pub fn shared_secret(secret: SharedSecret) -> Self {
        Self {
            key: SigningKey::Secret(secret),
        }
    }

    /// The token algorithm this signer uses.
    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            SigningKey::Rsa(_) => Algorithm::Rs256,
            SigningKey::Secret(_) => Algorithm::Hs256,
        }
    }

    /// The `X-Body-Signature` header (name, value) for `body`, the exact bytes to be sent.
    ///
    /// Fails with [`Error::SecretNotForSignature`] for a shared-secret signer.
    pub fn signature_header(&self, body: &[u8]) -> Result<(&'static str, String)> {
        match &self.key {
            SigningKey::Rsa(key) => Ok((SIGNATURE_HEADER, body_signature::sign(key, body)?)),
            SigningKey::Secret(_) => Err(Error::SecretNotForSignature),
        }
    }

    /// A compact JWT carrying `claims`, signed RS256 or HS256 by the key kind.
    pub fn bearer_token(&self, claims: &Claims) -> Result<String> {
        self.token(None, JWT_TYPE, claims)
    }

    /// [`bearer_token`](Self::bearer_token) with `kid` in the header, so a receiver holding a
    /// JWKS picks the key (for an RSA key, [`PublicKey::to_jwk`](crate::PublicKey::to_jwk)'s).
    pub fn bearer_token_with_key_id(&self, kid: &str, claims: &Claims) -> Result<String> {
        self.token(Some(kid), JWT_TYPE, claims)
    }

    /// [`bearer_token_with_key_id`](Self::bearer_token_with_key_id) with another `typ` in the
    /// header, for tokens a verifier must tell apart from others signed with the same key (an
    /// OAuth access token is `at+jwt`, RFC 9068).
    pub fn typed_token(&self, kid: &str, typ: &str, claims: &Claims) -> Result<String> {
        self.token(Some(kid), typ, claims)
    }

    fn token(&self, kid: Option<&str>, typ: &str, claims: &Claims) -> Result<String> {
        jwt::encode(
            self.algorithm(),
            (kid, typ),
            &claims.to_json(),
            |input| match &self.key {
                SigningKey::Rsa(key) => key.sign_pkcs1v15::<Sha256>(input),
                SigningKey::Secret(secret) => {
                    let mut mac = hmac_sha256(secret);
                    mac.update(input);
                    Ok(mac.finalize().into_bytes().to_vec())
                }
            },
        )
    }

    /// The `Authorization: Bearer <token>` header (name, value) for `claims`.
    pub fn authorization_header(&self, claims: &Claims) -> Result<(&'static str, String)> {
        let token = self.bearer_token(claims)?;
        Ok((AUTHORIZATION_HEADER, format!("Bearer {token}")))
    }

    /// The Standard Webhooks `webhook-signature` entry `v1,<base64>` for `body` sent as message
    /// `id` at `timestamp` (the values of `webhook-id` and `webhook-timestamp`). Several entries,
    /// space-separated, make one header while a secret is rotated.
    ///
    /// Fails with [`Error::KeyNotForStandardWebhooks`] for an RSA signer and
    /// [`Error::BadWebhookId`] for an id with `.`, white space or control characters.
    ///
    /// ```
    /// use psi_webhook::{SharedSecret, Signer, UnixTime, Verifier, WebhookHeaders, DEFAULT_TOLERANCE};
    ///
    /// let secret = SharedSecret::generate()?;
    /// let now = UnixTime::now();
    /// let body = br#"{"type":"test"}"#;
    /// let signature = Signer::shared_secret(secret.clone()).standard_webhooks_signature("msg_1", now, body)?;
    /// let headers = WebhookHeaders {
    ///     id: Some("msg_1"),
    ///     timestamp: Some(&now.as_secs().to_string()),
    ///     signature: Some(&signature),
    /// };
    /// Verifier::shared_secret(secret).verify_standard_webhooks(&headers, body, now, DEFAULT_TOLERANCE)?;
    /// # Ok::<(), psi_webhook::Error>(())
    /// ```
    pub fn standard_webhooks_signature(
        &self,
        id: &str,
        timestamp: UnixTime,
        body: &[u8],
    ) -> Result<String> {
        match &self.key {
            SigningKey::Secret(secret) => standard::sign(secret.as_bytes(), id, timestamp, body),
            SigningKey::Rsa(_) => Err(Error::KeyNotForStandardWebhooks),
        }
    }
}

impl From<PrivateKey> for Signer {
    fn from(key: PrivateKey) -> Self {
        Self::rsa(key)
    }
}

impl From<SharedSecret> for Signer {
    fn from(secret: SharedSecret) -> Self {
        Self::shared_secret(secret)
    }
}

/// Verifies incoming calls: with an RSA public key (`X-Body-Signature` or RS256 tokens) or a
/// shared secret (HS256 tokens only). A token whose `alg` does not match the key kind is
/// refused, so an RSA public key can never be used as an HMAC secret.
///
/// ```
/// use psi_webhook::{Claims, SharedSecret, Signer, UnixTime, Validation, Verifier};
///
/// let secret = SharedSecret::from_base64("/VWGnxn06N6Mv3zOgpPB7KzsRpXoFPUQXFKBnzZg9SI=")?;
/// let did = "9s57yZDBqwfZHdodKXTjKH";
/// let body = b"{}";
/// let now = UnixTime::from_secs(1_700_000_000);
/// let (_, header) = Signer::shared_secret(secret.clone())
///     .authorization_header(&Claims::new(now).with_audience(did).with_jwt_id("call-7").with_body(body))?;
///
/// let verifier = Verifier::shared_secret(secret);
/// let claims = verifier.verify_authorization(Some(&header), body, &Validation::new().expect_audience(did), now)?;
/// assert_eq!(claims.jti.as_deref(), Some("call-7")); // the caller accepts each jti once
///
/// let wrong_body = verifier.verify_authorization(Some(&header), b"{ }", &Validation::new(), now);
/// assert_eq!(wrong_body.unwrap_err().code(), "body_hash_mismatch");
/// # Ok::<(), psi_webhook::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    key: VerifyingKey,
}

#[derive(Debug, Clone)]
enum VerifyingKey {
    Rsa(PublicKey),
    Secret(SharedSecret),
}

impl Verifier {
    /// Verifies with an RSA public key: `X-Body-Signature` and RS256 tokens.
    pub fn rsa(key: PublicKey) -> Self {
        Self {
            key: VerifyingKey::Rsa(key),
        }
    }

    /// Verifies HS256 tokens with a shared secret.
    pub fn shared_secret(secret: SharedSecret) -> Self {
        Self {
            key: VerifyingKey::Secret(secret),
        }
    }

    /// The only token algorithm this verifier accepts.
    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            VerifyingKey::Rsa(_) => Algorithm::Rs256,
            VerifyingKey::Secret(_) => Algorithm::Hs256,
        }
    }

    /// Checks the `X-Body-Signature` header value (`None` when the header is absent) against
    /// the exact body bytes received.
    ///
    /// Fails with [`Error::MissingSignature`], [`Error::BadBase64`],
    /// [`Error::SignatureMismatch`], or [`Error::SecretNotForSignature`] for a shared secret.
    pub fn verify_signature(&self, body: &[u8], header: Option<&str>) -> Result<()> {
        match &self.key {
            VerifyingKey::Rsa(key) => body_signature::verify(key, body, header),
            VerifyingKey::Secret(_) => Err(Error::SecretNotForSignature),
        }
    }

    /// Verifies a compact JWT at time `now`: algorithm, signature, then the claims (`exp`
    /// required, `nbf`, `validation`'s audience and issuer, and `body_sha3_256` against `body`
    /// when the token has it). Returns the claims so the caller can enforce `jti` once-only.
    pub fn verify_bearer(
        &self,
        token: &str,
        body: &[u8],
        validation: &Validation,
        now: UnixTime,
    ) -> Result<Claims> {
        let payload = jwt::decode(token, self.algorithm(), |input, signature| {
            match &self.key {
                VerifyingKey::Rsa(key) => key.verify_pkcs1v15::<Sha256>(input, signature),
                VerifyingKey::Secret(secret) => {
                    let mut mac = hmac_sha256(secret);
                    mac.update(input);
                    // verify_slice compares in constant time.
                    mac.verify_slice(signature).is_ok()
                }
            }
        })?;
        let claims = Claims::from_json(&payload)?;
        validation.check(&claims, body, now)?;
        Ok(claims)
    }

    /// [`verify_bearer`](Self::verify_bearer) on an `Authorization` header value (`None` when
    /// absent); the scheme must be `Bearer` (any case).
    pub fn verify_authorization(
        &self,
        header: Option<&str>,
        body: &[u8],
        validation: &Validation,
        now: UnixTime,
    ) -> Result<Claims> {
        let token = header
            .and_then(|value| value.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or(Error::MissingToken)?;
        self.verify_bearer(token, body, validation, now)
    }

    /// Checks a Standard Webhooks call at time `now`: a `v1` entry of `webhook-signature` made
    /// with this secret over `{webhook-id}.{webhook-timestamp}.{body}`, then the timestamp within
    /// `tolerance` of `now`, either way. Returns the timestamp; accepting each `webhook-id` once
    /// is for the caller, since this crate keeps no state.
    ///
    /// Fails with [`Error::KeyNotForStandardWebhooks`] for an RSA key,
    /// [`Error::MissingWebhookHeader`], [`Error::BadWebhookTimestamp`], [`Error::BadWebhookId`],
    /// [`Error::WebhookSignatureMismatch`] or [`Error::WebhookTimestampOutOfTolerance`].
    pub fn verify_standard_webhooks(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
        now: UnixTime,
        tolerance: Duration,
    ) -> Result<UnixTime> {
        match &self.key {
            VerifyingKey::Secret(secret) => {
                standard::verify(secret.as_bytes(), headers, body, now, tolerance)
            }
            VerifyingKey::Rsa(_) => Err(Error::KeyNotForStandardWebhooks),
        }
    }
}

impl From<PublicKey> for Verifier {
    fn from(key: PublicKey) -> Self {
        Self::rsa(key)
    }
}

impl From<SharedSecret> for Verifier {
    fn from(secret: SharedSecret) -> Self {
        Self::shared_secret(secret)
    }
}

fn hmac_sha256(secret: &SharedSecret) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length")
}
