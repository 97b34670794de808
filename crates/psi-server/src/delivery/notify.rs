//! The notifications of the changes events make (through the engine, or a third party's
//! `credentials-issued` / `credentials-issuing-failed` call), each enqueued in the transaction of
//! its change: `event.completed` or `event.failed` when an event settles, `credential.issued` for
//! what it issued and `credential.revoked` for what it revoked.

use std::collections::BTreeMap;

use sqlx::{Any, Transaction};

use super::outbox::{Due, enqueue};
use super::payload::{
    CredentialNotification, EventNotification, EventType, NotifiedCredential, Outcome,
};
use crate::credentials::issue::Signed;
use crate::db;
use crate::db::events::{EventRef, EventState};
use crate::ids::{EventId, HolderDid, Jti};
use crate::scope::ServiceScope;

/// An event as it settles.
#[derive(Debug, Clone, Copy)]
pub struct SettledEvent<'a> {
    pub event: EventRef<'a>,
    /// `Completed` and `Failed` are notified; an event left `Waiting` is not settled yet.
    pub state: EventState,
    /// What the holder was told.
    pub message: Option<&'a str>,
    /// Issued with the settlement, stored in the same transaction.
    pub issued: &'a [Signed],
    /// Credentials (`jti`) this settlement revoked, in the same transaction.
    pub revoked: &'a [Jti],
}

/// Enqueues the notifications of a settling event in its transaction: the event's outcome,
/// then `credential.issued` and `credential.revoked` when it issued or revoked credentials.
pub async fn event_settled(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    event: &SettledEvent<'_>,
) -> sqlx::Result<Due> {
    let mut due = Due::default();
    let issued: Vec<NotifiedCredential> = event.issued.iter().map(notified).collect();
    let kind = match event.state {
        EventState::Completed => Some(EventType::EventCompleted),
        EventState::Failed => Some(EventType::EventFailed),
        EventState::Started | EventState::Waiting => None,
    };
    if let Some(kind) = kind {
        let notification = EventNotification {
            subscriber_connect_did: event.event.holder_did.to_string(),
            action_id: event.event.interaction_id.to_string(),
            action_instance_id: event.event.instance_id.to_string(),
            action_event_id: event.event.id.to_string(),
            outcome: Outcome {
                ok: kind == EventType::EventCompleted,
                message: event.message.map(str::to_owned),
            },
            issued_credentials: issued.clone(),
        };
        due = enqueue(tx, scope, kind, &notification).await?.1;
    }
    let issued = credentials_issued(tx, scope, event.issued, Some(event.event.id)).await?;
    let revoked = credentials_revoked(tx, scope, event.revoked, Some(event.event.id)).await?;
    Ok(due.and(issued).and(revoked))
}

/// Enqueues `credential.issued` for a stored batch, one message per holder.
pub async fn credentials_issued(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    batch: &[Signed],
    event_id: Option<&EventId>,
) -> sqlx::Result<Due> {
    let mut due = Due::default();
    let mut by_holder: BTreeMap<&HolderDid, Vec<NotifiedCredential>> = BTreeMap::new();
    for signed in batch {
        by_holder
            .entry(&signed.holder_did)
            .or_default()
            .push(notified(signed));
    }
    for (holder, credentials) in by_holder {
        let notification = CredentialNotification {
            subscriber_connect_did: holder.to_string(),
            action_event_id: event_id.map(EventId::to_string),
            credentials,
        };
        due = due.and(
            enqueue(tx, scope, EventType::CredentialIssued, &notification)
                .await?
                .1,
        );
    }
    Ok(due)
}

/// Enqueues `credential.revoked` for credentials revoked in `tx`, one message per holder. A
/// `jti` the service does not have is skipped.
pub async fn credentials_revoked(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    jtis: &[Jti],
    event_id: Option<&EventId>,
) -> sqlx::Result<Due> {
    let mut due = Due::default();
    let mut by_holder: BTreeMap<HolderDid, Vec<NotifiedCredential>> = BTreeMap::new();
    for jti in jtis {
        let Some(stored) = db::credentials::find(&mut **tx, scope, jti).await? else {
            continue;
        };
        by_holder
            .entry(stored.holder_did)
            .or_default()
            .push(NotifiedCredential {
                jti: stored.jti.into(),
                credential_id: stored.credential_id,
                schema_id: stored.schema_id,
                fields: stored.attributes,
                utc_issued_at: stored.issued_at,
                revoked: stored.revoked_at.is_some(),
                utc_revoked_at: stored.revoked_at,
            });
    }
    for (holder, credentials) in by_holder {
        let notification = CredentialNotification {
            subscriber_connect_did: holder.into(),
            action_event_id: event_id.map(EventId::to_string),
            credentials,
        };
        due = due.and(
            enqueue(tx, scope, EventType::CredentialRevoked, &notification)
                .await?
                .1,
        );
    }
    Ok(due)
}

fn notified(signed: &Signed) -> NotifiedCredential {
    let credential = &signed.credential;
    NotifiedCredential {
        jti: credential.jti.to_string(),
        credential_id: credential.credential_id.clone(),
        schema_id: credential.schema_id.clone(),
        fields: credential.attributes.clone(),
        utc_issued_at: signed.issued_at,
        revoked: false,
        utc_revoked_at: None,
    }
}
