//! Settling an event, in the caller's transaction: the credentials it issued are stored (for the
//! wallet's answer, or its inbox), revocations take effect, the journal and the event's end are
//! written, and the service's notifications are enqueued, so an event is settled whole or not
//! at all. The engine settles the events a holder runs; inbound calls settle waiting events and
//! pushes.

use sqlx::{Any, Transaction};

use super::Journal;
use crate::credentials::issue::{self, Signed};
use crate::db::events::{EventRef, EventState, LogKind, Settlement};
use crate::db::{self, now_ms};
use crate::delivery::Due;
use crate::delivery::notify::{self, Attached, SettledEvent};
use crate::ids::Jti;
use crate::scope::ServiceScope;

/// How an event ends.
#[derive(Debug)]
pub struct Ending {
    pub state: EventState,
    /// For the holder: why it failed, what was declined, that issuing comes later.
    pub message: Option<String>,
    pub batch: Vec<Signed>,
    /// Credentials to revoke.
    pub revoke: Vec<Jti>,
}

impl Ending {
    /// A failure, telling the holder `message`.
    pub fn failed(message: String) -> Self {
        Ending {
            state: EventState::Failed,
            message: Some(message),
            batch: Vec::new(),
            revoke: Vec::new(),
        }
    }
}

/// Where the issued credentials go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// In the answer to the wallet's request, now.
    Answer,
    /// In the holder's inbox, until `psi wallet sync` collects them.
    Inbox,
}

/// Writes `ending` in `tx`, with the journal's unwritten entries and calls; returns the
/// credentials (`jti`) revoked now (those already revoked are logged, not notified) and the
/// notifications' deliveries, to announce once `tx` commits.
pub async fn write(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    (event, attached): (EventRef<'_>, Attached<'_>),
    ending: &Ending,
    journal: &mut Journal,
    handover: Handover,
) -> sqlx::Result<(Vec<Jti>, Due)> {
    let now = now_ms();
    let collected = handover == Handover::Answer;
    issue::store(tx, scope, &ending.batch, Some(event.id), collected).await?;
    for signed in &ending.batch {
        let credential = &signed.credential;
        journal.log(
            LogKind::Issued,
            format!("issued {} as {}", credential.credential_id, credential.jti),
        );
    }
    let mut revoked = Vec::new();
    for jti in &ending.revoke {
        let done = db::credentials::revoke(&mut **tx, scope, jti, now).await?;
        journal.log(
            LogKind::Revoked,
            if done {
                format!("revoked {jti}")
            } else {
                format!("nothing to revoke: {jti} is already revoked")
            },
        );
        if done {
            revoked.push(jti.clone());
        }
    }
    let notice = SettledEvent {
        event,
        state: ending.state,
        message: ending.message.as_deref(),
        issued: &ending.batch,
        revoked: &revoked,
    };
    let (due, queued) = notify::event_settled(tx, scope, &notice, attached).await?;
    for note in queued {
        journal.log(LogKind::WebhookCalled, note);
    }
    match ending.state {
        EventState::Completed => journal.log(LogKind::Completed, "completed"),
        EventState::Waiting => journal.log(LogKind::Waiting, "waiting for the service to issue"),
        EventState::Started | EventState::Failed => {}
    }
    let (first_seq, log) = journal.unwritten();
    let settlement = Settlement {
        state: ending.state,
        message: ending.message.as_deref(),
        first_seq,
        log,
        calls: journal.calls(),
        now,
    };
    db::events::settle(tx, scope, event.id, &settlement).await?;
    journal.mark_written();
    Ok((revoked, due))
}
