//! Notification endpoints (`delivery_endpoints`): where a service wants notifications, which
//! types, the key that signs them, whether they are enabled, and since when their attempts fail.
//! The management API's functions are scoped to a service; the workers' health updates name the
//! endpoint of a claim. The endpoints of extensions' durable triggers (`installation_id`) belong
//! to their installation (`db::extensions`): the API neither shows nor changes them, and they
//! receive only what is enqueued to them.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, FromRow};
use utoipa::ToSchema;

use super::deliveries;
use super::{Db, Order, Paging, now_ms};
use crate::domain::{AuthScheme, EventType, WebhookUrl};
use crate::ids::EndpointId;
use crate::scope::ServiceScope;

/// Why an endpoint is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisabledReason {
    /// Through the API.
    Manual,
    /// By psi: every attempt failed for `[delivery] disable_after`.
    Failing,
}

impl DisabledReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Manual => "manual",
            DisabledReason::Failing => "failing",
        }
    }

    fn from_db(text: &str) -> sqlx::Result<Self> {
        match text {
            "manual" => Ok(DisabledReason::Manual),
            "failing" => Ok(DisabledReason::Failing),
            other => Err(sqlx::Error::Decode(
                format!("unknown disabled reason {other:?}").into(),
            )),
        }
    }
}

