//! Deliveries (`deliveries`): one per message and endpoint, where it stands, its schedule and
//! the lease of the claim that holds it. The workers' claims, renewals and outcomes, and the
//! writes that hold, resume and replay deliveries; a caller that writes more than one statement
//! passes its transaction. The turn order of claims and the retry schedule are `delivery`'s.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, FromRow};
use utoipa::ToSchema;

use super::delivery_attempts::{self, Outcome};
use super::{Backend, Db, new_id, placeholders};
use crate::ids::{EndpointId, MessageId};
use crate::scope::ServiceScope;

/// Endpoints whose due deliveries one query ([`due_of`]) looks up.
pub(crate) const PROBE_CHUNK: usize = 100;

/// The endpoints that have deliveries waiting for an attempt, as `pending (endpoint_id)` with a
/// last NULL row: one index probe each (`deliveries_due_by_endpoint`), however many deliveries
/// they have.
const PENDING_ENDPOINTS: &str = "WITH RECURSIVE pending (endpoint_id) AS ( \
     SELECT MIN(endpoint_id) FROM deliveries WHERE next_attempt_at IS NOT NULL \
     UNION ALL \
     SELECT (SELECT MIN(d.endpoint_id) FROM deliveries d \
             WHERE d.next_attempt_at IS NOT NULL AND d.endpoint_id > p.endpoint_id) \
     FROM pending p WHERE p.endpoint_id IS NOT NULL)";

/// Of the endpoints in `pending`, those with a due delivery no live lease covers (at `$1`) and
/// fewer than `$2` deliveries held by this process, as `(endpoint_id, busy)`: [`ready_endpoints`]
/// and the `ready` step of [`claim_postgres`]. `$3` is this process's held deliveries per
/// endpoint, a JSON object (endpoint id → count); leases are not indexed (the claim's update
/// then rewrites no index), so they are counted in the process, not in the table.
fn ready_endpoints_sql(backend: Backend) -> String {
    let pending = pending_with_busy(backend);
    format!(
        "SELECT endpoint_id, busy FROM ( \
             SELECT p.endpoint_id, \
                    (SELECT d.next_attempt_at FROM deliveries d \
                     WHERE d.endpoint_id = p.endpoint_id AND d.next_attempt_at IS NOT NULL \
                     AND (d.lease_until IS NULL OR d.lease_until < $1) \
                     ORDER BY d.next_attempt_at LIMIT 1) AS due, \
                    COALESCE(b.busy, 0) AS busy \
             FROM {pending}) endpoints \
         WHERE due <= $1 AND busy < $2"
    )
}

/// The endpoints in `pending` (as `p`), each with the deliveries this process holds of it (as
/// `b.busy`, NULL for none) from the JSON object bound at `$3` ([`busy_json`]).
fn pending_with_busy(backend: Backend) -> String {
    let entries = backend.json_entries("$3");
    format!(
        "pending p LEFT JOIN ( \
             SELECT key AS endpoint_id, CAST(value AS BIGINT) AS busy FROM {entries}) b \
         ON b.endpoint_id = p.endpoint_id \
         WHERE p.endpoint_id IS NOT NULL"
    )
}

/// `busy` as [`pending_with_busy`] reads it: a JSON object of endpoint id → count.
fn busy_json(busy: &[(EndpointId, usize)]) -> String {
    let entries: serde_json::Map<String, serde_json::Value> = busy
        .iter()
        .map(|(endpoint, count)| (endpoint.to_string(), (*count).into()))
        .collect();
    serde_json::Value::Object(entries).to_string()
}

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

/// A message's delivery to one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    #[schema(value_type = String)]
    pub endpoint_id: EndpointId,
    pub status: DeliveryStatus,
    /// Attempts in the current schedule (a replay starts a new one).
    pub attempts: i64,
    /// Unix milliseconds; absent once settled, or while the endpoint is disabled.
    pub next_attempt_at: Option<i64>,
    /// Unix milliseconds of the last change.
    pub updated_at: i64,
}

/// The deliveries of the scoped service's message, oldest first.
pub(crate) async fn of_message(
    db: &Db,
    scope: &ServiceScope,
    message_id: &MessageId,
) -> sqlx::Result<Vec<Delivery>> {
    let mut found = of_messages(db, scope, std::slice::from_ref(message_id)).await?;
    Ok(found.remove(message_id).unwrap_or_default())
}

