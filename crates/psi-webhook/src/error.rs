//! The one error type of this crate.

use crate::jwt::Algorithm;

/// Boxed cause from a dependency, kept as a `source` without exposing the dependency's
/// error type in this crate's API.
pub(crate) type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when loading keys, signing or verifying.
///
/// Each variant has a stable snake_case [`code`](Error::code) for logs and HTTP error bodies.
/// Messages never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PEM document could not be read as the expected kind of RSA key.
    #[error("not a valid {expected} PEM: {cause}")]
    BadPem {
        /// What the caller asked for, e.g. "RSA private key (PKCS#8 or PKCS#1)".
        expected: &'static str,
        /// Why decoding failed.
        #[source]
        cause: Cause,
    },
    /// A shared secret shorter than HS256 allows (RFC 7518 §3.2: at least the hash size).
    #[error("shared secret is {len} bytes; at least {min} bytes are required")]
    SecretTooShort {
        /// Length of the rejected secret.
        len: usize,
        /// Minimum length.
        min: usize,
    },
    /// Generating an RSA key failed.
    #[error("RSA key generation failed")]
    KeyGeneration(#[source] Cause),
    /// A JSON Web Key is not a usable RSA public key.
    #[error("not a valid RSA JSON Web Key: {0}")]
    BadJwk(String),
    /// Encoding a key as PEM failed.
    #[error("encoding the key as PEM failed")]
    KeyEncoding(#[source] Cause),
    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed")]
    Random(#[source] Cause),
    /// The RSA private-key operation failed while signing.
    #[error("RSA signing failed")]
    Signing(#[source] Cause),
    /// A shared secret was used for `X-Body-Signature`; it is only valid for Bearer tokens.
    #[error("a shared secret can only be used with Bearer tokens, not with X-Body-Signature")]
    SecretNotForSignature,
    /// The `X-Body-Signature` header is absent or empty.
    #[error("missing X-Body-Signature header")]
    MissingSignature,
    /// A value that must be base64 is not.
    #[error("{what} is not valid base64")]
    BadBase64 {
        /// Which value, e.g. "X-Body-Signature".
        what: &'static str,
    },
    /// The `X-Body-Signature` does not verify over the body with this key.
    #[error("X-Body-Signature does not match the body for this key")]
    SignatureMismatch,
    /// The `Authorization` header is absent, empty, or not of the `Bearer` scheme.
    #[error("missing Bearer token in the Authorization header")]
    MissingToken,
    /// The token is not a well-formed compact JWS/JWT.
    #[error("malformed token: {0}")]
    TokenMalformed(&'static str),
    /// The token's `alg` is not the one this key verifies.
    #[error("token algorithm {found:?} is not accepted; this key verifies {expected}")]
    WrongAlgorithm {
        /// The algorithm the key verifies.
        expected: Algorithm,
        /// The `alg` found in the token header.
        found: String,
    },
    /// The token's signature does not verify with this key.
    #[error("token signature is not valid for this key")]
    TokenSignatureMismatch,
    /// The token has no `exp` claim; tokens without one are refused.
    #[error("token has no exp claim")]
    MissingExpiry,
    /// The token's `exp` (plus leeway) has passed.
    #[error("token expired at {exp} (now {now}, leeway {leeway_secs} s)")]
    Expired {
        /// The token's `exp`, seconds since the epoch.
        exp: u64,
        /// The verifier's clock, seconds since the epoch.
        now: u64,
        /// The leeway allowed, in seconds.
        leeway_secs: u64,
    },
    /// The token's `nbf` (minus leeway) is still in the future.
    #[error("token is not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`, seconds since the epoch.
        nbf: u64,
        /// The verifier's clock, seconds since the epoch.
        now: u64,
    },
    /// The token's `aud` is missing or does not contain the expected audience.
    #[error("token audience is missing or is not {expected:?}")]
    WrongAudience {
        /// The audience the verifier requires.
        expected: String,
    },
    /// The token's `iss` is missing or is not the expected issuer.
    #[error("token issuer is missing or is not {expected:?}")]
    WrongIssuer {
        /// The issuer the verifier requires.
        expected: String,
    },
    /// The token's `body_sha3_256` claim does not match the request body.
    #[error("token body_sha3_256 claim does not match the body")]
    BodyHashMismatch,
    /// The token's `exp` lies further ahead than the verifier accepts.
    #[error(
        "token expires at {exp}, more than {horizon_secs} s after now ({now}): make tokens that \
         expire sooner"
    )]
    ExpiresTooLate {
        /// The token's `exp`, seconds since the epoch.
        exp: u64,
        /// The verifier's clock, seconds since the epoch.
        now: u64,
        /// How far ahead `exp` may be (the leeway included), in seconds.
        horizon_secs: u64,
    },
    /// An RSA key was used for Standard Webhooks, whose `v1` scheme is an HMAC with a shared
    /// secret.
    #[error("Standard Webhooks signatures (v1) are made with a shared secret, not an RSA key")]
    KeyNotForStandardWebhooks,
    /// A Standard Webhooks header is absent or empty.
    #[error("missing {name} header")]
    MissingWebhookHeader {
        /// Which header.
        name: &'static str,
    },
    /// `webhook-timestamp` is not a whole number of seconds since the epoch.
    #[error("webhook-timestamp is not a whole number of seconds since the epoch")]
    BadWebhookTimestamp,
    /// `webhook-id` is empty or holds a `.`, white space or a control character.
    #[error("webhook-id must be non-empty, without `.`, white space or control characters")]
    BadWebhookId,
    /// No `v1` entry of `webhook-signature` verifies with this secret.
    #[error("webhook-signature has no v1 signature that matches with this secret")]
    WebhookSignatureMismatch,
    /// `webhook-timestamp` is further from the verifier's clock than the tolerance.
    #[error("webhook-timestamp {timestamp} is more than {tolerance_secs} s away from now ({now})")]
    WebhookTimestampOutOfTolerance {
        /// The message's timestamp, seconds since the epoch.
        timestamp: u64,
        /// The verifier's clock, seconds since the epoch.
        now: u64,
        /// The tolerance, in seconds.
        tolerance_secs: u64,
    },
}

impl Error {
    /// A stable snake_case identifier for this error, for logs and `{"error":{"code"}}` bodies.
    ///
    /// ```
    /// assert_eq!(psi_webhook::Error::MissingSignature.code(), "missing_signature");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadPem { .. } => "bad_pem",
            Error::BadJwk(_) => "bad_jwk",
            Error::SecretTooShort { .. } => "secret_too_short",
            Error::KeyGeneration(_) => "key_generation_failed",
            Error::KeyEncoding(_) => "key_encoding_failed",
            Error::Random(_) => "random_failed",
            Error::Signing(_) => "signing_failed",
            Error::SecretNotForSignature => "secret_not_for_signature",
            Error::MissingSignature => "missing_signature",
            Error::BadBase64 { .. } => "bad_base64",
            Error::SignatureMismatch => "signature_mismatch",
            Error::MissingToken => "missing_token",
            Error::TokenMalformed(_) => "token_malformed",
            Error::WrongAlgorithm { .. } => "wrong_algorithm",
            Error::TokenSignatureMismatch => "token_signature_mismatch",
            Error::MissingExpiry => "missing_exp",
            Error::Expired { .. } => "token_expired",
            Error::NotYetValid { .. } => "token_not_yet_valid",
            Error::WrongAudience { .. } => "wrong_audience",
            Error::WrongIssuer { .. } => "wrong_issuer",
            Error::BodyHashMismatch => "body_hash_mismatch",
            Error::ExpiresTooLate { .. } => "token_expires_too_late",
            Error::KeyNotForStandardWebhooks => "key_not_for_standard_webhooks",
            Error::MissingWebhookHeader { .. } => "missing_webhook_header",
            Error::BadWebhookTimestamp => "bad_webhook_timestamp",
            Error::BadWebhookId => "bad_webhook_id",
            Error::WebhookSignatureMismatch => "webhook_signature_mismatch",
            Error::WebhookTimestampOutOfTolerance { .. } => "webhook_timestamp_out_of_tolerance",
        }
    }
}
