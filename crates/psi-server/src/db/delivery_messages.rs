//! Notification messages (`delivery_messages`): each notification once, with its body, whatever
//! endpoints receive it. Every function is scoped to a service.

use sqlx::AnyConnection;

use super::Cursor;
use super::Db;
use super::deliveries::{self, Delivery, DeliveryStatus};
use crate::domain::EventType;
use crate::ids::{EndpointId, MessageId};
use crate::scope::ServiceScope;

/// A message with where its deliveries stand.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: MessageId,
    pub event_type: String,
    pub created_at: i64,
    pub deliveries: Vec<Delivery>,
}

super::positioned!(Message, created_at, id);

/// Filters of [`list`].
#[derive(Debug, Default)]
pub struct MessageFilter<'a> {
    /// Only messages delivered (or being delivered) to this endpoint.
    pub endpoint_id: Option<&'a EndpointId>,
    /// Only messages with a delivery in this state (to `endpoint_id` when given).
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<EventType>,
    /// Only messages created at or after this time (unix ms).
    pub since: Option<i64>,
    /// Only messages after this position.
    pub cursor: Option<Cursor>,
    /// Rows to read ([`super::Paging::fetch`]).
    pub limit: i64,
}

/// Stores the scoped service's message `id` of `event_type` with its body.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    id: &MessageId,
    event_type: EventType,
    body: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO delivery_messages (id, service_id, event_type, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(scope.service_id())
    .bind(event_type.as_str())
    .bind(body)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
}

/// The scoped service's messages, newest first, with their deliveries.
pub async fn list(
    db: &Db,
    scope: &ServiceScope,
    filter: &MessageFilter<'_>,
) -> sqlx::Result<Vec<Message>> {
    let rows: Vec<(MessageId, String, i64)> = sqlx::query_as(
        "SELECT m.id, m.event_type, m.created_at FROM delivery_messages m \
         WHERE m.service_id = $1 AND ($2 IS NULL OR m.event_type = $2) \
         AND ($3 IS NULL OR m.created_at >= $3) \
         AND ($4 IS NULL OR m.created_at < $4 OR (m.created_at = $4 AND m.id < $5)) \
         AND (($6 IS NULL AND $7 IS NULL) OR EXISTS (SELECT 1 FROM deliveries d \
              WHERE d.message_id = m.id AND ($6 IS NULL OR d.endpoint_id = $6) \
              AND ($7 IS NULL OR d.status = $7))) \
         ORDER BY m.created_at DESC, m.id DESC LIMIT $8",
    )
    .bind(scope.service_id())
    .bind(filter.event_type.map(EventType::as_str))
    .bind(filter.since)
    .bind(filter.cursor.as_ref().map(|c| c.at))
    .bind(filter.cursor.as_ref().map(|c| c.id.as_str()))
    .bind(filter.endpoint_id)
    .bind(filter.status.map(DeliveryStatus::as_str))
    .bind(filter.limit)
    .fetch_all(db.pool())
    .await?;
    let ids: Vec<MessageId> = rows.iter().map(|(id, _, _)| id.clone()).collect();
    let mut deliveries = deliveries::of_messages(db, scope, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|(id, event_type, created_at)| Message {
            deliveries: deliveries.remove(&id).unwrap_or_default(),
            id,
            event_type,
            created_at,
        })
        .collect())
}

/// The scoped service's message with this id: its deliveries and its body.
pub async fn get(
    db: &Db,
    scope: &ServiceScope,
    id: &MessageId,
) -> sqlx::Result<Option<(Message, String)>> {
    let row: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT event_type, created_at, payload FROM delivery_messages \
         WHERE service_id = $1 AND id = $2",
    )
    .bind(scope.service_id())
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some((event_type, created_at, payload)) = row else {
        return Ok(None);
    };
    let message = Message {
        id: id.clone(),
        event_type,
        created_at,
        deliveries: deliveries::of_message(db, scope, id).await?,
    };
    Ok(Some((message, payload)))
}

/// Whether the scoped service has the message with this id.
pub(crate) async fn exists(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    id: &MessageId,
) -> sqlx::Result<bool> {
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT id FROM delivery_messages WHERE service_id = $1 AND id = $2")
            .bind(scope.service_id())
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(exists.is_some())
}

/// The scoped service's messages created since `since` (unix ms) that have no delivery to the
/// endpoint, oldest first, as (id, event type).
pub(crate) async fn undelivered_to(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    endpoint_id: &EndpointId,
    since: i64,
) -> sqlx::Result<Vec<(MessageId, String)>> {
    sqlx::query_as(
        "SELECT m.id, m.event_type FROM delivery_messages m \
         WHERE m.service_id = $1 AND m.created_at >= $3 AND NOT EXISTS \
         (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.endpoint_id = $2) \
         ORDER BY m.created_at",
    )
    .bind(scope.service_id())
    .bind(endpoint_id)
    .bind(since)
    .fetch_all(conn)
    .await
}
