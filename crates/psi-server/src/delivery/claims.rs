//! The workers' queries: claim due deliveries fairly across endpoints with a lease, read what to
//! send, renew the leases of running calls, record attempts and outcomes. Each is one short
//! statement or transaction: no row lock or connection is held while a call runs.

use std::time::Duration;

use sqlx::{AnyConnection, FromRow};

use super::config::DeliveryConfig;
use super::endpoints::{self, DisabledReason};
use super::millis;
use super::outbox::{self, Target};
use super::payload::{EndpointDisabled, EventType};
use super::schedule;
use crate::db::{Backend, Db};
use crate::scope::ServiceScope;
use psi_link::Did;

/// Endpoints whose due deliveries one query looks up.
const PROBE_CHUNK: usize = 100;
/// The endpoints that have deliveries waiting for an attempt, as `pending (endpoint_id)` with a
/// last NULL row: one index probe each (`deliveries_due_by_endpoint`), however many deliveries
/// they have.
const PENDING_ENDPOINTS: &str = "WITH RECURSIVE pending (endpoint_id) AS ( \
     SELECT MIN(endpoint_id) FROM deliveries WHERE next_attempt_at IS NOT NULL \
     UNION ALL \
     SELECT (SELECT MIN(d.endpoint_id) FROM deliveries d \
             WHERE d.next_attempt_at IS NOT NULL AND d.endpoint_id > p.endpoint_id) \
     FROM pending p WHERE p.endpoint_id IS NOT NULL)";

/// A claimed delivery with what its attempt needs.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct Claimed {
    pub delivery_id: String,
    /// The claim's lease: the outcome is recorded, and the lease renewed, only while it holds.
    pub lease_id: String,
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

/// What a claim took.
#[derive(Debug)]
pub(crate) struct Claim {
    pub claimed: Vec<Claimed>,
    /// The endpoint the claim's turn ended with; the next claim starts after it.
    pub last_endpoint: Option<String>,
}

/// An endpoint with due deliveries and room under its cap.
#[derive(Debug, FromRow)]
struct Ready {
    endpoint_id: String,
    /// Its live leases: calls in flight.
    busy: i64,
}