/// The deliveries of each of the scoped service's messages `message_ids` (a page of them), oldest
/// first: one statement for the page.
pub(crate) async fn of_messages(
    db: &Db,
    scope: &ServiceScope,
    message_ids: &[MessageId],
) -> sqlx::Result<HashMap<MessageId, Vec<Delivery>>> {
    let mut found: HashMap<MessageId, Vec<Delivery>> = HashMap::new();
    if message_ids.is_empty() {
        return Ok(found);
    }
    let sql = format!(
        "SELECT message_id, endpoint_id, status, attempts, next_attempt_at, updated_at \
         FROM deliveries WHERE service_id = $1 AND message_id IN ({}) \
         ORDER BY created_at, endpoint_id",
        placeholders(2, message_ids.len())
    );
    let mut query = sqlx::query_as(&sql).bind(scope.service_id());
    for id in message_ids {
        query = query.bind(id);
    }
    let rows: Vec<(MessageId, EndpointId, String, i64, Option<i64>, i64)> =
        query.fetch_all(db.pool()).await?;
    for (message_id, endpoint_id, status, attempts, next_attempt_at, updated_at) in rows {
        found.entry(message_id).or_default().push(Delivery {
            endpoint_id,
            status: DeliveryStatus::from_db(&status)?,
            attempts,
            next_attempt_at,
            updated_at,
        });
    }
    Ok(found)
}

/// The start of every insert of new deliveries: each is pending with no attempt yet.
const INSERT_DELIVERIES: &str = "INSERT INTO deliveries (id, message_id, endpoint_id, service_id, \
     status, attempts, next_attempt_at, created_at, updated_at)";

/// One pending delivery of `message_id` per endpoint, due now.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    service_id: &str,
    message_id: &MessageId,
    endpoint_ids: &[EndpointId],
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
    let sql = format!("{INSERT_DELIVERIES} VALUES {}", rows.join(", "));
    let mut query = sqlx::query(&sql)
        .bind(message_id)
        .bind(service_id)
        .bind(now);
    for endpoint in endpoint_ids {
        query = query.bind(new_id()).bind(endpoint);
    }
    query.execute(conn).await.map(drop)
}

/// A pending delivery of `message_id`, due now, to the scoped service's endpoint if it is
/// enabled; returns how many were written (0 or 1).
pub(crate) async fn insert_if_enabled(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    message_id: &MessageId,
    endpoint_id: &EndpointId,
    now: i64,
) -> sqlx::Result<usize> {
    let done = sqlx::query(&format!(
        "{INSERT_DELIVERIES} \
         SELECT $1, $2, id, service_id, 'pending', 0, $5, $5, $5 FROM delivery_endpoints \
         WHERE id = $3 AND service_id = $4 AND enabled = 1"
    ))
    .bind(new_id())
    .bind(message_id)
    .bind(endpoint_id)
    .bind(scope.service_id())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
}

/// PostgreSQL: message `message_id` (its type, body and time) and a pending delivery of it, due
/// now, to the scoped service's endpoint if it is enabled, in one statement: neither is written
/// otherwise. Returns whether they were.
pub(crate) async fn insert_with_message_if_enabled(
    db: &Db,
    scope: &ServiceScope,
    message: (&MessageId, &str, &str),
    endpoint_id: &EndpointId,
    now: i64,
) -> sqlx::Result<bool> {
    let (message_id, event_type, body) = message;
    let done = sqlx::query(&format!(
        "WITH endpoint AS ( \
             SELECT id, service_id FROM delivery_endpoints \
             WHERE id = $3 AND service_id = $4 AND enabled = 1), \
         message AS ( \
             INSERT INTO delivery_messages (id, service_id, event_type, payload, created_at) \
             SELECT $2, service_id, $6, $7, $5 FROM endpoint RETURNING id) \
         {INSERT_DELIVERIES} \
         SELECT $1, m.id, e.id, e.service_id, 'pending', 0, $5, $5, $5 \
         FROM message m CROSS JOIN endpoint e"
    ))
    .bind(new_id())
    .bind(message_id)
    .bind(endpoint_id)
    .bind(scope.service_id())
    .bind(now)
    .bind(event_type)
    .bind(body)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A pending delivery of the message to the endpoint, unless it has one.
pub(crate) async fn add(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    message_id: &MessageId,
    endpoint_id: &EndpointId,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "{INSERT_DELIVERIES} VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5) \
             ON CONFLICT (message_id, endpoint_id) DO NOTHING"
    ))
    .bind(new_id())
    .bind(message_id)
    .bind(endpoint_id)
    .bind(scope.service_id())
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
}

