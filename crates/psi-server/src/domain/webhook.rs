//! Webhook settings shared by interactions (docs/protocol.md §4.1) and credential checks (§4.2): the URL,
//! how calls are authenticated, and how long to wait.

use psi_outbound::{AddressClass, OutboundError, OutboundPolicy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::keys::KeyKind;

/// Longest webhook URL, in bytes.
const MAX_URL_LEN: usize = 2048;
/// Timeout bounds and default, in milliseconds.
pub const MIN_TIMEOUT_MS: i64 = 100;
pub const MAX_TIMEOUT_MS: i64 = 60_000;
pub const DEFAULT_TIMEOUT_MS: i64 = 10_000;

/// How a webhook call is authenticated (docs/protocol.md §4, Standard Webhooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthScheme {
    /// `X-Body-Signature`: an RSA signature of the body (RSA key pairs only).
    Signature,
    /// `Authorization: Bearer <JWT>`: RS256 with an RSA key pair or HS256 with a SHA secret.
    Bearer,
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature` `v1`): an
    /// HMAC-SHA256 with a SHA secret.
    StandardWebhooks,
}

impl AuthScheme {
    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Signature => "signature",
            AuthScheme::Bearer => "bearer",
            AuthScheme::StandardWebhooks => "standard_webhooks",
        }
    }

    /// Reads the database's text.
    pub fn from_db(text: &str) -> sqlx::Result<Self> {
        match text {
            "signature" => Ok(AuthScheme::Signature),
            "bearer" => Ok(AuthScheme::Bearer),
            "standard_webhooks" => Ok(AuthScheme::StandardWebhooks),
            other => Err(sqlx::Error::Decode(
                format!("unknown auth scheme {other:?}").into(),
            )),
        }
    }
}

/// Why a webhook setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("`url` must be an absolute http or https URL of at most {MAX_URL_LEN} bytes")]
    Url,
    #[error("`url` must not carry a user name or password: authenticate with a key")]
    UrlCredentials,
    #[error("`timeout_ms` must be from {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}")]
    Timeout,
    #[error(
        "key {key:?} is a SHA secret: SHA secrets work with `bearer` or `standard_webhooks` auth"
    )]
    ShaSecretWithSignature { key: String },
    #[error(
        "key {key:?} is an RSA key pair: `standard_webhooks` auth signs with a SHA secret \
         (HMAC-SHA256)"
    )]
    StandardWebhooksNeedShaSecret { key: String },
    #[error(
        "key {key:?} is a third party's public key: outgoing calls need a key pair or a SHA secret"
    )]
    CannotSign { key: String },
    /// The outbound policy would refuse every call; `remedy` names the setting that admits it.
    #[error("`url`: {reason}, which psi's outbound policy refuses; {remedy}")]
    Refused {
        reason: String,
        remedy: &'static str,
    },
}

/// A URL psi calls: absolute http(s), with a host, without credentials. Whether the host may be
/// reached (private addresses, ...) is decided when calling, since DNS can change; a URL that
/// every call would be refused is refused when it is saved ([`WebhookUrl::parse_for`]).
///
/// ```
/// use psi_server::domain::WebhookUrl;
/// assert!(WebhookUrl::parse("https://hooks.example.com/psi").is_ok());
/// assert!(WebhookUrl::parse("file:///etc/passwd").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Checks `text`.
    pub fn parse(text: &str) -> Result<Self, WebhookError> {
        if text.len() > MAX_URL_LEN {
            return Err(WebhookError::Url);
        }
        let url = url::Url::parse(text).map_err(|_| WebhookError::Url)?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(WebhookError::Url);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(WebhookError::UrlCredentials);
        }
        Ok(WebhookUrl(url.into()))
    }

    /// Checks `text`, and refuses what `policy` would refuse at every call: an address of a
    /// refused class (loopback, private, ...) written in the URL, or `localhost`. Host names
    /// are otherwise checked when they are resolved, at each call, since DNS can change.
    pub fn parse_for(text: &str, policy: &OutboundPolicy) -> Result<Self, WebhookError> {
        let url = Self::parse(text)?;
        match policy.check_url(url.as_str()) {
            Ok(_) => Ok(url),
            Err(OutboundError::RefusedAddress { host, class, .. }) => Err(WebhookError::Refused {
                reason: format!("{host} is a {class} address"),
                remedy: match class {
                    AddressClass::Loopback => {
                        "to call this machine, set PSI_OUTBOUND_ALLOW_LOOPBACK=true \
                         (`allow_loopback` in [outbound]) or list the address in [outbound] \
                         `allowed_hosts`"
                    }
                    AddressClass::Private
                    | AddressClass::SharedCgnat
                    | AddressClass::UniqueLocal => {
                        "to call an internal network, set PSI_OUTBOUND_ALLOW_PRIVATE=true \
                         (`allow_private` in [outbound]) or list the address in [outbound] \
                         `allowed_hosts`"
                    }
                    _ => "only an exception in [outbound] `allowed_hosts` admits it",
                },
            }),
            Err(other) => Err(WebhookError::Refused {
                reason: other.to_string(),
                remedy: "see [outbound] `allowed_schemes` and `allowed_hosts`",
            }),
        }
    }

    /// The URL as text (normalised by the parser).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a timeout in milliseconds.