/// Claims up to `limit` due deliveries that no live lease covers, for `lease_id` until `now +
/// lease`, counting an attempt for each, in one transaction.
///
/// Fair across endpoints: no endpoint gets more than `in_flight_per_endpoint` live leases (its
/// running calls, in every process), and the endpoints with due deliveries take turns, one
/// delivery each per round, starting after `after` (the previous claim's last endpoint), each
/// giving its earliest due first. So a backlog on one endpoint takes at most its cap of calls
/// and never delays another endpoint's deliveries. The cap is exact when claims do not overlap:
/// the caller runs one claim at a time per process, and SQLite's single writer orders them
/// all; on PostgreSQL two processes claiming at the same moment may together pass it.
///
/// The cost grows with the number of endpoints that have pending deliveries (an index probe
/// each), not with the number of deliveries.
pub(crate) async fn claim(
    db: &Db,
    config: &DeliveryConfig,
    now: i64,
    lease_id: &str,
    limit: usize,
    after: &str,
) -> sqlx::Result<Claim> {
    let mut claim = Claim {
        claimed: Vec::new(),
        last_endpoint: None,
    };
    if limit == 0 {
        return Ok(claim);
    }
    let cap = i64::try_from(config.in_flight_per_endpoint).unwrap_or(i64::MAX);
    // PostgreSQL: a look that finds nothing (most idle polls) holds no transaction. Not on
    // SQLite, whose workers are woken before the enqueueing transaction commits: the claim's
    // write transaction is what waits for that commit.
    if db.backend() == Backend::Postgres
        && ready_endpoints(&mut *db.pool().acquire().await?, now, cap)
            .await?
            .is_empty()
    {
        return Ok(claim);
    }
    let mut tx = db.begin().await?;
    let mut ready = ready_endpoints(&mut tx, now, cap).await?;
    // Turn order: the endpoints after `after`, then from the first one again.
    let first = ready.partition_point(|e| e.endpoint_id.as_str() <= after);
    ready.rotate_left(first);
    let mut queues: Vec<Vec<String>> = Vec::new();
    for chunk in ready.chunks(PROBE_CHUNK) {
        queues.extend(due_of(&mut tx, now, cap, chunk).await?);
        if queues.iter().map(Vec::len).sum::<usize>() >= limit {
            break;
        }
    }
    let (ids, last) = take_in_turn(&queues, limit);
    claim.last_endpoint = last.map(|turn| ready[turn].endpoint_id.clone());
    if ids.is_empty() {
        tx.commit().await?;
        return Ok(claim);
    }
    let lock = match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 4)).collect();
    let leased: Vec<(String,)> = {
        let sql = format!(
            "UPDATE deliveries SET lease_until = $1, lease_id = $2, attempts = attempts + 1, \
             updated_at = $3 \
             WHERE id IN (SELECT id FROM deliveries WHERE id IN ({}) AND next_attempt_at <= $3 \
                          AND (lease_until IS NULL OR lease_until < $3) {lock}) \
             RETURNING id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as(&sql)
            .bind(now.saturating_add(millis(config.lease)))
            .bind(lease_id)
            .bind(now);
        for id in &ids {
            query = query.bind(*id);
        }
        query.fetch_all(&mut *tx).await?
    };
    tx.commit().await?;
    if leased.is_empty() {
        return Ok(claim);
    }
    let placeholders: Vec<String> = (0..leased.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT d.id AS delivery_id, d.lease_id, d.message_id, d.endpoint_id, d.service_id, \
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
    for (id,) in &leased {
        query = query.bind(id);
    }
    claim.claimed = query.fetch_all(db.pool()).await?;
    Ok(claim)
}

/// The endpoints, by id (byte order), that have a due delivery no live lease covers and fewer than `cap` live
/// leases.
async fn ready_endpoints(conn: &mut AnyConnection, now: i64, cap: i64) -> sqlx::Result<Vec<Ready>> {
    sqlx::query_as(&format!(
        "{PENDING_ENDPOINTS} \
         SELECT endpoint_id, busy FROM ( \
             SELECT p.endpoint_id, \
                    (SELECT d.next_attempt_at FROM deliveries d \
                     WHERE d.endpoint_id = p.endpoint_id AND d.next_attempt_at IS NOT NULL \
                     AND (d.lease_until IS NULL OR d.lease_until < $1) \
                     ORDER BY d.next_attempt_at LIMIT 1) AS due, \
                    (SELECT COUNT(*) FROM deliveries d \
                     WHERE d.endpoint_id = p.endpoint_id AND d.lease_until IS NOT NULL \
                     AND d.lease_until >= $1) AS busy \
             FROM pending p WHERE p.endpoint_id IS NOT NULL) endpoints \
         WHERE due <= $1 AND busy < $2"
    ))
    .bind(now)
    .bind(cap)
    .fetch_all(conn)
    .await
    .map(|mut ready: Vec<Ready>| {
        ready.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
        ready
    })
}

/// For each of `endpoints`, in order, the ids of its due deliveries no live lease covers,
/// earliest first, as many as its cap leaves room for.
async fn due_of(
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
    let mut rows: Vec<(String, String, i64)> = query.fetch_all(conn).await?;
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

/// Up to `limit` ids from `queues` (one per endpoint, in turn order), one from each queue per
/// round; and the index of the queue the last one came from.
fn take_in_turn(queues: &[Vec<String>], limit: usize) -> (Vec<&str>, Option<usize>) {
    let mut taken = Vec::new();
    let mut last = None;
    for round in 0.. {
        let before = taken.len();
        for (turn, queue) in queues.iter().enumerate() {
            if taken.len() == limit {
                return (taken, last);
            }
            if let Some(id) = queue.get(round) {
                taken.push(id.as_str());
                last = Some(turn);
            }
        }
        if taken.len() == before {
            break;
        }
    }
    (taken, last)
}

/// When a delivery next becomes claimable after a claim at `now` (the claim's time, so that none
/// falling due since is missed): the earliest retry still to come, or the earliest end of a live
/// lease; `None` when neither exists. Due deliveries that wait for their endpoint's
/// cap become claimable when a call ends, which the worker running it sees.
pub(crate) async fn next_due(db: &Db, now: i64) -> sqlx::Result<Option<i64>> {
    let (at,): (Option<i64>,) = sqlx::query_as(&format!(
        "{PENDING_ENDPOINTS} \
         SELECT MIN(at) FROM ( \
             SELECT (SELECT d.next_attempt_at FROM deliveries d \
                     WHERE d.endpoint_id = p.endpoint_id AND d.next_attempt_at > $1 \
                     ORDER BY d.next_attempt_at LIMIT 1) AS at \
             FROM pending p WHERE p.endpoint_id IS NOT NULL \
             UNION ALL \
             SELECT MIN(lease_until) AS at FROM deliveries \
             WHERE lease_until IS NOT NULL AND lease_until >= $1) soonest"
    ))
    .bind(now)
    .fetch_one(db.pool())
    .await?;
    Ok(at)
}

/// Extends to `lease_until` the leases of `held` (delivery id, lease id) that still hold: a
/// delivery another worker has claimed since has another lease id and is left alone.
pub(crate) async fn renew<'a>(
    db: &Db,
    held: impl ExactSizeIterator<Item = &'a (String, String)> + Clone,
    lease_until: i64,
) -> sqlx::Result<()> {
    let count = held.len();
    if count == 0 {
        return Ok(());
    }
    let ids: Vec<String> = (0..count).map(|i| format!("${}", i + 2)).collect();
    let leases: Vec<String> = (0..count).map(|i| format!("${}", count + i + 2)).collect();
    let sql = format!(
        "UPDATE deliveries SET lease_until = $1 WHERE id IN ({}) AND lease_id IN ({})",
        ids.join(", "),
        leases.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(lease_until);
    for (id, _) in held.clone() {
        query = query.bind(id);
    }
    for (_, lease) in held {
        query = query.bind(lease);
    }
    let mut tx = db.begin().await?;
    query.execute(&mut *tx).await?;
    tx.commit().await
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

/// Records `outcomes` at `now` in one transaction: an attempt row each, then each delivery's new
/// state (only while its claim still holds it), then each endpoint's health, disabling an
/// endpoint that has failed for `disable_after` and telling the service.
pub(crate) async fn record(
    db: &Db,
    config: &DeliveryConfig,
    outcomes: &[Outcome],
    now: i64,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    insert_attempts(&mut tx, outcomes).await?;
    let mut leases: Vec<&str> = outcomes
        .iter()
        .map(|o| o.claimed.lease_id.as_str())
        .collect();
    leases.sort_unstable();
    leases.dedup();
    for lease_id in leases {
        let succeeded: Vec<&str> = outcomes
            .iter()
            .filter(|o| o.succeeded() && o.claimed.lease_id == lease_id)
            .map(|o| o.claimed.delivery_id.as_str())
            .collect();
        settle_succeeded(&mut tx, lease_id, &succeeded, now).await?;
    }
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
        .bind(&outcome.claimed.lease_id)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(lengths: &[usize]) -> Vec<Vec<String>> {
        lengths
            .iter()
            .enumerate()
            .map(|(e, &n)| (0..n).map(|i| format!("{e}.{i}")).collect())
            .collect()
    }

    #[test]
    fn endpoints_take_one_delivery_each_per_round() {
        let queues = queues(&[8, 1, 3]);
        let (taken, last) = take_in_turn(&queues, 6);
        assert_eq!(taken, ["0.0", "1.0", "2.0", "0.1", "2.1", "0.2"]);
        assert_eq!(last, Some(0));
        let (taken, last) = take_in_turn(&queues, 5);
        assert_eq!(taken.last(), Some(&"2.1"));
        assert_eq!(last, Some(2));
    }

    #[test]
    fn a_short_supply_is_taken_whole() {
        let queues = queues(&[2, 0, 1]);
        let (taken, last) = take_in_turn(&queues, 16);
        assert_eq!(taken, ["0.0", "2.0", "0.1"]);
        assert_eq!(last, Some(0));
        assert_eq!(take_in_turn(&[], 4), (vec![], None));
    }
}
