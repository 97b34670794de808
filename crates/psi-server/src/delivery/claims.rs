//! The workers' queries: claim due deliveries with a lease, read what to send, record attempts
//! and outcomes. Each is one short statement or transaction: no row lock or connection is held
//! while a call runs.

use std::time::Duration;

use sqlx::{AnyConnection, FromRow};

use super::config::DeliveryConfig;
use super::endpoints::{self, DisabledReason};
use super::millis;
use super::outbox::{self, Target};
use super::payload::{EndpointDisabled, EventType};
use super::schedule;
use crate::crypto::did::Did;
use crate::db::{Backend, Db};
use crate::scope::ServiceScope;

/// How many pending deliveries the idle-time estimate looks at.
const NEXT_DUE_SCAN: i64 = 1000;

/// A claimed delivery with what its attempt needs.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct Claimed {
    pub delivery_id: String,
    pub message_id: String,
    pub endpoint_id: String,
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
}

/// Claims up to `limit` due deliveries that no live lease covers, for `lease_id` until
/// `lease_until`, counting an attempt for each. PostgreSQL skips rows other processes are
/// claiming at the same moment; SQLite has a single writer, so claims never overlap.
pub(crate) async fn claim(
    db: &Db,
    now: i64,
    lease_until: i64,
    lease_id: &str,
    limit: usize,
) -> sqlx::Result<Vec<Claimed>> {
    let lock = match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let ids: Vec<(String,)> = sqlx::query_as(&format!(
        "UPDATE deliveries SET lease_until = $1, lease_id = $2, attempts = attempts + 1, \
         updated_at = $3 \
         WHERE id IN (SELECT id FROM deliveries WHERE next_attempt_at <= $3 \
                      AND (lease_until IS NULL OR lease_until < $3) \
                      ORDER BY next_attempt_at LIMIT $4 {lock}) \
         RETURNING id"
    ))
    .bind(lease_until)
    .bind(lease_id)
    .bind(now)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(db.pool())
    .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT d.id AS delivery_id, d.message_id, d.endpoint_id, d.service_id, \
         s.did AS service_did, d.attempts, m.event_type, m.payload, e.url, e.auth, e.key_id, \
         e.previous_key_id, e.previous_until, e.timeout_ms \
         FROM deliveries d \
         JOIN delivery_messages m ON m.id = d.message_id \
         JOIN delivery_endpoints e ON e.id = d.endpoint_id \
         JOIN services s ON s.id = d.service_id \
         WHERE d.lease_id = $1 AND d.id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as(&sql).bind(lease_id);
    for (id,) in &ids {
        query = query.bind(id);
    }
    query.fetch_all(db.pool()).await
}

/// When a delivery next becomes claimable (due and not leased), as far as the earliest pending
/// ones tell; `None` when nothing is pending.
pub(crate) async fn next_due(db: &Db) -> sqlx::Result<Option<i64>> {
    let (at,): (Option<i64>,) = sqlx::query_as(
        "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at \
                    THEN lease_until ELSE next_attempt_at END) \
         FROM (SELECT next_attempt_at, lease_until FROM deliveries \
               WHERE next_attempt_at IS NOT NULL ORDER BY next_attempt_at LIMIT $1) due",
    )
    .bind(NEXT_DUE_SCAN)
    .fetch_one(db.pool())
    .await?;
    Ok(at)
}

/// What one attempt gave.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub claimed: Claimed,
    pub attempt_id: String,
    /// Unix ms when the call started.
    pub at: i64,
    pub status: Option<u16>,
    pub duration_ms: i64,
    pub response_excerpt: String,
    pub error: Option<String>,
    /// The receiver's `Retry-After`, as a wait.
    pub retry_after: Option<Duration>,
}