/// An endpoint with due deliveries and room under its cap.
#[derive(Debug, FromRow)]
pub(crate) struct Ready {
    pub endpoint_id: EndpointId,
    /// The deliveries this process holds for it: calls in flight and waiting for its lane.
    pub busy: i64,
}

/// The endpoints, by id (byte order), that have a due delivery no live lease covers and of which
/// this process holds fewer than `cap` deliveries (`busy`, per endpoint; none when missing).
pub(crate) async fn ready_endpoints(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    cap: i64,
    busy: &[(EndpointId, usize)],
) -> sqlx::Result<Vec<Ready>> {
    sqlx::query_as(&format!(
        "{PENDING_ENDPOINTS} {}",
        ready_endpoints_sql(backend)
    ))
    .bind(now)
    .bind(cap)
    .bind(busy_json(busy))
    .fetch_all(conn)
    .await
    .map(|mut ready: Vec<Ready>| {
        ready.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
        ready
    })
}

/// For each of `endpoints`, in order, the ids of its due deliveries no live lease covers,
/// earliest first, as many as its cap leaves room for.
pub(crate) async fn due_of(
    conn: &mut AnyConnection,
    now: i64,
    cap: i64,
    endpoints: &[Ready],
) -> sqlx::Result<Vec<Vec<String>>> {
    // $1 is the time; each endpoint adds its id and room.
    let branches: Vec<String> = (0..endpoints.len())
        .map(|i| {
            let (endpoint, room) = (2 + 2 * i, 3 + 2 * i);
            format!(
                "SELECT id, endpoint_id, next_attempt_at FROM (SELECT id, endpoint_id, \
                 next_attempt_at FROM deliveries WHERE endpoint_id = ${endpoint} \
                 AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1) \
                 ORDER BY next_attempt_at LIMIT ${room}) due{i}"
            )
        })
        .collect();
    let sql = branches.join(" UNION ALL ");
    let mut query = sqlx::query_as(&sql).bind(now);
    for endpoint in endpoints {
        query = query
            .bind(&endpoint.endpoint_id)
            .bind(cap.saturating_sub(endpoint.busy));
    }
    let mut rows: Vec<(String, EndpointId, i64)> = query.fetch_all(conn).await?;
    rows.sort_by_key(|(_, _, due)| *due);
    Ok(endpoints
        .iter()
        .map(|endpoint| {
            rows.iter()
                .filter(|(_, of, _)| *of == endpoint.endpoint_id)
                .map(|(id, _, _)| id.clone())
                .collect()
        })
        .collect())
}

/// Leases those of `ids` that are still due and that no live lease covers to `lease_id` until
/// `lease_until`, counting an attempt for each; returns the ids it leased. PostgreSQL skips rows
/// another claim has locked.
pub(crate) async fn lease(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[&str],
    lease_id: &str,
    lease_until: i64,
    now: i64,
) -> sqlx::Result<Vec<String>> {
    let lock = match backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE deliveries SET lease_until = $1, lease_id = $2, attempts = attempts + 1, \
         updated_at = $3 \
         WHERE id IN (SELECT id FROM deliveries WHERE id IN ({}) AND next_attempt_at <= $3 \
                      AND (lease_until IS NULL OR lease_until < $3) {lock}) \
         RETURNING id",
        placeholders(4, ids.len())
    );
    let mut query = sqlx::query_as(&sql)
        .bind(lease_until)
        .bind(lease_id)
        .bind(now);
    for id in ids {
        query = query.bind(*id);
    }
    let leased: Vec<(String,)> = query.fetch_all(conn).await?;
    Ok(leased.into_iter().map(|(id,)| id).collect())
}

