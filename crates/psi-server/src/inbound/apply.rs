//! Writing what a call changes, in one transaction with its answer: the event settles (a waiting
//! one, or a new one for a push), the credentials are stored for the holder's inbox, revocations
//! take effect, the service's notifications are enqueued, and the answer is kept for repeats. Of
//! two calls racing on one event or with one body, one acts and the other replays its answer.

use crate::credentials::issue::{self, Signed};
use crate::db::events::{EventState, LogEntry, LogKind, NewEvent, Settlement};
use crate::db::{self, new_id, now_ms};
use crate::delivery::notify::{self, SettledEvent};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::scope::ServiceScope;

use super::idempotency::{Answer, Idempotency};
use super::issue::entry_now;
use super::target::Target;
use super::wire::{IssuedRef, Reply};

/// What a call changes.
#[derive(Debug)]
pub struct Change {
    /// `Completed` or `Failed`.
    pub state: EventState,
    /// For the holder.
    pub message: Option<String>,
    pub batch: Vec<Signed>,
    /// Credentials (`jti`) to revoke.
    pub revoke: Vec<String>,
    /// Log entries: a failure ends with its `failed` entry; `completed` is added here.
    pub log: Vec<LogEntry>,
}

/// Writes `change` on `target` and keeps the answer; returns the answer, or the answer of a
/// racing identical call that acted first.
pub async fn commit(
    state: &AppState,
    scope: &ServiceScope,
    target: &Target,
    mut change: Change,
    idempotency: &Idempotency,
) -> Result<Answer, ApiError> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // The first statement writes, so SQLite takes its write lock before anything is read.
    let (event_id, first_seq) = match target {
        Target::Event { event, .. } => {
            if !db::inbound::take_waiting_event(&mut tx, scope, &event.id, now).await? {
                tx.rollback().await?;
                return replay_or(state, scope, idempotency, || {
                    ApiError::Conflict(format!(
                        "event {:?} is no longer waiting: another call completed or failed it",
                        event.id
                    ))
                })
                .await;
            }
            let seq = db::inbound::event_log_len(&mut tx, scope, &event.id).await?;
            (event.id.clone(), seq)
        }
        Target::Push {
            interaction,
            instance,
            holder_did,
        } => {
            let id = new_id();
            let started = [entry_now(
                LogKind::Started,
                format!(
                    "the service pushed {:?} (instance {}) to holder {holder_did}",
                    interaction.name, instance.id
                ),
            )];
            let new = NewEvent {
                id: &id,
                interaction_id: &interaction.id,
                instance_id: &instance.id,
                holder_did,
                callback: None,
                session: None,
                now,
            };
            db::events::start(&mut tx, scope, &new, &started).await?;
            (id, started.len())
        }
    };
    issue::store(&mut tx, scope, &change.batch, Some(&event_id), false).await?;
    let mut revoked = Vec::new();
    for jti in &change.revoke {
        let done = db::credentials::revoke(&mut *tx, scope, jti, now).await?;
        change.log.push(entry_now(
            LogKind::Revoked,
            if done {
                format!("revoked {jti}")
            } else {
                format!("nothing to revoke: {jti} is already revoked")
            },
        ));
        if done {
            revoked.push(jti.clone());
        }
    }
    if change.state == EventState::Completed {
        change.log.push(entry_now(LogKind::Completed, "completed"));
    }
    let settlement = Settlement {
        state: change.state,
        message: change.message.as_deref(),
        first_seq,
        log: &change.log,
        calls: &[],
        now,
    };
    db::events::settle(&mut tx, scope, &event_id, &settlement).await?;
    let notice = SettledEvent {
        event_id: &event_id,
        action_id: &target.interaction().id,
        instance_id: target.instance_id(),
        holder_did: target.holder_did(),
        state: change.state,
        message: change.message.as_deref(),
        issued: &change.batch,
        revoked: &revoked,
    };
    notify::event_settled(&mut tx, scope, &notice).await?;
    let reply = Reply {
        ok: true,
        event_id,
        issued: change
            .batch
            .iter()
            .map(|signed| IssuedRef {
                jti: signed.credential.jti.clone(),
                credential_id: signed.credential.credential_id.clone(),
            })
            .collect(),
        revoked,
    };
    let answer = Answer {
        status: axum::http::StatusCode::OK,
        body: serde_json::to_string(&reply).map_err(anyhow::Error::new)?,
        replayed: false,
    };
    if !idempotency.record(&mut tx, scope, &answer).await? {
        tx.rollback().await?;
        return replay_or(state, scope, idempotency, || {
            ApiError::Conflict("an identical call is being handled: call again".into())
        })
        .await;
    }
    tx.commit().await?;
    Ok(answer)
}

/// The answer an identical call stored, or `refusal`.
async fn replay_or(
    state: &AppState,
    scope: &ServiceScope,
    idempotency: &Idempotency,
    refusal: impl FnOnce() -> ApiError,
) -> Result<Answer, ApiError> {
    idempotency
        .earlier(&state.db, scope)
        .await?
        .ok_or_else(refusal)
}
