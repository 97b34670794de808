//! The workers' claims and what follows an attempt: due deliveries claimed fairly across
//! endpoints with a lease, in turns; outcomes recorded with the retry schedule, the endpoints'
//! health and the `endpoint.disabled` notice. The statements are `db`'s; each claim or record
//! is one short transaction, and no row lock or connection is held while a call runs. On
//! PostgreSQL a claim is one statement, and so is recording a batch of successes to endpoints
//! that were not failing (the common case): one round trip each.

use sqlx::AnyConnection;

use super::config::DeliveryConfig;
use super::millis;
use super::outbox::{self, Due, Target};
use super::payload::{EndpointDisabled, EventType};
use super::schedule;
use crate::db::deliveries::{self, Claimed, DeliveryStatus};
use crate::db::delivery_attempts::{self, Outcome};
use crate::db::{Backend, Db, delivery_endpoints};
use crate::ids::EndpointId;
use crate::scope::ServiceScope;
use psi_link::Did;

/// How many times an endpoint's `in_flight_per_endpoint` a process may hold of its deliveries:
/// those beyond its calls in flight wait in the process that leased them and start as calls end
/// (`worker`), so one claim and one record serve several rounds of calls.
pub(crate) const LEASE_AHEAD: usize = 4;

/// What a claim took.
#[derive(Debug)]
pub(crate) struct Claim {
    pub claimed: Vec<Claimed>,
    /// The endpoint the claim's turn ended with; the next claim starts after it.
    pub last_endpoint: Option<String>,
}

/// Claims up to `limit` due deliveries that no live lease covers, for `lease_id` until `now +
/// lease`, counting an attempt for each, in one transaction.
///
/// Fair across endpoints: this process has no more than [`LEASE_AHEAD`] ×
/// `in_flight_per_endpoint` deliveries of an endpoint waiting for the endpoint's lane or in
/// flight (`busy`: those it has now), and the endpoints with due deliveries take turns,
/// one delivery each per round, starting after `after` (the previous claim's last endpoint), each
/// giving its earliest due first. So a backlog on one endpoint takes at most its cap of a
/// process's room and never delays another endpoint's deliveries. The caller runs one claim at a
/// time per process, with `busy` as of then. The cap is per process: leases are not indexed, so
/// the claim's update rewrites no index (on PostgreSQL, a heap-only update), and nothing counts
/// them across processes.
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
    busy: &[(EndpointId, usize)],
) -> sqlx::Result<Claim> {
    let mut claim = Claim {
        claimed: Vec::new(),
        last_endpoint: None,
    };
    if limit == 0 {
        return Ok(claim);
    }
    let cap = cap(config);
    let lease_until = now.saturating_add(millis(config.lease));
    if db.backend() == Backend::Postgres {
        claim.claimed =
            deliveries::claim_postgres(db, now, cap, busy, limit, after, lease_id, lease_until)
                .await?;
        claim.last_endpoint = claim.claimed.last().map(|c| c.endpoint_id.to_string());
        return Ok(claim);
    }
    let mut tx = db.begin_relaxed().await?;
    let mut ready = deliveries::ready_endpoints(&mut tx, db.backend(), now, cap, busy).await?;
    // Turn order: the endpoints after `after`, then from the first one again.
    let first = ready.partition_point(|e| e.endpoint_id.as_str() <= after);
    ready.rotate_left(first);
    let mut queues: Vec<Vec<String>> = Vec::new();
    for chunk in ready.chunks(deliveries::PROBE_CHUNK) {
        queues.extend(deliveries::due_of(&mut tx, now, cap, chunk).await?);
        if queues.iter().map(Vec::len).sum::<usize>() >= limit {
            break;
        }
    }
    let (ids, last) = take_in_turn(&queues, limit);
    claim.last_endpoint = last.map(|turn| ready[turn].endpoint_id.to_string());
    if ids.is_empty() {
        tx.commit().await?;
        return Ok(claim);
    }
    let leased = deliveries::lease(&mut tx, db.backend(), &ids, lease_id, lease_until, now).await?;
    tx.commit().await?;
    if leased.is_empty() {
        return Ok(claim);
    }
    claim.claimed = deliveries::claimed(db, lease_id, &leased).await?;
    Ok(claim)
}

/// How many deliveries of an endpoint a process has waiting or in flight at most.
fn cap(config: &DeliveryConfig) -> i64 {
    i64::try_from(config.in_flight_per_endpoint.saturating_mul(LEASE_AHEAD)).unwrap_or(i64::MAX)
}