/// A claimed delivery with what its attempt needs.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct Claimed {
    pub delivery_id: String,
    /// The claim's lease: the outcome is recorded, and the lease renewed, only while it holds.
    pub lease_id: String,
    pub message_id: MessageId,
    pub endpoint_id: EndpointId,
    pub service_id: String,
    pub service_did: String,
    /// Attempts in this schedule, this one included.
    pub attempts: i64,
    pub event_type: String,
    pub payload: String,
    pub url: String,
    pub auth: String,
    pub key_id: String,
    pub previous_key_id: Option<String>,
    pub previous_until: Option<i64>,
    pub timeout_ms: i64,
    /// Since when the endpoint's attempts fail, as of the claim.
    pub failing_since: Option<i64>,
}

/// What [`Claimed`] reads: the claimed deliveries `d` with their message, endpoint and service.
const CLAIMED_COLUMNS: &str = "d.id AS delivery_id, d.lease_id, d.message_id, d.endpoint_id, \
     d.service_id, s.did AS service_did, d.attempts, m.event_type, m.payload, e.url, e.auth, \
     e.key_id, e.previous_key_id, e.previous_until, e.timeout_ms, e.failing_since";
const CLAIMED_JOINS: &str = "JOIN delivery_messages m ON m.id = d.message_id \
     JOIN delivery_endpoints e ON e.id = d.endpoint_id \
     JOIN services s ON s.id = d.service_id";

/// PostgreSQL: the whole claim in one statement, the same one [`ready_endpoints`], [`due_of`],
/// [`lease`] and [`claimed`] make on SQLite: up to `limit` due deliveries no live lease covers,
/// within each endpoint's `cap` of deliveries held by this process (`busy`), endpoints taking
/// turns (one delivery each per round, those after `after` first, in byte order), leased to
/// `lease_id` until `lease_until`, an attempt counted for each, rows other claims have locked
/// skipped. Returns them in turn order, with what their attempts need.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn claim_postgres(
    db: &Db,
    now: i64,
    cap: i64,
    busy: &[(EndpointId, usize)],
    limit: usize,
    after: &str,
    lease_id: &str,
    lease_until: i64,
) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as(&format!(
        "{PENDING_ENDPOINTS}, \
         ready AS ({}), \
         due AS ( \
             SELECT q.id, r.endpoint_id, \
                    ROW_NUMBER() OVER (PARTITION BY r.endpoint_id \
                                       ORDER BY q.next_attempt_at, q.id) AS round \
             FROM ready r CROSS JOIN LATERAL ( \
                 SELECT id, next_attempt_at FROM deliveries d \
                 WHERE d.endpoint_id = r.endpoint_id AND d.next_attempt_at <= $1 \
                 AND (d.lease_until IS NULL OR d.lease_until < $1) \
                 ORDER BY d.next_attempt_at LIMIT $2 - r.busy) q), \
         picked AS ( \
             SELECT id, endpoint_id, round, endpoint_id COLLATE \"C\" <= $4 AS wrapped FROM due \
             ORDER BY round, wrapped, endpoint_id COLLATE \"C\" LIMIT $5), \
         leased AS ( \
             UPDATE deliveries SET lease_until = $6, lease_id = $7, attempts = attempts + 1, \
                    updated_at = $1 \
             WHERE id IN (SELECT id FROM deliveries WHERE id IN (SELECT id FROM picked) \
                          AND next_attempt_at <= $1 \
                          AND (lease_until IS NULL OR lease_until < $1) \
                          FOR UPDATE SKIP LOCKED) \
             RETURNING id, lease_id, message_id, endpoint_id, service_id, attempts) \
         SELECT {CLAIMED_COLUMNS} \
         FROM leased d JOIN picked p ON p.id = d.id {CLAIMED_JOINS} \
         ORDER BY p.round, p.wrapped, d.endpoint_id COLLATE \"C\"",
        ready_endpoints_sql(Backend::Postgres)
    ))
    .bind(now)
    .bind(cap)
    .bind(busy_json(busy))
    .bind(after)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .bind(lease_until)
    .bind(lease_id)
    .fetch_all(db.relaxed_pool())
    .await
}

