//! Reading the outbox for the management API (messages, their deliveries and attempts) and
//! replaying messages. Every function is scoped to a service.

use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;

use super::endpoints;
use super::outbox;
use super::payload::EventType;
use crate::db::{Db, new_id, now_ms};
use crate::scope::ServiceScope;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for an attempt (or, while its endpoint is disabled, for the endpoint).
    Pending,
    Succeeded,
    /// Every attempt of the schedule failed; a replay starts it again.
    Failed,
}

impl DeliveryStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn from_db(text: &str) -> sqlx::Result<Self> {
        match text {
            "pending" => Ok(DeliveryStatus::Pending),
            "succeeded" => Ok(DeliveryStatus::Succeeded),
            "failed" => Ok(DeliveryStatus::Failed),
            other => Err(sqlx::Error::Decode(
                format!("unknown delivery status {other:?}").into(),
            )),
        }
    }
}

/// A position in a listing, newest first: the time and id of the last item seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: i64,
    pub id: String,
}

impl Cursor {
    /// The cursor's text, `<time>.<id>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at, self.id)
    }

    /// Reads [`Cursor::encode`]'s text.
    ///
    /// ```
    /// use psi_server::delivery::messages::Cursor;
    /// let cursor = Cursor { at: 17, id: "ab12".into() };
    /// assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    /// assert_eq!(Cursor::decode("17"), None);
    /// ```
    pub fn decode(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('.')?;
        let valid_id = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit());
        Some(Cursor {
            at: at.parse().ok()?,
            id: valid_id.then(|| id.to_owned())?,
        })
    }
}

/// A message's delivery to one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub endpoint_id: String,
    pub status: DeliveryStatus,
    /// Attempts in the current schedule (a replay starts a new one).
    pub attempts: i64,
    /// Unix milliseconds; absent once settled, or while the endpoint is disabled.
    pub next_attempt_at: Option<i64>,
    /// Unix milliseconds of the last change.
    pub updated_at: i64,
}

/// A message with where its deliveries stand.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub event_type: String,
    pub created_at: i64,
    pub deliveries: Vec<Delivery>,
}

/// One try to deliver a message to an endpoint.
#[derive(Debug, Clone, Serialize, ToSchema, FromRow)]
pub struct Attempt {
    /// Also the `jti` of the Bearer token the attempt carried.
    pub id: String,
    pub message_id: String,
    pub endpoint_id: String,
    /// Unix milliseconds when the call started.
    pub at: i64,
    /// HTTP status; absent when no answer came.
    pub status: Option<i64>,
    pub duration_ms: i64,
    /// The answer's first 1 KiB.
    pub response_excerpt: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// Filters of [`list`].
#[derive(Debug, Default)]
pub struct MessageFilter<'a> {
    /// Only messages delivered (or being delivered) to this endpoint.
    pub endpoint_id: Option<&'a str>,
    /// Only messages with a delivery in this state (to `endpoint_id` when given).
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<EventType>,
    /// Only messages created at or after this time (unix ms).
    pub since: Option<i64>,
    /// Only messages after this position.
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// The scoped service's messages, newest first, with their deliveries.
pub async fn list(
    db: &Db,
    scope: &ServiceScope,
    filter: &MessageFilter<'_>,
) -> sqlx::Result<Vec<Message>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
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
    let mut messages = Vec::with_capacity(rows.len());
    for (id, event_type, created_at) in rows {
        messages.push(Message {
            deliveries: deliveries(db, scope, &id).await?,
            id,
            event_type,
            created_at,
        });
    }
    Ok(messages)
}

/// The scoped service's message with this id: its deliveries and its body.
pub async fn get(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
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
        id: id.to_owned(),
        event_type,
        created_at,
        deliveries: deliveries(db, scope, id).await?,
    };
    Ok(Some((message, payload)))
}

async fn deliveries(
    db: &Db,
    scope: &ServiceScope,
    message_id: &str,
) -> sqlx::Result<Vec<Delivery>> {
    let rows: Vec<(String, String, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT endpoint_id, status, attempts, next_attempt_at, updated_at FROM deliveries \
         WHERE service_id = $1 AND message_id = $2 ORDER BY created_at, endpoint_id",
    )
    .bind(scope.service_id())
    .bind(message_id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(
            |(endpoint_id, status, attempts, next_attempt_at, updated_at)| {
                Ok(Delivery {
                    endpoint_id,
                    status: DeliveryStatus::from_db(&status)?,
                    attempts,
                    next_attempt_at,
                    updated_at,
                })
            },
        )
        .collect()
}

/// Filters of [`attempts`].
#[derive(Debug, Default)]
pub struct AttemptFilter<'a> {
    pub endpoint_id: Option<&'a str>,
    pub message_id: Option<&'a str>,
    /// `Some(true)`: 2xx answers only; `Some(false)`: the others.
    pub succeeded: Option<bool>,
    /// Only attempts made at or after this time (unix ms).
    pub since: Option<i64>,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// The scoped service's attempts, newest first.
pub async fn attempts(
    db: &Db,
    scope: &ServiceScope,
    filter: &AttemptFilter<'_>,
) -> sqlx::Result<Vec<Attempt>> {
    sqlx::query_as(
        "SELECT id, message_id, endpoint_id, at, status, duration_ms, response_excerpt, error \
         FROM delivery_attempts WHERE service_id = $1 \
         AND ($2 IS NULL OR endpoint_id = $2) AND ($3 IS NULL OR message_id = $3) \
         AND ($4 IS NULL OR ($4 = 1) = (status IS NOT NULL AND status BETWEEN 200 AND 299)) \
         AND ($5 IS NULL OR at >= $5) \
         AND ($6 IS NULL OR at < $6 OR (at = $6 AND id < $7)) \
         ORDER BY at DESC, id DESC LIMIT $8",
    )
    .bind(scope.service_id())
    .bind(filter.endpoint_id)
    .bind(filter.message_id)
    .bind(filter.succeeded.map(i64::from))
    .bind(filter.since)
    .bind(filter.cursor.as_ref().map(|c| c.at))
    .bind(filter.cursor.as_ref().map(|c| c.id.as_str()))
    .bind(filter.limit)
    .fetch_all(db.pool())
    .await
}

/// What [`replay_message`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayed {
    /// This many deliveries start a new schedule.
    Deliveries(u64),
    NoMessage,
    NoEndpoint,
    /// The endpoint named is disabled: enable it first.
    EndpointDisabled,
}

