//! The webhook settings interactions (`webhook`) and credential definitions (`check_webhook`)
//! share: request and response shapes, and the checks against the service's keys.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::services::DEFAULT_KEY_NAME;
use crate::db::{self, keys::KeyKind, webhooks::NewWebhook, webhooks::Webhook};
use crate::domain::{self, AuthScheme, WebhookUrl};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::scope::ServiceScope;

/// A webhook psi calls.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// An absolute http(s) URL without credentials. An address the outbound policy refuses
    /// (loopback, private, ...; `[outbound]`) is refused here; a host name is checked at each call.
    #[schema(example = "https://hooks.example.com/psi")]
    pub url: String,
    /// Name of the service's key that authenticates the calls: an RSA key pair (`signature` or
    /// `bearer`) or a SHA secret (`bearer` or `standard_webhooks`). Default: the service's default
    /// key, the RSA key pair made with the service.
    #[serde(default = "default_key")]
    #[schema(default = "default", example = "default")]
    pub key: String,
    /// Default: `signature` (`X-Body-Signature`).
    #[serde(default = "default_auth")]
    #[schema(default = "signature")]
    pub auth: AuthScheme,
    /// How long to wait for the answer, 100 to 60000 ms (default 10000).
    #[serde(default = "default_timeout")]
    #[schema(default = 10000, example = 10000)]
    pub timeout_ms: i64,
}

fn default_timeout() -> i64 {
    domain::webhook::DEFAULT_TIMEOUT_MS
}

fn default_key() -> String {
    DEFAULT_KEY_NAME.to_owned()
}

fn default_auth() -> AuthScheme {
    AuthScheme::Signature
}

/// A stored webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub url: String,
    /// The key's name.
    pub key: String,
    pub auth: AuthScheme,
    pub timeout_ms: i64,
}

impl From<Webhook> for WebhookView {
    fn from(webhook: Webhook) -> Self {
        WebhookView {
            url: webhook.url,
            key: webhook.key_name,
            auth: webhook.auth,
            timeout_ms: webhook.timeout_ms,
        }
    }
}

impl From<Webhook> for WebhookInput {
    fn from(webhook: Webhook) -> Self {
        WebhookInput {
            url: webhook.url,
            key: webhook.key_name,
            auth: webhook.auth,
            timeout_ms: webhook.timeout_ms,
        }
    }
}

/// Checks a webhook given as `field`: the URL and timeout, and that the key can authenticate
/// calls with the auth scheme (422: a SHA secret with `signature` is refused); an unknown key is
/// a 400.
pub async fn resolve(
    state: &AppState,
    scope: &ServiceScope,
    field: &str,
    input: WebhookInput,
) -> Result<NewWebhook, ApiError> {
    let invalid = |e: domain::WebhookError| ApiError::Validation(format!("`{field}`: {e}"));
    let url = WebhookUrl::parse_for(&input.url, state.outbound.policy()).map_err(invalid)?;
    let timeout_ms = domain::check_timeout(input.timeout_ms).map_err(invalid)?;
    let kind = key_kind(state, scope, &format!("{field}.key"), &input.key).await?;
    domain::check_outgoing_key(&input.key, kind, input.auth).map_err(invalid)?;
    Ok(NewWebhook {
        url,
        key_name: input.key,
        auth: input.auth,
        timeout_ms,
    })
}

/// The kind of the scoped service's key `name`, given as `field`; 400 if there is no such key.
pub async fn key_kind(
    state: &AppState,
    scope: &ServiceScope,
    field: &str,
    name: &str,
) -> Result<KeyKind, ApiError> {
    db::keys::get(&state.db, scope, name)
        .await?
        .map(|key| key.kind)
        .ok_or_else(|| {
            ApiError::BadRequest(format!("`{field}`: the service has no key named {name:?}"))
        })
}

/// For PATCH fields that may be set to `null`: absent → `None`, `null` → `Some(None)`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
