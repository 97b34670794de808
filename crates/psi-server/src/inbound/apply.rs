//! Writing what a call changes, in one transaction with its answer: the event settles (a waiting
//! one, or a new one for a push), the credentials are stored for the holder's inbox, revocations
//! take effect, the service's notifications are enqueued, and the answer is kept for repeats. Of
//! two calls racing on one event or with one body, one acts and the other replays its answer.

use crate::db::events::{EventRef, LogKind, NewEvent};
use crate::db::{self, now_ms};
use crate::delivery::notify::Attached;
use crate::event::Journal;
use crate::event::settle::{self, Ending, Handover};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::ids::EventId;
use crate::scope::ServiceScope;

use super::idempotency::{Answer, Idempotency};
use super::target::Target;
use super::wire::{IssuedRef, Reply};

/// Settles `target` with `ending` and the call's journal ([`settle::write`]) and keeps the
/// answer; returns the answer, or the answer of a racing identical call that acted first.
pub async fn commit(
    state: &AppState,
    scope: &ServiceScope,
    target: &Target,
    ending: Ending,
    mut journal: Journal,
    idempotency: &Idempotency,
) -> Result<Answer, ApiError> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // The first statement writes, so SQLite takes its write lock before anything is read.
    let event_id = match target {
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
            journal.follow(db::inbound::event_log_len(&mut tx, scope, &event.id).await?);
            event.id.clone()
        }
        Target::Push {
            interaction,
            instance,
            holder_did,
        } => {
            let id = EventId::generate();
            let mut started = Journal::default();
            started.log(
                LogKind::Started,
                format!(
                    "the service pushed {:?} (instance {}) to holder {holder_did}",
                    interaction.name, instance.id
                ),
            );
            let new = NewEvent {
                id: &id,
                interaction_id: &interaction.id,
                instance_id: &instance.id,
                holder_did,
                callback: None,
                session: None,
                now,
            };
            let (_, entries) = started.unwritten();
            db::events::start(&mut tx, scope, &new, entries).await?;
            journal.follow(entries.len());
            id
        }
    };
    let event = EventRef {
        id: &event_id,
        interaction_id: &target.interaction().id,
        instance_id: target.instance_id(),
        holder_did: target.holder_did(),
    };
    let (revoked, due) = settle::write(
        &mut tx,
        scope,
        (event, Attached::Unread),
        &ending,
        &mut journal,
        Handover::Inbox,
    )
    .await?;
    let reply = Reply {
        ok: true,
        event_id: event_id.into(),
        issued: ending
            .batch
            .iter()
            .map(|signed| IssuedRef {
                jti: signed.credential.jti.to_string(),
                credential_id: signed.credential.credential_id.clone(),
            })
            .collect(),
        revoked: revoked.into_iter().map(String::from).collect(),
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
    due.announce();
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