/// Starts a new schedule, due now, for the message's deliveries to enabled endpoints (only to
/// `endpoint_id` when given, creating that delivery if the endpoint never had one).
pub async fn replay_message(
    db: &Db,
    scope: &ServiceScope,
    message_id: &str,
    endpoint_id: Option<&str>,
) -> sqlx::Result<Replayed> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT id FROM delivery_messages WHERE service_id = $1 AND id = $2")
            .bind(scope.service_id())
            .bind(message_id)
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_none() {
        return Ok(Replayed::NoMessage);
    }
    if let Some(endpoint_id) = endpoint_id {
        let enabled: Option<(i64,)> = sqlx::query_as(
            "SELECT enabled FROM delivery_endpoints WHERE service_id = $1 AND id = $2",
        )
        .bind(scope.service_id())
        .bind(endpoint_id)
        .fetch_optional(&mut *tx)
        .await?;
        match enabled {
            None => return Ok(Replayed::NoEndpoint),
            Some((0,)) => return Ok(Replayed::EndpointDisabled),
            Some(_) => add_delivery(&mut tx, scope, message_id, endpoint_id, now).await?,
        }
    }
    let replayed = sqlx::query(
        "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $4, \
         lease_until = NULL, lease_id = NULL, updated_at = $4 \
         WHERE service_id = $1 AND message_id = $2 AND ($3 IS NULL OR endpoint_id = $3) \
         AND endpoint_id IN (SELECT id FROM delivery_endpoints WHERE service_id = $1 AND enabled = 1)",
    )
    .bind(scope.service_id())
    .bind(message_id)
    .bind(endpoint_id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if replayed > 0 {
        outbox::announce(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(Replayed::Deliveries(replayed))
}

/// A pending delivery of the message to the endpoint, unless it has one.
async fn add_delivery(
    conn: &mut sqlx::AnyConnection,
    scope: &ServiceScope,
    message_id: &str,
    endpoint_id: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO deliveries (id, message_id, endpoint_id, service_id, status, attempts, \
         next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5) \
         ON CONFLICT (message_id, endpoint_id) DO NOTHING",
    )
    .bind(new_id())
    .bind(message_id)
    .bind(endpoint_id)
    .bind(scope.service_id())
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
}

/// Replays, to the endpoint, every message created since `since` (unix ms) whose delivery to
/// it failed, and delivers the messages of its types it never received (made while it was
/// disabled, or before it existed). Returns how many deliveries were started, or `None` when
/// the service has no such endpoint.
pub async fn replay_since(
    db: &Db,
    scope: &ServiceScope,
    endpoint_id: &str,
    since: i64,
) -> sqlx::Result<Option<u64>> {
    let Some(endpoint) = endpoints::get(db, scope, endpoint_id).await? else {
        return Ok(None);
    };
    let now = now_ms();
    let mut tx = db.begin().await?;
    let mut started = sqlx::query(
        "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $3, \
         lease_until = NULL, lease_id = NULL, updated_at = $3 \
         WHERE service_id = $1 AND endpoint_id = $2 AND status = 'failed' \
         AND message_id IN (SELECT id FROM delivery_messages WHERE service_id = $1 \
                            AND created_at >= $4)",
    )
    .bind(scope.service_id())
    .bind(endpoint_id)
    .bind(now)
    .bind(since)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let missed: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.id, m.event_type FROM delivery_messages m \
         WHERE m.service_id = $1 AND m.created_at >= $3 AND NOT EXISTS \
         (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.endpoint_id = $2) \
         ORDER BY m.created_at",
    )
    .bind(scope.service_id())
    .bind(endpoint_id)
    .bind(since)
    .fetch_all(&mut *tx)
    .await?;
    for (message_id, event_type) in missed {
        let wanted = EventType::parse(&event_type)
            .is_some_and(|t| endpoints::receives(&endpoint.event_types, t));
        if wanted {
            add_delivery(&mut tx, scope, &message_id, endpoint_id, now).await?;
            started += 1;
        }
    }
    if !endpoint.enabled {
        // Held until the endpoint is enabled.
        endpoints::hold(&mut tx, endpoint_id, now).await?;
    } else if started > 0 {
        outbox::announce(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(Some(started))
}