/// When a delivery next becomes claimable after a claim at `now` that took nothing, this process
/// holding `busy` deliveries per endpoint ([`deliveries::next_due`]); lease ends are looked for
/// among each endpoint's first [`LEASE_AHEAD`] caps of due deliveries, as many as four
/// processes hold.
pub(crate) async fn next_due(
    db: &Db,
    config: &DeliveryConfig,
    now: i64,
    busy: &[(EndpointId, usize)],
) -> sqlx::Result<Option<i64>> {
    let cap = cap(config);
    let scan = cap.saturating_mul(i64::try_from(LEASE_AHEAD).unwrap_or(i64::MAX));
    deliveries::next_due(db, now, cap, scan, busy).await
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

/// Records `outcomes` at `now` in one transaction: an attempt row each, then each delivery's new
/// state (only while its claim still holds it), then each endpoint's health, disabling an
/// endpoint that has failed for `disable_after` and telling the service.
pub(crate) async fn record(
    db: &Db,
    config: &DeliveryConfig,
    outcomes: &[Outcome],
    now: i64,
) -> sqlx::Result<()> {
    // Successes to endpoints that were not failing change no endpoint's health.
    let health_unchanged = outcomes
        .iter()
        .all(|o| o.succeeded() && o.claimed.failing_since.is_none());
    if health_unchanged && db.backend() == Backend::Postgres {
        return deliveries::succeeded_with_attempts(db, outcomes, now).await;
    }
    let mut tx = db.begin_relaxed().await?;
    delivery_attempts::insert(&mut tx, outcomes).await?;
    deliveries::succeeded(&mut tx, outcomes, now).await?;
    for outcome in outcomes.iter().filter(|o| !o.succeeded()) {
        let attempts = usize::try_from(outcome.claimed.attempts).unwrap_or(usize::MAX);
        let wait = schedule::next_wait(
            config,
            attempts,
            outcome.retry_after,
            &mut rand::thread_rng(),
        );
        let (status, next) = match wait {
            Some(wait) => (
                DeliveryStatus::Pending,
                Some(now.saturating_add(millis(wait))),
            ),
            None => (DeliveryStatus::Failed, None),
        };
        let claimed = &outcome.claimed;
        deliveries::attempt_failed(
            &mut tx,
            &claimed.delivery_id,
            &claimed.lease_id,
            status,
            next,
            now,
        )
        .await?;
    }
    let due = endpoint_health(&mut tx, db.backend(), config, outcomes, now).await?;
    tx.commit().await?;
    due.announce();
    Ok(())
}

/// A success clears an endpoint's failing time; failures start it, and an endpoint failing since
/// `disable_after` ago or longer is disabled. Returns the `endpoint.disabled` notices' deliveries.
async fn endpoint_health(
    conn: &mut AnyConnection,
    backend: Backend,
    config: &DeliveryConfig,
    outcomes: &[Outcome],
    now: i64,
) -> sqlx::Result<Due> {
    let mut due = Due::default();
    let mut seen: Vec<&EndpointId> = Vec::new();
    for outcome in outcomes {
        let endpoint_id = &outcome.claimed.endpoint_id;
        if seen.contains(&endpoint_id) {
            continue;
        }
        seen.push(endpoint_id);
        let of_endpoint = || {
            outcomes
                .iter()
                .filter(|o| &o.claimed.endpoint_id == endpoint_id)
        };
        if of_endpoint().any(Outcome::succeeded) {
            if of_endpoint().any(|o| o.claimed.failing_since.is_some()) {
                delivery_endpoints::clear_failing(&mut *conn, endpoint_id).await?;
            }
            continue;
        }
        let first_failure = of_endpoint().map(|o| o.at).min().unwrap_or(now);
        delivery_endpoints::mark_failing(&mut *conn, endpoint_id, first_failure).await?;
        due = due.and(disable_if_failing(conn, backend, config, &outcome.claimed, now).await?);
    }
    Ok(due)
}

/// Disables the claim's endpoint if it has failed for `disable_after`, holds its deliveries and
/// enqueues `endpoint.disabled` for the service's other endpoints.
async fn disable_if_failing(
    conn: &mut AnyConnection,
    backend: Backend,
    config: &DeliveryConfig,
    claimed: &Claimed,
    now: i64,
) -> sqlx::Result<Due> {
    let cutoff = now.saturating_sub(millis(config.disable_after));
    let disabled =
        delivery_endpoints::disable_failing(&mut *conn, &claimed.endpoint_id, now, cutoff).await?;
    let Some(failing_since) = disabled else {
        return Ok(Due::default());
    };
    if backend == Backend::Postgres {
        // The notice goes out as soon as it is visible: it must not outlive a database crash
        // that its relaxed commit would not.
        sqlx::query("SET LOCAL synchronous_commit = on")
            .execute(&mut *conn)
            .await?;
    }
    deliveries::hold(&mut *conn, &claimed.endpoint_id, now).await?;
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
        endpoint_id: claimed.endpoint_id.to_string(),
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
    .map(|(_, due)| due)
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