impl Outcome {
    pub(crate) fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// Records `outcomes` of the claim `lease_id` at `now` in one transaction: an attempt row each,
/// then each delivery's new state (only while the claim still holds it), then each endpoint's
/// health, disabling an endpoint that has failed for `disable_after` and telling the service.
pub(crate) async fn record(
    db: &Db,
    config: &DeliveryConfig,
    lease_id: &str,
    outcomes: &[Outcome],
    now: i64,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    insert_attempts(&mut tx, outcomes).await?;
    let succeeded: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.succeeded())
        .map(|o| o.claimed.delivery_id.as_str())
        .collect();
    settle_succeeded(&mut tx, lease_id, &succeeded, now).await?;
    for outcome in outcomes.iter().filter(|o| !o.succeeded()) {
        let attempts = usize::try_from(outcome.claimed.attempts).unwrap_or(usize::MAX);
        let wait = schedule::next_wait(
            config,
            attempts,
            outcome.retry_after,
            &mut rand::thread_rng(),
        );
        let (status, next) = match wait {
            Some(wait) => ("pending", Some(now.saturating_add(millis(wait)))),
            None => ("failed", None),
        };
        sqlx::query(
            "UPDATE deliveries SET status = $3, next_attempt_at = $4, lease_until = NULL, \
             lease_id = NULL, updated_at = $5 WHERE id = $1 AND lease_id = $2",
        )
        .bind(&outcome.claimed.delivery_id)
        .bind(lease_id)
        .bind(status)
        .bind(next)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    endpoint_health(&mut tx, config, outcomes, now).await?;
    tx.commit().await
}

async fn insert_attempts(conn: &mut AnyConnection, outcomes: &[Outcome]) -> sqlx::Result<()> {
    const COLUMNS: usize = 10;
    let rows: Vec<String> = (0..outcomes.len())
        .map(|row| {
            let cells: Vec<String> = (1..=COLUMNS)
                .map(|column| format!("${}", row * COLUMNS + column))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO delivery_attempts (id, delivery_id, message_id, endpoint_id, service_id, at, \
         status, duration_ms, response_excerpt, error) VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for outcome in outcomes {
        let claimed = &outcome.claimed;
        query = query
            .bind(&outcome.attempt_id)
            .bind(&claimed.delivery_id)
            .bind(&claimed.message_id)
            .bind(&claimed.endpoint_id)
            .bind(&claimed.service_id)
            .bind(outcome.at)
            .bind(outcome.status.map(i64::from))
            .bind(outcome.duration_ms)
            .bind(&outcome.response_excerpt)
            .bind(&outcome.error);
    }
    query.execute(conn).await.map(drop)
}

async fn settle_succeeded(
    conn: &mut AnyConnection,
    lease_id: &str,
    ids: &[&str],
    now: i64,
) -> sqlx::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "UPDATE deliveries SET status = 'succeeded', next_attempt_at = NULL, lease_until = NULL, \
         lease_id = NULL, updated_at = $2 WHERE lease_id = $1 AND id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(lease_id).bind(now);
    for id in ids {
        query = query.bind(*id);
    }
    query.execute(conn).await.map(drop)
}

/// A success clears an endpoint's failing time; failures start it, and an endpoint failing since
/// `disable_after` ago or longer is disabled.
async fn endpoint_health(
    conn: &mut AnyConnection,
    config: &DeliveryConfig,
    outcomes: &[Outcome],
    now: i64,
) -> sqlx::Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for outcome in outcomes {
        let endpoint_id = outcome.claimed.endpoint_id.as_str();
        if seen.contains(&endpoint_id) {
            continue;
        }
        seen.push(endpoint_id);
        let of_endpoint = || {
            outcomes
                .iter()
                .filter(|o| o.claimed.endpoint_id == endpoint_id)
        };
        if of_endpoint().any(Outcome::succeeded) {
            sqlx::query(
                "UPDATE delivery_endpoints SET failing_since = NULL \
                 WHERE id = $1 AND failing_since IS NOT NULL",
            )
            .bind(endpoint_id)
            .execute(&mut *conn)
            .await?;
            continue;
        }
        let first_failure = of_endpoint().map(|o| o.at).min().unwrap_or(now);
        sqlx::query(
            "UPDATE delivery_endpoints SET failing_since = COALESCE(failing_since, $2) \
             WHERE id = $1",
        )
        .bind(endpoint_id)
        .bind(first_failure)
        .execute(&mut *conn)
        .await?;
        disable_if_failing(conn, config, &outcome.claimed, now).await?;
    }
    Ok(())
}

/// Disables the claim's endpoint if it has failed for `disable_after`, holds its deliveries and
/// enqueues `endpoint.disabled` for the service's other endpoints.
async fn disable_if_failing(
    conn: &mut AnyConnection,
    config: &DeliveryConfig,
    claimed: &Claimed,
    now: i64,
) -> sqlx::Result<()> {
    let cutoff = now.saturating_sub(millis(config.disable_after));
    let disabled: Option<(i64,)> = sqlx::query_as(
        "UPDATE delivery_endpoints SET enabled = 0, disabled_reason = $2, disabled_at = $3, \
         updated_at = $3 \
         WHERE id = $1 AND enabled = 1 AND failing_since IS NOT NULL AND failing_since <= $4 \
         RETURNING failing_since",
    )
    .bind(&claimed.endpoint_id)
    .bind(DisabledReason::Failing.as_str())
    .bind(now)
    .bind(cutoff)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((failing_since,)) = disabled else {
        return Ok(());
    };
    endpoints::hold(&mut *conn, &claimed.endpoint_id, now).await?;
    let did: Did = claimed
        .service_did
        .parse()
        .map_err(|e| sqlx::Error::Decode(format!("a stored service DID: {e}").into()))?;
    let scope = ServiceScope::new(claimed.service_id.clone(), did);
    tracing::warn!(
        did = %scope.did(),
        endpoint = %claimed.endpoint_id,
        failing_since,
        "notification endpoint disabled: every attempt failed for too long"
    );
    let notice = EndpointDisabled {
        endpoint_id: claimed.endpoint_id.clone(),
        url: claimed.url.clone(),
        failing_since,
        disabled_at: now,
    };
    outbox::enqueue_to(
        conn,
        &scope,
        EventType::EndpointDisabled,
        &notice,
        Target::Subscribed,
    )
    .await
    .map(drop)
}
