//! JWT claims (RFC 7519) as docs/protocol.md §4 uses them, and the checks made on tokens we accept.

use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::encoding::{URL_SAFE, sha3_256};
use crate::error::{Error, Result};
use crate::time::UnixTime;

/// Lifetime of tokens made with [`Claims::new`]: `exp = iat + 5 minutes`.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// Clock skew allowed by [`Validation::new`] on `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// The claims of a Bearer token.
///
/// Tokens we send carry `iss` (the service DID), `iat`, `exp`, `jti` (the delivery id) and
/// `body_sha3_256`; build them with [`Claims::new`] and the `with_*` methods. A verified
/// token's claims come back from [`Verifier::verify_bearer`](crate::Verifier::verify_bearer);
/// its `jti` is for the caller to accept once only, since this crate keeps no state.
///
/// ```
/// use psi_webhook::{Claims, UnixTime};
///
/// let claims = Claims::new(UnixTime::from_secs(1_700_000_000))
///     .with_issuer("9s57yZDBqwfZHdodKXTjKH")
///     .with_jwt_id("delivery-42")
///     .with_body(b"{\"ok\":true}");
/// assert_eq!(claims.exp, 1_700_000_300);
/// assert_eq!(claims.body_sha3_256.as_deref(), Some("Tq9_lqY4JKMXJRueQSIeRGhUeZ8l5tHtIegyUeX5Ezo"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claims {
    /// Issuer: the service DID on tokens from the platform.
    pub iss: Option<String>,
    /// Audience: the service DID on tokens sent to the platform. Sent as a string when there
    /// is one value; a JSON array is accepted too (RFC 7519 §4.1.3).
    pub aud: Vec<String>,
    /// Issued at, seconds since the epoch.
    pub iat: Option<u64>,
    /// Not before, seconds since the epoch.
    pub nbf: Option<u64>,
    /// Expiry, seconds since the epoch. Required on every token we accept.
    pub exp: u64,
    /// Token id: the delivery id on tokens we send; accept each one once.
    pub jti: Option<String>,
    /// base64url (no padding) of the SHA3-256 of the request body.
    pub body_sha3_256: Option<String>,
    /// Subject, e.g. the holder an access token is about.
    pub sub: Option<String>,
    /// Any other claims, as they appear in the payload (never one of the members above).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// Claims issued at `now` and expiring [`TOKEN_LIFETIME`] later; nothing else set.
    pub fn new(now: UnixTime) -> Self {
        Self {
            iss: None,
            aud: Vec::new(),
            iat: Some(now.as_secs()),
            nbf: None,
            exp: (now + TOKEN_LIFETIME).as_secs(),
            jti: None,
            body_sha3_256: None,
            sub: None,
            extra: serde_json::Map::new(),
        }
    }

    /// Sets `sub`.
    pub fn with_subject(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// Adds a claim of another name; a registered name above is ignored (set it with its
    /// method), so a claim cannot be given twice.
    pub fn with_claim(mut self, name: impl Into<String>, value: serde_json::Value) -> Self {
        let name = name.into();
        if !REGISTERED.contains(&name.as_str()) {
            self.extra.insert(name, value);
        }
        self
    }

    /// Sets `iss`.
    pub fn with_issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }

    /// Sets `aud` to this single audience.
    pub fn with_audience(mut self, aud: impl Into<String>) -> Self {
        self.aud = vec![aud.into()];
        self
    }

    /// Sets `jti`.
    pub fn with_jwt_id(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }

    /// Binds the token to `body` by setting `body_sha3_256`.
    pub fn with_body(mut self, body: &[u8]) -> Self {
        self.body_sha3_256 = Some(URL_SAFE.encode(sha3_256(body)));
        self
    }

    /// Sets `exp` to `iat + lifetime` (`iat` taken as 0 when unset).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.exp = (UnixTime::from_secs(self.iat.unwrap_or(0)) + lifetime).as_secs();
        self
    }

    pub(crate) fn to_json(&self) -> Vec<u8> {
        let aud = match self.aud.as_slice() {
            [] => None,
            [one] => Some(Audience::One(one.clone())),
            many => Some(Audience::Many(many.to_vec())),
        };
        let wire = Wire {
            iss: self.iss.clone(),
            aud,
            iat: self.iat,
            nbf: self.nbf,
            exp: Some(self.exp),
            jti: self.jti.clone(),
            body_sha3_256: self.body_sha3_256.clone(),
            sub: self.sub.clone(),
            extra: self.extra.clone(),
        };
        serde_json::to_vec(&wire).expect("strings and integers always serialize to JSON")
    }

    pub(crate) fn from_json(json: &[u8]) -> Result<Self> {
        let wire: Wire = serde_json::from_slice(json).map_err(|_| {
            Error::TokenMalformed("payload is not a JSON object of valid JWT claims")
        })?;
        Ok(Self {
            iss: wire.iss,
            aud: match wire.aud {
                None => Vec::new(),
                Some(Audience::One(one)) => vec![one],
                Some(Audience::Many(many)) => many,
            },
            iat: wire.iat,
            nbf: wire.nbf,
            exp: wire.exp.ok_or(Error::MissingExpiry)?,
            jti: wire.jti,
            body_sha3_256: wire.body_sha3_256,
            sub: wire.sub,
            extra: wire.extra,
        })
    }
}

