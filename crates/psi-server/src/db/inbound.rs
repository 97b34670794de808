//! What calls from third parties (docs/protocol.md §4.3) leave behind: the ids accepted once (a Bearer
//! token's `jti` in `inbound_jtis`, a Standard Webhooks `webhook-id` in `inbound_webhook_ids`) and
//! the answers kept for repeated calls (`inbound_requests`).

use sqlx::{Any, FromRow, Transaction};

use super::Db;
use crate::ids::EventId;
use crate::scope::ServiceScope;

/// What a call is accepted once by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnceKind {
    /// A Bearer token's `jti`.
    Jti,
    /// A Standard Webhooks `webhook-id`.
    WebhookId,
}

impl OnceKind {
    /// The table and its id column.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            OnceKind::Jti => ("inbound_jtis", "jti"),
            OnceKind::WebhookId => ("inbound_webhook_ids", "webhook_id"),
        }
    }
}

/// Records an id of `kind` until `expires_at` (unix ms); false if it was accepted before. One
/// statement, so of two calls racing with one id exactly one gets true.
pub async fn accept_once(
    db: &Db,
    scope: &ServiceScope,
    kind: OnceKind,
    id: &str,
    expires_at: i64,
) -> sqlx::Result<bool> {
    let (table, column) = kind.table();
    let result = sqlx::query(&format!(
        "INSERT INTO {table} (service_id, {column}, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING"
    ))
    .bind(scope.service_id())
    .bind(id)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// An answer given to an earlier call.
#[derive(Debug, Clone, FromRow)]
pub struct StoredAnswer {
    pub request_key: String,
    pub body_sha256: String,
    pub status: i64,
    pub response: String,
}

/// The answers stored under any of `request_keys`.
pub async fn answers(
    db: &Db,
    scope: &ServiceScope,
    request_keys: &[String],
) -> sqlx::Result<Vec<StoredAnswer>> {
    let mut found = Vec::new();
    for key in request_keys {
        let answer: Option<StoredAnswer> = sqlx::query_as(
            "SELECT request_key, body_sha256, status, response FROM inbound_requests \
             WHERE service_id = $1 AND request_key = $2",
        )
        .bind(scope.service_id())
        .bind(key)
        .fetch_optional(db.pool())
        .await?;
        found.extend(answer);
    }
    Ok(found)
}

/// An answer to keep under `request_key`.
pub struct NewAnswer<'a> {
    pub request_key: &'a str,
    pub body_sha256: &'a str,
    pub status: u16,
    pub response: &'a str,
    pub now: i64,
    /// When it may go (unix ms); `None`: never.
    pub expires_at: Option<i64>,
}

/// Stores an answer in the transaction that acted on the call; false if a call with this key
/// stored one first (PostgreSQL waits for that call's transaction to end before answering).
pub async fn record_answer(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    answer: &NewAnswer<'_>,
) -> sqlx::Result<bool> {
    // ON CONFLICT, not a caught unique violation: PostgreSQL aborts a transaction on an error.
    let result = sqlx::query(
        "INSERT INTO inbound_requests (service_id, request_key, body_sha256, status, response, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(scope.service_id())
    .bind(answer.request_key)
    .bind(answer.body_sha256)
    .bind(i64::from(answer.status))
    .bind(answer.response)
    .bind(answer.now)
    .bind(answer.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Keeps the answer under `request_key` for good.
pub async fn keep_forever(db: &Db, scope: &ServiceScope, request_key: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE inbound_requests SET expires_at = NULL \
         WHERE service_id = $1 AND request_key = $2 AND expires_at IS NOT NULL",
    )
    .bind(scope.service_id())
    .bind(request_key)
    .execute(db.pool())
    .await
    .map(drop)
}

/// Deletes, for every service, the ids and answers expired at `now`; returns how many rows went.
pub async fn purge(db: &Db, now: i64) -> sqlx::Result<u64> {
    let mut rows = 0;
    for table in ["inbound_jtis", "inbound_webhook_ids", "inbound_requests"] {
        // NULL never compares lower: answers kept for good stay.
        let deleted = sqlx::query(&format!("DELETE FROM {table} WHERE expires_at < $1"))
            .bind(now)
            .execute(db.pool())
            .await?;
        rows += deleted.rows_affected();
    }
    Ok(rows)
}

/// Takes a waiting event for a call that completes or fails it: true if the event was waiting (it
/// is then locked until the transaction ends, so a second call finds it settled).
pub async fn take_waiting_event(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    event_id: &EventId,
    now: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE events SET updated_at = $3 \
         WHERE service_id = $1 AND id = $2 AND state = 'waiting'",
    )
    .bind(scope.service_id())
    .bind(event_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// How many log entries the event has: the sequence number of the next one.
pub async fn event_log_len(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    event_id: &EventId,
) -> sqlx::Result<usize> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM event_log WHERE service_id = $1 AND event_id = $2",
    )
    .bind(scope.service_id())
    .bind(event_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(usize::try_from(count).unwrap_or(0))
}