/// A stored endpoint; keys are named as on the wire.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: EndpointId,
    pub url: String,
    pub description: String,
    /// Empty: every type.
    pub event_types: Vec<EventType>,
    pub key_name: String,
    pub auth: AuthScheme,
    /// The key replaced by the last rotation and until when it still signs (unix ms).
    pub previous_key: Option<(String, i64)>,
    pub timeout_ms: i64,
    pub enabled: bool,
    pub disabled_reason: Option<DisabledReason>,
    pub disabled_at: Option<i64>,
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(FromRow)]
struct Row {
    id: EndpointId,
    url: String,
    description: String,
    event_types: String,
    key_name: String,
    auth: String,
    previous_key_name: Option<String>,
    previous_until: Option<i64>,
    timeout_ms: i64,
    enabled: i64,
    disabled_reason: Option<String>,
    disabled_at: Option<i64>,
    failing_since: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<Row> for Endpoint {
    type Error = sqlx::Error;

    fn try_from(row: Row) -> sqlx::Result<Self> {
        Ok(Endpoint {
            event_types: serde_json::from_str(&row.event_types)
                .map_err(|e| sqlx::Error::Decode(e.into()))?,
            auth: AuthScheme::from_db(&row.auth)?,
            previous_key: row.previous_key_name.zip(row.previous_until),
            enabled: row.enabled != 0,
            disabled_reason: row
                .disabled_reason
                .as_deref()
                .map(DisabledReason::from_db)
                .transpose()?,
            id: row.id,
            url: row.url,
            description: row.description,
            key_name: row.key_name,
            timeout_ms: row.timeout_ms,
            disabled_at: row.disabled_at,
            failing_since: row.failing_since,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// `SELECT` of endpoints with their keys' names; conditions on `e` follow `WHERE`.
fn select(condition: &str) -> String {
    format!(
        "SELECT e.id, e.url, e.description, e.event_types, k.name AS key_name, e.auth, \
         pk.name AS previous_key_name, e.previous_until, e.timeout_ms, e.enabled, \
         e.disabled_reason, e.disabled_at, e.failing_since, e.created_at, e.updated_at \
         FROM delivery_endpoints e \
         JOIN keys k ON k.id = e.key_id \
         LEFT JOIN keys pk ON pk.id = e.previous_key_id \
         WHERE e.installation_id IS NULL AND {condition}"
    )
}

/// The values of an endpoint, checked.
#[derive(Debug, Clone)]
pub struct EndpointSettings {
    pub url: WebhookUrl,
    pub description: String,
    /// Subscribable types only; empty: every type.
    pub event_types: Vec<EventType>,
    pub timeout_ms: i64,
}

fn types_json(types: &[EventType]) -> String {
    serde_json::to_string(types).expect("event types serialize")
}

/// Stores an endpoint signing with the scoped service's key `key_name` (checked by the caller).
pub async fn insert(
    db: &Db,
    scope: &ServiceScope,
    settings: &EndpointSettings,
    key_name: &str,
    auth: AuthScheme,
) -> sqlx::Result<Endpoint> {
    let id = EndpointId::generate();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO delivery_endpoints (id, service_id, url, description, event_types, key_id, \
         auth, timeout_ms, enabled, created_at, updated_at) \
         SELECT $1, $2, $3, $4, $5, k.id, $6, $7, 1, $8, $8 FROM keys k \
         WHERE k.service_id = $2 AND k.name = $9",
    )
    .bind(&id)
    .bind(scope.service_id())
    .bind(settings.url.as_str())
    .bind(&settings.description)
    .bind(types_json(&settings.event_types))
    .bind(auth.as_str())
    .bind(settings.timeout_ms)
    .bind(now)
    .bind(key_name)
    .execute(db.pool())
    .await?;
    get(db, scope, &id)
        .await?
        .ok_or_else(|| sqlx::Error::RowNotFound)
}

super::positioned!(Endpoint, created_at, id);

/// A page of the scoped service's endpoints (only the enabled or the disabled ones when
/// `enabled` says), oldest first.
pub async fn list(
    db: &Db,
    scope: &ServiceScope,
    enabled: Option<bool>,
    paging: &Paging,
) -> sqlx::Result<Vec<Endpoint>> {
    let page = Paging::filtered_sql("e.enabled", "e.created_at", "e.id", Order::Oldest);
    let sql = select(&format!("e.service_id = $1{page}"));
    let rows: Vec<Row> = paging.read(db, &sql, scope, enabled.map(i64::from)).await?;
    rows.into_iter().map(Endpoint::try_from).collect()
}

/// The scoped service's endpoint with this id.
pub async fn get(db: &Db, scope: &ServiceScope, id: &EndpointId) -> sqlx::Result<Option<Endpoint>> {
    let row: Option<Row> = sqlx::query_as(&select("e.service_id = $1 AND e.id = $2"))
        .bind(scope.service_id())
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(Endpoint::try_from).transpose()
}

/// Replaces the endpoint's settings; returns false if there is no such endpoint.
pub async fn update(
    db: &Db,
    scope: &ServiceScope,
    id: &EndpointId,
    settings: &EndpointSettings,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE delivery_endpoints SET url = $3, description = $4, event_types = $5, \
         timeout_ms = $6, updated_at = $7 WHERE service_id = $1 AND id = $2 AND installation_id IS NULL",
    )
    .bind(scope.service_id())
    .bind(id)
    .bind(settings.url.as_str())
    .bind(&settings.description)
    .bind(types_json(&settings.event_types))
    .bind(settings.timeout_ms)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Marks the scoped service's endpoint enabled, its failures forgotten; false if there is no such
/// endpoint. The caller resumes its held deliveries ([`deliveries::resume`]) in the same
/// transaction.
pub(crate) async fn mark_enabled(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    id: &EndpointId,
    now: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE delivery_endpoints SET enabled = 1, disabled_reason = NULL, disabled_at = NULL, \
         failing_since = NULL, updated_at = $3 WHERE service_id = $1 AND id = $2 AND installation_id IS NULL",
    )
    .bind(scope.service_id())
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Disables the scoped service's endpoint through the API. Returns false if there is no such
/// endpoint.
pub async fn disable(db: &Db, scope: &ServiceScope, id: &EndpointId) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let result = sqlx::query(
        "UPDATE delivery_endpoints SET enabled = 0, \
         disabled_reason = COALESCE(disabled_reason, $3), disabled_at = COALESCE(disabled_at, $4), \
         updated_at = $4 WHERE service_id = $1 AND id = $2 AND installation_id IS NULL",
    )
    .bind(scope.service_id())
    .bind(id)
    .bind(DisabledReason::Manual.as_str())
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if result.rows_affected() == 0 {
        return Ok(false);
    }
    deliveries::hold(&mut tx, id, now_ms()).await?;
    tx.commit().await?;
    Ok(true)
}

/// Makes the scoped service's key `key_name` (checked by the caller) sign the endpoint's
/// deliveries with `auth`; the key it replaces keeps signing next to it until `previous_until`
/// (none when that is `None`). Returns false if there is no such endpoint.
pub async fn rotate(
    db: &Db,
    scope: &ServiceScope,
    id: &EndpointId,
    key_name: &str,
    auth: AuthScheme,
    previous_until: Option<i64>,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE delivery_endpoints SET \
         previous_key_id = CASE WHEN $5 IS NULL THEN NULL ELSE key_id END, \
         previous_until = $5, \
         key_id = (SELECT k.id FROM keys k WHERE k.service_id = $1 AND k.name = $3), \
         auth = $4, updated_at = $6 \
         WHERE service_id = $1 AND id = $2 AND installation_id IS NULL",
    )
    .bind(scope.service_id())
    .bind(id)
    .bind(key_name)
    .bind(auth.as_str())
    .bind(previous_until)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Deletes the endpoint with its deliveries and their attempts (messages stay). Returns false if
/// there was none.
pub async fn delete(db: &Db, scope: &ServiceScope, id: &EndpointId) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM delivery_endpoints WHERE service_id = $1 AND id = $2 AND installation_id IS NULL")
        .bind(scope.service_id())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(result.rows_affected() > 0)
}

/// Whether the scoped service's endpoint is enabled; `None` if there is no such endpoint.
pub(crate) async fn enabled(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    id: &EndpointId,
) -> sqlx::Result<Option<bool>> {
    let enabled: Option<(i64,)> =
        sqlx::query_as("SELECT enabled FROM delivery_endpoints WHERE service_id = $1 AND id = $2 AND installation_id IS NULL")
            .bind(scope.service_id())
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(enabled.map(|(enabled,)| enabled != 0))
}

/// The scoped service's enabled endpoints with the types they subscribe to (empty: every type).
pub(crate) async fn subscriptions(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
) -> sqlx::Result<Vec<(EndpointId, Vec<EventType>)>> {
    let rows: Vec<(EndpointId, String)> = sqlx::query_as(
        "SELECT id, event_types FROM delivery_endpoints WHERE service_id = $1 AND enabled = 1 \
         AND installation_id IS NULL",
    )
    .bind(scope.service_id())
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(id, types)| {
            let types = serde_json::from_str(&types).map_err(|e| sqlx::Error::Decode(e.into()))?;
            Ok((id, types))
        })
        .collect()
}

/// After an attempt that succeeded: the endpoint is failing no longer.
pub(crate) async fn clear_failing(
    conn: &mut AnyConnection,
    endpoint_id: &EndpointId,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE delivery_endpoints SET failing_since = NULL \
         WHERE id = $1 AND failing_since IS NOT NULL",
    )
    .bind(endpoint_id)
    .execute(conn)
    .await
    .map(drop)
}

