//! The engine's webhook calls (interaction, credential check): one signed call
//! ([`crate::calls`]) with the webhook's key and scheme, recorded on the event whatever happens.

use std::time::Duration;

use crate::calls::{self, CallError, Credentials, Keys};
use crate::db::events::{CallKind, WebhookCall};
use crate::db::new_id;
use crate::db::webhooks::Webhook;
use crate::http::AppState;
use crate::scope::ServiceScope;

/// A call made: its record, and the answer's body if it was a 2xx.
pub struct Sent {
    pub record: WebhookCall,
    result: Result<psi_outbound::Bytes, CallError>,
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

/// Calls `webhook` with `body` and `headers` besides authentication: signed, within its timeout,
/// recorded. `Err`: psi failed (the database, a sealed key).
pub async fn call(
    state: &AppState,
    scope: &ServiceScope,
    webhook: &Webhook,
    kind: CallKind,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> anyhow::Result<Sent> {
    let id = new_id();
    let credentials = Keys::new(state)
        .named(scope, &webhook.key_name)
        .await?
        .map(|current| Credentials {
            current,
            previous: None,
            auth: webhook.auth,
        });
    let made = calls::send(
        &state.outbound,
        calls::Call {
            url: &webhook.url,
            body: body.into(),
            credentials,
            issuer: scope.did().as_str(),
            // One call, not retried: its id is both the token's `jti` and the message id.
            call_id: &id,
            message_id: &id,
            headers,
            timeout: Duration::from_millis(u64::try_from(webhook.timeout_ms).unwrap_or(0)),
        },
    )
    .await;
    let record = WebhookCall {
        error: made.error(),
        id,
        kind,
        url: webhook.url.clone(),
        status: made.status,
        duration_ms: made.duration_ms,
        response_excerpt: made.excerpt,
        at: made.at,
    };
    Ok(Sent {
        record,
        result: made.result,
    })
}