/// What a verifier requires of a token beyond a valid signature and `exp`.
///
/// ```
/// use psi_webhook::Validation;
/// use std::time::Duration;
///
/// // A call to the platform: the audience must be the service DID.
/// let inbound = Validation::new().expect_audience("9s57yZDBqwfZHdodKXTjKH");
/// // A webhook from the platform, with a stricter clock.
/// let webhook = Validation::new()
///     .expect_issuer("9s57yZDBqwfZHdodKXTjKH")
///     .with_leeway(Duration::from_secs(5));
/// # let _ = (inbound, webhook);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    audience: Option<String>,
    issuer: Option<String>,
    leeway: Duration,
    horizon: Option<Duration>,
}

impl Default for Validation {
    fn default() -> Self {
        Self::new()
    }
}

impl Validation {
    /// Requires only a valid `exp`, with [`DEFAULT_LEEWAY`].
    pub fn new() -> Self {
        Self {
            audience: None,
            issuer: None,
            leeway: DEFAULT_LEEWAY,
            horizon: None,
        }
    }

    /// Requires `aud` to be (or, as an array, contain) `aud`.
    pub fn expect_audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    /// Requires `iss` to be `iss`.
    pub fn expect_issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuer = Some(iss.into());
        self
    }

    /// Clock skew allowed on `exp` and `nbf` (whole seconds).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Requires `exp` to be at most `horizon` (plus the leeway) after the time of verification,
    /// so that nobody can make a token that stays usable for long.
    ///
    /// ```
    /// use psi_webhook::{Claims, SharedSecret, Signer, UnixTime, Validation, Verifier};
    /// use std::time::Duration;
    ///
    /// let secret = SharedSecret::generate()?;
    /// let now = UnixTime::from_secs(1_700_000_000);
    /// let day = Claims::new(now).with_lifetime(Duration::from_secs(86_400));
    /// let token = Signer::shared_secret(secret.clone()).bearer_token(&day)?;
    /// let within = Validation::new().expire_within(Duration::from_secs(600));
    /// let refused = Verifier::shared_secret(secret).verify_bearer(&token, b"", &within, now);
    /// assert_eq!(refused.unwrap_err().code(), "token_expires_too_late");
    /// # Ok::<(), psi_webhook::Error>(())
    /// ```
    pub fn expire_within(mut self, horizon: Duration) -> Self {
        self.horizon = Some(horizon);
        self
    }

    /// A token is live while `now < exp + leeway` and, if it has `nbf`, `nbf <= now + leeway`.
    pub(crate) fn check(&self, claims: &Claims, body: &[u8], now: UnixTime) -> Result<()> {
        let leeway_secs = self.leeway.as_secs();
        let now = now.as_secs();
        if now >= claims.exp.saturating_add(leeway_secs) {
            return Err(Error::Expired {
                exp: claims.exp,
                now,
                leeway_secs,
            });
        }
        if let Some(horizon) = self.horizon {
            let horizon_secs = horizon.as_secs().saturating_add(leeway_secs);
            if claims.exp > now.saturating_add(horizon_secs) {
                return Err(Error::ExpiresTooLate {
                    exp: claims.exp,
                    now,
                    horizon_secs,
                });
            }
        }
        if let Some(nbf) = claims.nbf
            && nbf > now.saturating_add(leeway_secs)
        {
            return Err(Error::NotYetValid { nbf, now });
        }
        if let Some(expected) = &self.audience
            && !claims.aud.contains(expected)
        {
            return Err(Error::WrongAudience {
                expected: expected.clone(),
            });
        }
        if let Some(expected) = &self.issuer
            && claims.iss.as_ref() != Some(expected)
        {
            return Err(Error::WrongIssuer {
                expected: expected.clone(),
            });
        }
        // Existing senders do not set body_sha3_256; when present it must match.
        if let Some(claimed) = &claims.body_sha3_256 {
            let claimed = URL_SAFE.decode(claimed).map_err(|_| Error::BadBase64 {
                what: "body_sha3_256 claim",
            })?;
            if !bool::from(claimed.ct_eq(&sha3_256(body))) {
                return Err(Error::BodyHashMismatch);
            }
        }
        Ok(())
    }
}

/// The claims as they are on the wire; field order is the order tokens are written in.
#[derive(Serialize, Deserialize)]
struct Wire {
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<Audience>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    exp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_sha3_256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

/// The members [`Wire`] names; [`Claims::with_claim`] leaves them alone.
const REGISTERED: [&str; 8] = [
    "iss",
    "aud",
    "iat",
    "nbf",
    "exp",
    "jti",
    "body_sha3_256",
    "sub",
];

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}