/// After attempts that all failed, the first at `first_failure`: the endpoint is failing since
/// then, unless it already was.
pub(crate) async fn mark_failing(
    conn: &mut AnyConnection,
    endpoint_id: &EndpointId,
    first_failure: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE delivery_endpoints SET failing_since = COALESCE(failing_since, $2) \
         WHERE id = $1",
    )
    .bind(endpoint_id)
    .bind(first_failure)
    .execute(conn)
    .await
    .map(drop)
}

/// Disables the endpoint at `now` if it is enabled and failing since `cutoff` or earlier;
/// returns since when it failed, if it was disabled.
pub(crate) async fn disable_failing(
    conn: &mut AnyConnection,
    endpoint_id: &EndpointId,
    now: i64,
    cutoff: i64,
) -> sqlx::Result<Option<i64>> {
    let disabled: Option<(i64,)> = sqlx::query_as(
        "UPDATE delivery_endpoints SET enabled = 0, disabled_reason = $2, disabled_at = $3, \
         updated_at = $3 \
         WHERE id = $1 AND enabled = 1 AND failing_since IS NOT NULL AND failing_since <= $4 \
         RETURNING failing_since",
    )
    .bind(endpoint_id)
    .bind(DisabledReason::Failing.as_str())
    .bind(now)
    .bind(cutoff)
    .fetch_optional(conn)
    .await?;
    Ok(disabled.map(|(failing_since,)| failing_since))
}
