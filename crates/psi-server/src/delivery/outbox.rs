//! The outbox: a notification is written in the transaction of the change it reports, with one
//! delivery per endpoint that wants it, so either both are stored or neither is. The caller wakes
//! the workers once the transaction commits ([`Due::announce`]): this process's at once, the
//! other processes' through one coalesced PostgreSQL `NOTIFY` (`db::listen`), so no enqueueing
//! transaction waits on the database's notification lock.

use std::sync::LazyLock;

use serde::Serialize;
use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::watch;

use super::payload::{Envelope, EventType};
use crate::db::listen::{Act, Channel};
use crate::db::{Backend, Db, deliveries, delivery_endpoints, delivery_messages, now_ms};
use crate::ids::{EndpointId, MessageId};
use crate::scope::ServiceScope;

/// Bumped when deliveries may be due; every worker in the process watches it.
static WAKE: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// The PostgreSQL channel on which processes tell each other that deliveries are due.
const CHANNEL: &str = "psi_delivery";

/// Bumped when this process committed due deliveries; the PostgreSQL notifier watches it and
/// tells the other processes, once for any number of bumps while it was busy.
static ANNOUNCED: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// Wakes this process's idle workers.
pub(crate) fn wake() {
    WAKE.send_modify(|n| *n = n.wrapping_add(1));
}

/// A handle that sees every [`wake`] from the moment it is made.
pub(crate) fn wake_receiver() -> watch::Receiver<u64> {
    WAKE.subscribe()
}

/// Tells every worker that deliveries committed just now are due: this process's workers at
/// once, the other processes' through the notifier.
pub(crate) fn announce() {
    wake();
    ANNOUNCED.send_modify(|n| *n = n.wrapping_add(1));
}

/// The news of due deliveries between processes on PostgreSQL: this process tells the others
/// what it committed, even without workers; with workers, it wakes them at the others' news.
pub(crate) fn channel(workers: bool) -> Channel {
    Channel {
        name: CHANNEL,
        told: ANNOUNCED.subscribe(),
        heard: workers.then(|| Box::new(wake) as Act),
    }
}

/// Whether a transaction wrote due deliveries. Once it commits, [`Due::announce`] wakes the
/// workers; before, they would find nothing (PostgreSQL) or wait on the write lock (SQLite).
#[must_use = "announce the deliveries once the transaction commits"]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Due(bool);

impl Due {
    /// Due when either is.
    pub fn and(self, other: Due) -> Due {
        Due(self.0 || other.0)
    }

    /// Whether any delivery was written.
    pub(crate) fn any(self) -> bool {
        self.0
    }

    /// Call after the transaction committed.
    pub fn announce(self) {
        if self.0 {
            announce();
        }
    }
}

/// Who receives a message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// Every enabled endpoint of the service that subscribes to the type.
    Subscribed,
    /// This endpoint only, if it is the service's and enabled.
    Endpoint(&'a EndpointId),
}

/// Whether an endpoint subscribed to `types` (empty: all) receives `event_type`. `test`
/// messages go only to the endpoint they are sent to.
pub(crate) fn receives(types: &[EventType], event_type: EventType) -> bool {
    event_type != EventType::Test && (types.is_empty() || types.contains(&event_type))
}

/// Writes a notification of `event_type` with `payload` (a struct of the members that follow the
/// envelope; see [`super::payload`]) and a delivery to each of the service's enabled endpoints
/// that subscribe to the type, **inside the caller's transaction**: call it with the transaction
/// that makes the change, before committing. Returns the message id (`messageId`) and whether
/// deliveries are due, to announce once the transaction commits.
///
/// The message is kept even when no endpoint wants it, so it can be listed and replayed to an
/// endpoint added later.
///
/// ```no_run
/// use psi_server::delivery::{self, CredentialNotification, EventType};
/// # async fn run(state: psi_server::http::AppState, scope: psi_server::scope::ServiceScope,
/// #              notification: CredentialNotification) -> anyhow::Result<()> {
/// let mut tx = state.db.begin().await?;
/// // ... the change itself, in `tx` ...
/// let (_id, due) =
///     delivery::enqueue(&mut tx, &scope, EventType::CredentialRevoked, &notification).await?;
/// tx.commit().await?;
/// due.announce();
/// # Ok(()) }
/// ```
pub async fn enqueue<T: Serialize>(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    event_type: EventType,
    payload: &T,
) -> sqlx::Result<(MessageId, Due)> {
    enqueue_to(tx, scope, event_type, payload, Target::Subscribed).await
}