pub fn check_timeout(timeout_ms: i64) -> Result<i64, WebhookError> {
    if (MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
        Ok(timeout_ms)
    } else {
        Err(WebhookError::Timeout)
    }
}

/// Checks that the key `name` of `kind` can authenticate calls psi makes with `auth`: an RSA key
/// pair with a signature or Bearer tokens, a SHA secret with Bearer tokens (docs/protocol.md §4) or
/// Standard Webhooks, never a third party's public key.
pub fn check_outgoing_key(name: &str, kind: KeyKind, auth: AuthScheme) -> Result<(), WebhookError> {
    use AuthScheme::{Bearer, Signature, StandardWebhooks};
    match (kind, auth) {
        (KeyKind::RsaKeyPair, Signature | Bearer)
        | (KeyKind::ShaSecret, Bearer | StandardWebhooks) => Ok(()),
        (KeyKind::ShaSecret, Signature) => Err(WebhookError::ShaSecretWithSignature {
            key: name.to_owned(),
        }),
        (KeyKind::RsaKeyPair, StandardWebhooks) => {
            Err(WebhookError::StandardWebhooksNeedShaSecret {
                key: name.to_owned(),
            })
        }
        (KeyKind::RsaPublicKey, _) => Err(WebhookError::CannotSign {
            key: name.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_absolute_http_or_https_without_credentials() {
        assert_eq!(
            WebhookUrl::parse("HTTPS://Example.com/hook?a=1")
                .unwrap()
                .as_str(),
            "https://example.com/hook?a=1"
        );
        for bad in [
            "",
            "example.com/hook",
            "ftp://example.com/",
            "javascript:alert(1)",
            "https://",
        ] {
            assert_eq!(WebhookUrl::parse(bad), Err(WebhookError::Url), "{bad:?}");
        }
        assert_eq!(
            WebhookUrl::parse("https://user:pw@example.com/"),
            Err(WebhookError::UrlCredentials)
        );
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(WebhookUrl::parse(&long), Err(WebhookError::Url));
    }

    #[test]
    fn timeouts_outside_the_bounds_are_refused() {
        assert_eq!(check_timeout(MIN_TIMEOUT_MS), Ok(MIN_TIMEOUT_MS));
        assert_eq!(check_timeout(MAX_TIMEOUT_MS), Ok(MAX_TIMEOUT_MS));
        assert_eq!(
            check_timeout(MIN_TIMEOUT_MS - 1),
            Err(WebhookError::Timeout)
        );
        assert_eq!(
            check_timeout(MAX_TIMEOUT_MS + 1),
            Err(WebhookError::Timeout)
        );
    }

    #[test]
    fn a_sha_secret_signs_tokens_and_standard_webhooks_an_rsa_key_pair_the_rest() {
        use AuthScheme::{Bearer, Signature, StandardWebhooks};
        assert!(check_outgoing_key("k", KeyKind::RsaKeyPair, Signature).is_ok());
        assert!(check_outgoing_key("k", KeyKind::RsaKeyPair, Bearer).is_ok());
        assert!(check_outgoing_key("k", KeyKind::ShaSecret, Bearer).is_ok());
        assert!(check_outgoing_key("k", KeyKind::ShaSecret, StandardWebhooks).is_ok());
        let error = check_outgoing_key("shared", KeyKind::ShaSecret, Signature).unwrap_err();
        assert!(error.to_string().contains("\"shared\""), "{error}");
        assert!(matches!(
            check_outgoing_key("default", KeyKind::RsaKeyPair, StandardWebhooks),
            Err(WebhookError::StandardWebhooksNeedShaSecret { .. })
        ));
        for auth in [Signature, Bearer, StandardWebhooks] {
            assert!(matches!(
                check_outgoing_key("p", KeyKind::RsaPublicKey, auth),
                Err(WebhookError::CannotSign { .. })
            ));
        }
    }
}