/// The deliveries of `ids` that `lease_id` holds, with their message, endpoint and service.
pub(crate) async fn claimed(db: &Db, lease_id: &str, ids: &[String]) -> sqlx::Result<Vec<Claimed>> {
    let sql = format!(
        "SELECT {CLAIMED_COLUMNS} FROM deliveries d {CLAIMED_JOINS} \
         WHERE d.lease_id = $1 AND d.id IN ({})",
        placeholders(2, ids.len())
    );
    let mut query = sqlx::query_as(&sql).bind(lease_id);
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(db.pool()).await
}

/// When a delivery next becomes claimable after a claim at `now` that took nothing (at `now`, the
/// claim's time, so that none falling due since is missed): the earliest retry still to come, or
/// the earliest end of a live lease among the first `scan` due deliveries of each endpoint this
/// process holds fewer than `cap` deliveries of (`busy`, as for [`ready_endpoints`]); `None`
/// when neither exists. Leases are not indexed, but such an endpoint's due deliveries are leased
/// (else the claim would have taken one; on PostgreSQL, unless another process's claim had them
/// locked), and claims take the earliest due first, so the leases of a process that died are
/// among the first. A lease further back is seen at the next poll; an endpoint at this
/// process's cap is claimed again when one of the process's calls to it ends.
pub(crate) async fn next_due(
    db: &Db,
    now: i64,
    cap: i64,
    scan: i64,
    busy: &[(EndpointId, usize)],
) -> sqlx::Result<Option<i64>> {
    let pending = pending_with_busy(db.backend());
    let (at,): (Option<i64>,) = sqlx::query_as(&format!(
        "{PENDING_ENDPOINTS} \
         SELECT MIN(at) FROM ( \
             SELECT (SELECT d.next_attempt_at FROM deliveries d \
                     WHERE d.endpoint_id = p.endpoint_id AND d.next_attempt_at > $1 \
                     ORDER BY d.next_attempt_at LIMIT 1) AS at \
             FROM pending p WHERE p.endpoint_id IS NOT NULL \
             UNION ALL \
             SELECT (SELECT MIN(l.lease_until) FROM ( \
                         SELECT d.lease_until FROM deliveries d \
                         WHERE d.endpoint_id = p.endpoint_id AND d.next_attempt_at <= $1 \
                         ORDER BY d.next_attempt_at LIMIT $4) l \
                     WHERE l.lease_until >= $1) AS at \
             FROM {pending} AND COALESCE(b.busy, 0) < $2) soonest"
    ))
    .bind(now)
    .bind(cap)
    .bind(busy_json(busy))
    .bind(scan)
    .fetch_one(db.relaxed_pool())
    .await?;
    Ok(at)
}

/// Extends to `lease_until` the leases of `held` (delivery id, lease id) that still hold, and
/// returns their delivery ids: a delivery held, replayed or claimed again since has another lease
/// (or none) and is left alone.
pub(crate) async fn renew<'a>(
    db: &Db,
    held: impl ExactSizeIterator<Item = (&'a str, &'a str)> + Clone,
    lease_until: i64,
) -> sqlx::Result<Vec<String>> {
    let count = held.len();
    if count == 0 {
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE deliveries SET lease_until = $1 WHERE id IN ({}) AND lease_id IN ({}) RETURNING id",
        placeholders(2, count),
        placeholders(count + 2, count)
    );
    let mut query = sqlx::query_as(&sql).bind(lease_until);
    for (id, _) in held.clone() {
        query = query.bind(id);
    }
    for (_, lease) in held {
        query = query.bind(lease);
    }
    let mut tx = db.begin_relaxed().await?;
    let renewed: Vec<(String,)> = query.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(renewed.into_iter().map(|(id,)| id).collect())
}

/// Settles as succeeded the deliveries of the succeeded `outcomes` that their claims still hold.
pub(crate) async fn succeeded(
    conn: &mut AnyConnection,
    outcomes: &[Outcome],
    now: i64,
) -> sqlx::Result<()> {
    let succeeded: Vec<&Outcome> = outcomes.iter().filter(|o| o.succeeded()).collect();
    if succeeded.is_empty() {
        return Ok(());
    }
    let sql = succeeded_sql(1, succeeded.len());
    let mut query = sqlx::query(&sql).bind(now);
    for outcome in succeeded {
        query = query
            .bind(&outcome.claimed.delivery_id)
            .bind(&outcome.claimed.lease_id);
    }
    query.execute(conn).await.map(drop)
}

