//! A refused call is never silent: psi's log says why, and when the call names an event of the
//! service (`subscriberEventId`), the refusal joins that event's log and the service is notified
//! (`event.issue_refused`), so an integrator whose calls fail sees it where they look.
//!
//! The body is read only for its `subscriberEventId`, even when authentication failed: what a
//! stranger can cause is bounded by knowing an event's id, and by [`MAX_RECORDED`] per event.

use axum::body::Bytes;
use serde::Deserialize;

use crate::db::events::{LogEntry, LogKind};
use crate::db::{self, now_ms};
use crate::delivery::{self, EventType, IssueRefused};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::ids::EventId;
use crate::scope::ServiceScope;

/// Refusals recorded on one event; later ones go only to psi's log.
pub const MAX_RECORDED: i64 = 20;

/// The one member of a body read here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Named {
    subscriber_event_id: Option<String>,
}

/// Logs the refusal of `call` (the endpoint's name) with `body`, and records it on the event the
/// body names, with a notification. Failing to record is logged, never answered: the caller
/// gets the refusal either way.
pub async fn record(
    state: &AppState,
    scope: &ServiceScope,
    call: &'static str,
    body: &Bytes,
    refusal: &ApiError,
) {
    let event_id = serde_json::from_slice::<Named>(body)
        .ok()
        .and_then(|named| named.subscriber_event_id)
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .map(EventId::from);
    let status = refusal.status().as_u16();
    tracing::warn!(did = %scope.did(), call, event = event_id.as_ref().map(EventId::as_str),
        status, code = refusal.code(), reason = %refusal, "a third party's call was refused");
    let Some(event_id) = event_id else { return };
    if let Err(e) = write(state, scope, call, &event_id, refusal).await {
        tracing::warn!(did = %scope.did(), event = %event_id, error = %e,
            "recording a refused call on its event");
    }
}

async fn write(
    state: &AppState,
    scope: &ServiceScope,
    call: &'static str,
    event_id: &EventId,
    refusal: &ApiError,
) -> sqlx::Result<()> {
    let status = refusal.status();
    let entry = LogEntry {
        at: now_ms(),
        kind: LogKind::IssueRefused,
        detail: format!("psi refused a call to {call} ({status}): {refusal}"),
    };
    let mut tx = state.db.begin().await?;
    let Some(event) =
        db::events::append_capped(&mut tx, scope, event_id, &entry, MAX_RECORDED).await?
    else {
        return tx.rollback().await;
    };
    let notification = IssueRefused {
        subscriber_connect_did: event.holder_did.to_string(),
        action_id: event.interaction_id.to_string(),
        action_instance_id: event.instance_id.to_string(),
        action_event_id: event.id.to_string(),
        call,
        status: status.as_u16(),
        code: refusal.code(),
        reason: refusal.to_string(),
    };
    let (_, due) =
        delivery::enqueue(&mut tx, scope, EventType::EventIssueRefused, &notification).await?;
    tx.commit().await?;
    due.announce();
    Ok(())
}
