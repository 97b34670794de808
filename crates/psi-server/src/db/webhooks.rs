//! The webhook columns interactions and credential definitions share: URL, key, auth, timeout.

use crate::domain::{AuthScheme, WebhookUrl};

/// A stored webhook; the key is named as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub key_name: String,
    pub auth: AuthScheme,
    pub timeout_ms: i64,
}

/// A webhook to store: checked URL, a key of the scoped service (looked up by name in the same
/// statement), auth and timeout.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: WebhookUrl,
    pub key_name: String,
    pub auth: AuthScheme,
    pub timeout_ms: i64,
}

/// The four nullable columns of a stored webhook, as read (the key joined to its name).
pub(super) fn from_columns(
    url: Option<String>,
    key_name: Option<String>,
    auth: Option<String>,
    timeout_ms: Option<i64>,
) -> sqlx::Result<Option<Webhook>> {
    match (url, key_name, auth, timeout_ms) {
        (Some(url), Some(key_name), Some(auth), Some(timeout_ms)) => Ok(Some(Webhook {
            url,
            key_name,
            auth: AuthScheme::from_db(&auth)?,
            timeout_ms,
        })),
        (None, _, _, _) => Ok(None),
        _ => Err(sqlx::Error::Decode("a webhook with missing columns".into())),
    }
}

/// Bind values for the four columns: `(url, key name, auth, timeout)`, all `None` for no webhook.
pub(super) fn columns(
    webhook: Option<&NewWebhook>,
) -> (
    Option<&str>,
    Option<&str>,
    Option<&'static str>,
    Option<i64>,
) {
    match webhook {
        Some(w) => (
            Some(w.url.as_str()),
            Some(w.key_name.as_str()),
            Some(w.auth.as_str()),
            Some(w.timeout_ms),
        ),
        None => (None, None, None, None),
    }
}