/// PostgreSQL: the attempt rows of `outcomes`, all succeeded, and their deliveries settled as
/// succeeded (while their claims hold them), in one statement.
pub(crate) async fn succeeded_with_attempts(
    db: &Db,
    outcomes: &[Outcome],
    now: i64,
) -> sqlx::Result<()> {
    let first = outcomes.len() * delivery_attempts::COLUMNS + 1;
    let sql = format!(
        "WITH attempts AS ({}) {}",
        delivery_attempts::insert_sql(outcomes.len()),
        succeeded_sql(first, outcomes.len())
    );
    let mut query = delivery_attempts::bind_rows(sqlx::query(&sql), outcomes).bind(now);
    for outcome in outcomes {
        query = query
            .bind(&outcome.claimed.delivery_id)
            .bind(&outcome.claimed.lease_id);
    }
    query.execute(db.relaxed_pool()).await.map(drop)
}

/// The update that settles `count` deliveries as succeeded: the time is `$first`, then each
/// delivery's id and lease id.
fn succeeded_sql(first: usize, count: usize) -> String {
    let pairs: Vec<String> = (0..count)
        .map(|i| format!("(${}, ${})", first + 1 + 2 * i, first + 2 + 2 * i))
        .collect();
    format!(
        "UPDATE deliveries SET status = 'succeeded', next_attempt_at = NULL, lease_until = NULL, \
         lease_id = NULL, updated_at = ${first} WHERE (id, lease_id) IN (VALUES {})",
        pairs.join(", ")
    )
}

/// After a failed attempt, while `lease_id` still holds the delivery: `Pending` again until
/// `next_attempt_at`, or `Failed` with none.
pub(crate) async fn attempt_failed(
    conn: &mut AnyConnection,
    delivery_id: &str,
    lease_id: &str,
    status: DeliveryStatus,
    next_attempt_at: Option<i64>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE deliveries SET status = $3, next_attempt_at = $4, lease_until = NULL, \
         lease_id = NULL, updated_at = $5 WHERE id = $1 AND lease_id = $2",
    )
    .bind(delivery_id)
    .bind(lease_id)
    .bind(status.as_str())
    .bind(next_attempt_at)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
}

/// Holds the endpoint's pending deliveries until it is enabled again, taking back any claim (a
/// call in flight is recorded as an attempt but changes nothing).
pub(crate) async fn hold(
    conn: &mut AnyConnection,
    endpoint_id: &EndpointId,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE deliveries SET next_attempt_at = NULL, lease_until = NULL, lease_id = NULL, \
         updated_at = $2 WHERE endpoint_id = $1 AND status = 'pending'",
    )
    .bind(endpoint_id)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
}

/// Starts a new schedule, due `now`, for the deliveries [`hold`] held; returns how many.
pub(crate) async fn resume(
    conn: &mut AnyConnection,
    endpoint_id: &EndpointId,
    now: i64,
) -> sqlx::Result<u64> {
    let resumed = sqlx::query(
        "UPDATE deliveries SET next_attempt_at = $2, attempts = 0, updated_at = $2 \
         WHERE endpoint_id = $1 AND status = 'pending' AND next_attempt_at IS NULL",
    )
    .bind(endpoint_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(resumed.rows_affected())
}

/// Starts a new schedule, due `now`, for the message's deliveries to the scoped service's
/// enabled endpoints (only to `endpoint_id` when given); returns how many.
pub(crate) async fn replay(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    message_id: &MessageId,
    endpoint_id: Option<&EndpointId>,
    now: i64,
) -> sqlx::Result<u64> {
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
    .execute(conn)
    .await?;
    Ok(replayed.rows_affected())
}

/// Starts a new schedule, due `now`, for the endpoint's failed deliveries of messages created
/// since `since` (unix ms); returns how many.
pub(crate) async fn replay_failed(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    endpoint_id: &EndpointId,
    since: i64,
    now: i64,
) -> sqlx::Result<u64> {
    let started = sqlx::query(
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
    .execute(conn)
    .await?;
    Ok(started.rows_affected())
}
