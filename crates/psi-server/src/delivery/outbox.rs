//! The outbox: a notification is written in the transaction of the change it reports, with one
//! delivery per endpoint that wants it, so either both are stored or neither is. Workers are
//! woken when the transaction commits.

use std::sync::LazyLock;

use serde::Serialize;
use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::watch;

use super::payload::{Envelope, EventType};
use crate::db::{new_id, now_ms};
use crate::scope::ServiceScope;

/// The PostgreSQL channel that tells every process's workers that deliveries were enqueued.
pub(crate) const CHANNEL: &str = "psi_delivery";

/// Bumped when deliveries may be due; every worker in the process watches it.
static WAKE: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// Wakes this process's idle workers.
pub(crate) fn wake() {
    WAKE.send_modify(|n| *n = n.wrapping_add(1));
}

/// A handle that sees every [`wake`] from the moment it is made.
pub(crate) fn wake_receiver() -> watch::Receiver<u64> {
    WAKE.subscribe()
}

/// Who receives a message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// Every enabled endpoint of the service that subscribes to the type.
    Subscribed,
    /// This endpoint only (the caller checked it belongs to the service).
    Endpoint(&'a str),
}

/// Writes a notification of `event_type` with `payload` (a struct of the members that follow the
/// envelope; see [`super::payload`]) and a delivery to each of the service's enabled endpoints
/// that subscribe to the type, **inside the caller's transaction**: call it with the transaction
/// that makes the change, before committing. Returns the message id (`messageId`).
///
/// The message is kept even when no endpoint wants it, so it can be listed and replayed to an
/// endpoint added later. Workers start delivering when the transaction commits.
///
/// ```no_run
/// use psi_server::delivery::{self, CredentialNotification, EventType};
/// # async fn run(state: psi_server::http::AppState, scope: psi_server::scope::ServiceScope,
/// #              notification: CredentialNotification) -> anyhow::Result<()> {
/// let mut tx = state.db.begin().await?;
/// // ... the change itself, in `tx` ...
/// delivery::enqueue(&mut tx, &scope, EventType::CredentialRevoked, &notification).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub async fn enqueue<T: Serialize>(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    event_type: EventType,
    payload: &T,
) -> sqlx::Result<String> {
    enqueue_to(tx, scope, event_type, payload, Target::Subscribed).await
}

/// [`enqueue`] to the endpoints `target` names.
pub(crate) async fn enqueue_to<T: Serialize>(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    event_type: EventType,
    payload: &T,
    target: Target<'_>,
) -> sqlx::Result<String> {
    let id = new_id();
    let now = now_ms();
    let body = serde_json::to_string(&Envelope {
        kind: event_type.as_str(),
        message_id: &id,
        public_service_did: scope.did().as_str(),
        utc_created_at: now,
        data: payload,
    })
    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO delivery_messages (id, service_id, event_type, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(scope.service_id())
    .bind(event_type.as_str())
    .bind(&body)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let endpoints = match target {
        Target::Endpoint(endpoint_id) => vec![endpoint_id.to_owned()],
        Target::Subscribed => subscribers(&mut *conn, scope, event_type).await?,
    };
    insert_deliveries(&mut *conn, scope.service_id(), &id, &endpoints, now).await?;
    if !endpoints.is_empty() {
        announce(conn).await?;
    }
    Ok(id)
}

/// The service's enabled endpoints that receive `event_type`.
async fn subscribers(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    event_type: EventType,
) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, event_types FROM delivery_endpoints WHERE service_id = $1 AND enabled = 1",
    )
    .bind(scope.service_id())
    .fetch_all(conn)
    .await?;
    let mut ids = Vec::new();
    for (id, types) in rows {
        let types: Vec<EventType> =
            serde_json::from_str(&types).map_err(|e| sqlx::Error::Decode(e.into()))?;
        if super::endpoints::receives(&types, event_type) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// One pending delivery of `message_id` per endpoint, due now.
pub(crate) async fn insert_deliveries(
    conn: &mut AnyConnection,
    service_id: &str,
    message_id: &str,
    endpoint_ids: &[String],
    now: i64,
) -> sqlx::Result<()> {
    if endpoint_ids.is_empty() {
        return Ok(());
    }
    // $1..$3 are shared; each row adds its id and endpoint.
    let rows: Vec<String> = (0..endpoint_ids.len())
        .map(|i| {
            let (id, endpoint) = (4 + 2 * i, 5 + 2 * i);
            format!("(${id}, $1, ${endpoint}, $2, 'pending', 0, $3, $3, $3)")
        })
        .collect();
    let sql = format!(
        "INSERT INTO deliveries (id, message_id, endpoint_id, service_id, status, attempts, \
         next_attempt_at, created_at, updated_at) VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql)
        .bind(message_id)
        .bind(service_id)
        .bind(now);
    for endpoint in endpoint_ids {
        query = query.bind(new_id()).bind(endpoint);
    }
    query.execute(conn).await.map(drop)
}

/// Tells workers that deliveries are due once this transaction commits: PostgreSQL delivers a
/// `NOTIFY` at commit to every process listening; SQLite has one writer, so a worker woken now
/// waits for the commit when it claims.
pub(crate) async fn announce(conn: &mut AnyConnection) -> sqlx::Result<()> {
    if conn.backend_name().eq_ignore_ascii_case("postgresql") {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(conn)
            .await?;
    } else {
        wake();
    }
    Ok(())
}