/// [`enqueue`] to the endpoints `target` names.
pub(crate) async fn enqueue_to<T: Serialize>(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    event_type: EventType,
    payload: &T,
    target: Target<'_>,
) -> sqlx::Result<(MessageId, Due)> {
    let (id, now, body) = envelope(scope, event_type, payload)?;
    write(conn, scope, id, event_type, &body, target, now).await
}

/// A notification of `event_type` with `payload` to endpoint `endpoint_id` alone, in a
/// transaction of its own (a change of nothing else, as a test message is): stored only if the
/// endpoint is the service's and enabled, else `None`. Announced once committed. On PostgreSQL
/// one statement, so it takes one round trip and one commit.
pub(crate) async fn enqueue_alone<T: Serialize>(
    db: &Db,
    scope: &ServiceScope,
    event_type: EventType,
    payload: &T,
    endpoint_id: &EndpointId,
) -> sqlx::Result<Option<MessageId>> {
    let (id, now, body) = envelope(scope, event_type, payload)?;
    let written = match db.backend() {
        Backend::Postgres => {
            let message = (&id, event_type.as_str(), body.as_str());
            deliveries::insert_with_message_if_enabled(db, scope, message, endpoint_id, now).await?
        }
        Backend::Sqlite => {
            let mut tx = db.begin().await?;
            let target = Target::Endpoint(endpoint_id);
            let (_, due) =
                write(&mut tx, scope, id.clone(), event_type, &body, target, now).await?;
            if due.any() {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            due.any()
        }
    };
    if !written {
        return Ok(None);
    }
    announce();
    Ok(Some(id))
}

/// A new message's id, time and body: psi's envelope around `payload`.
fn envelope<T: Serialize>(
    scope: &ServiceScope,
    event_type: EventType,
    payload: &T,
) -> sqlx::Result<(MessageId, i64, String)> {
    let id = MessageId::generate();
    let now = now_ms();
    let body = serde_json::to_string(&Envelope {
        kind: event_type.as_str(),
        message_id: id.as_str(),
        public_service_did: scope.did().as_str(),
        utc_created_at: now,
        data: payload,
    })
    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    Ok((id, now, body))
}

/// [`enqueue_to`] with a body of the receiver's own format (a built-in extension's chat message),
/// not psi's envelope.
pub(crate) async fn enqueue_body_to(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    event_type: EventType,
    body: &str,
    target: Target<'_>,
) -> sqlx::Result<(MessageId, Due)> {
    write(
        conn,
        scope,
        MessageId::generate(),
        event_type,
        body,
        target,
        now_ms(),
    )
    .await
}

/// Stores message `id` and its deliveries to `target`.
async fn write(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    id: MessageId,
    event_type: EventType,
    body: &str,
    target: Target<'_>,
    now: i64,
) -> sqlx::Result<(MessageId, Due)> {
    delivery_messages::insert(&mut *conn, scope, &id, event_type, body, now).await?;
    let written = match target {
        Target::Endpoint(endpoint_id) => {
            deliveries::insert_if_enabled(&mut *conn, scope, &id, endpoint_id, now).await?
        }
        Target::Subscribed => {
            let endpoints = subscribers(&mut *conn, scope, event_type).await?;
            deliveries::insert(&mut *conn, scope.service_id(), &id, &endpoints, now).await?;
            endpoints.len()
        }
    };
    Ok((id, Due(written > 0)))
}

/// The service's enabled endpoints that receive `event_type`.
async fn subscribers(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    event_type: EventType,
) -> sqlx::Result<Vec<EndpointId>> {
    let subscriptions = delivery_endpoints::subscriptions(conn, scope).await?;
    Ok(subscriptions
        .into_iter()
        .filter(|(_, types)| receives(types, event_type))
        .map(|(id, _)| id)
        .collect())
}
