//! Workers: claim due deliveries with a lease, call the endpoints (no database connection held),
//! record each attempt and what follows from it.
//!
//! A worker keeps up to `batch_size` calls in flight, each its own task. It records outcomes as
//! calls finish and claims again as soon as there is room, so a slow call holds its own slot and
//! nothing else. While calls run it renews their leases every `lease_renewal`.
//!
//! An endpoint has at most `in_flight_per_endpoint` calls at once in a process (its lane), but the
//! process may lease [`claims::LEASE_AHEAD`] times that of its deliveries: those beyond the
//! lane's room wait in the process for a call to end, and start then, without a round trip to
//! the database.
//! So a fast receiver is not held to one claim per `in_flight_per_endpoint` deliveries. Waiting
//! takes no call's slot; a delivery whose lease was taken back meanwhile is given up at the next
//! renewal.
//!
//! A worker that dies mid-delivery stops renewing; its leases end within `lease` and the
//! deliveries are claimed again, so every message is delivered at least once and receivers drop
//! duplicates by `messageId`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use psi_outbound::header::RETRY_AFTER;
use psi_outbound::{Bytes, OutboundClient};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::task::{self, JoinError, JoinSet};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::claims;
use super::config::DeliveryConfig;
use super::millis;
use super::outbox;
use super::schedule::parse_retry_after;
use crate::calls::{self, CallError, Credentials, Keys};
use crate::db::deliveries::{self, Claimed};
use crate::db::delivery_attempts::Outcome;
use crate::db::{Db, new_id, now_ms};
use crate::domain::AuthScheme;
use crate::http::AppState;
use crate::ids::EndpointId;
/// The shortest idle wait, so a worker never spins.
const MIN_IDLE: Duration = Duration::from_millis(5);

/// How long a worker gathers the outcomes of calls finishing about together before it records
/// them and claims again, in one statement each: a few milliseconds of delay for far fewer
/// round trips when calls finish one by one.
const GATHER: Duration = Duration::from_millis(2);

/// What one [`Worker::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Claimed and attempted this many deliveries.
    Done(usize),
    /// Nothing was due. `next_due`: when something becomes claimable (unix ms), if anything is
    /// pending.
    Empty { next_due: Option<i64> },
}

/// Delivers due messages. Cheap to clone; clones share the opened keys and the turn of
/// endpoints.
#[derive(Debug, Clone)]
pub struct Worker {
    db: Db,
    outbound: OutboundClient,
    config: Arc<DeliveryConfig>,
    keys: Keys,
    /// The endpoint the last claim ended its turn with; the next claim starts after it. Held
    /// while claiming, so that the workers of a process claim one at a time and each counts the
    /// deliveries the one before took (the per-endpoint cap, counted in `lanes`).
    turn: Arc<Mutex<String>>,
    /// Each endpoint's lane in this process: `in_flight_per_endpoint` permits, one per call.
    /// Kept while a task of the endpoint holds it; the tasks holding it are the deliveries the
    /// process holds for the endpoint, which its claims count against the cap.
    lanes: Arc<SyncMutex<HashMap<EndpointId, Arc<Semaphore>>>>,
}

/// The calls a worker has running.
#[derive(Default)]
struct Running {
    /// Each task's outcome; `None` when it gave its delivery up unsent.
    calls: JoinSet<Option<Outcome>>,
    /// Each task's delivery, by task: the leases to renew.
    leases: HashMap<task::Id, Held>,
    /// The tasks that hold their lane's permit: calls in flight.
    in_flight: Arc<AtomicUsize>,
    /// Cancelled at shutdown: deliveries still waiting for their lane are not sent.
    stopping: CancellationToken,
}

/// A delivery a task holds.
struct Held {
    delivery_id: String,
    lease_id: String,
    /// Cancelled when the lease no longer holds (the delivery was held, replayed or deleted
    /// meanwhile) or at shutdown: while still waiting for its lane, the task gives it up.
    give_up: CancellationToken,
}

impl Running {
    /// How many deliveries the worker may claim: room among its `batch_size` calls in flight,
    /// within the [`claims::LEASE_AHEAD`] times as many it may hold. Deliveries waiting for
    /// their lane take no call's room, so endpoints that hang hold back only themselves.
    fn room(&self, batch_size: usize) -> usize {
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        let held = self.calls.len();
        batch_size
            .saturating_sub(in_flight)
            .min((batch_size.saturating_mul(claims::LEASE_AHEAD)).saturating_sub(held))
    }
}

/// Counts a call in flight for as long as it lives.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn start(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Worker {
    /// A worker over the server's database, outbound client, keys and `[delivery]` section.
    pub fn new(state: &AppState) -> Self {
        Worker {
            db: state.db.clone(),
            outbound: state.outbound.clone(),
            config: Arc::new(state.config.delivery.clone()),
            keys: Keys::new(state),
            turn: Arc::default(),
            lanes: Arc::default(),
        }
    }

    /// Claims up to `batch_size` due deliveries (fairly across endpoints, within each
    /// endpoint's cap), calls their endpoints concurrently, renewing the leases meanwhile, and
    /// records each outcome as it comes in. Errors are the database's; a failed call is an
    /// outcome.
    pub async fn step(&self) -> anyhow::Result<Step> {
        let mut running = Running::default();
        let now = now_ms();
        let count = self.claim(&mut running, now).await?;
        if count == 0 {
            let next_due = claims::next_due(&self.db, &self.config, now, &self.busy())
                .await
                .context("next due delivery")?;
            return Ok(Step::Empty { next_due });
        }
        let mut renewal = self.renewal();
        while !running.calls.is_empty() {
            tokio::select! {
                Some(joined) = running.calls.join_next_with_id() => {
                    self.settle(&mut running, joined).await?;
                }
                _ = renewal.tick() => self.renew(&running).await?,
            }
        }
        Ok(Step::Done(count))
    }

    /// Steps until nothing is due; returns how many attempts were made. For tests and tools.
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut attempts = 0;
        while let Step::Done(n) = self.step().await? {
            attempts += n;
        }
        Ok(attempts)
    }

    /// Claims, as of `now`, as many due deliveries as `running` has room for and starts their
    /// calls, each a task that holds no database connection (its keys are opened first). Returns
    /// how many.
    async fn claim(&self, running: &mut Running, now: i64) -> anyhow::Result<usize> {
        let room = running.room(self.config.batch_size);
        if room == 0 {
            return Ok(0);
        }
        let (claim, lanes) = {
            let mut turn = self.turn.lock().await;
            let busy = self.busy();
            let claim = claims::claim(&self.db, &self.config, now, &new_id(), room, &turn, &busy)
                .await
                .context("claiming deliveries")?;
            if let Some(last) = &claim.last_endpoint {
                last.clone_into(&mut turn);
            }
            // Counted before the next claim's `busy`.
            let lanes = self.lanes(&claim.claimed);
            (claim, lanes)
        };
        let count = claim.claimed.len();
        for (claimed, lane) in claim.claimed.into_iter().zip(lanes) {
            let credentials = self.credentials(&claimed, now).await?;
            let held = Held {
                delivery_id: claimed.delivery_id.clone(),
                lease_id: claimed.lease_id.clone(),
                give_up: running.stopping.child_token(),
            };
            let worker = self.clone();
            let give_up = held.give_up.clone();
            let in_flight = Arc::clone(&running.in_flight);
            let call = running.calls.spawn(async move {
                // A delivery given up while waiting is left to its lease's end, when any process
                // may claim it again (at shutdown), or to whoever took it back.
                let _permit: OwnedSemaphorePermit = tokio::select! {
                    biased;
                    () = give_up.cancelled() => return None,
                    // A lane is never closed.
                    permit = lane.acquire_owned() => permit.ok()?,
                };
                let _in_flight = InFlight::start(&in_flight);
                Some(worker.attempt(claimed, credentials).await)
            });
            running.leases.insert(call.id(), held);
        }
        Ok(count)
    }

    /// The deliveries this process holds per endpoint: each of its tasks holds its endpoint's
    /// lane, waiting for a permit or with one.
    fn busy(&self) -> Vec<(EndpointId, usize)> {
        let lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        lanes
            .iter()
            .map(|(endpoint, lane)| (endpoint.clone(), Arc::strong_count(lane) - 1))
            .filter(|(_, held)| *held > 0)
            .collect()
    }

    /// The lane in this process of each claimed delivery's endpoint, made if missing; lanes no
    /// task holds any more are dropped.
    fn lanes(&self, claimed: &[Claimed]) -> Vec<Arc<Semaphore>> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        lanes.retain(|_, lane| Arc::strong_count(lane) > 1);
        claimed
            .iter()
            .map(|c| {
                Arc::clone(lanes.entry(c.endpoint_id.clone()).or_insert_with(|| {
                    Arc::new(Semaphore::new(self.config.in_flight_per_endpoint))
                }))
            })
            .collect()
    }

    /// Records `first` and every other call that has finished meanwhile, in one transaction.
    async fn settle(
        &self,
        running: &mut Running,
        first: Result<(task::Id, Option<Outcome>), JoinError>,
    ) -> anyhow::Result<()> {
        let mut outcomes = Vec::new();
        collect(running, first, &mut outcomes);
        self.record(&mut outcomes).await
    }

    /// Records `outcomes` (in one transaction) and empties it.
    async fn record(&self, outcomes: &mut Vec<Outcome>) -> anyhow::Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let recorded = claims::record(&self.db, &self.config, outcomes, now_ms())
            .await
            .context("recording delivery attempts");
        outcomes.clear();
        recorded
    }

    /// A timer of lease renewals, the first one `lease_renewal` from now.
    fn renewal(&self) -> Interval {
        let every = self.config.lease_renewal;
        let mut timer = tokio::time::interval_at(Instant::now() + every, every);
        timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        timer
    }

    /// Extends the leases of the held deliveries by `lease` from now; a delivery whose lease
    /// was taken back meanwhile is given up if its call has not started.
    async fn renew(&self, running: &Running) -> anyhow::Result<()> {
        let until = now_ms().saturating_add(millis(self.config.lease));
        let held = running
            .leases
            .values()
            .map(|h| (h.delivery_id.as_str(), h.lease_id.as_str()));
        let renewed: HashSet<String> = deliveries::renew(&self.db, held, until)
            .await
            .context("renewing delivery leases")?
            .into_iter()
            .collect();
        for held in running.leases.values() {
            if !renewed.contains(&held.delivery_id) {
                held.give_up.cancel();
            }
        }
        Ok(())
    }

    /// The keys that sign the delivery: the endpoint's, and the one a rotation replaced while its
    /// overlap lasts. `Err` inside when the endpoint's key cannot sign (the attempt fails).
    async fn credentials(
        &self,
        claimed: &Claimed,
        now: i64,
    ) -> anyhow::Result<Result<Credentials, CallError>> {
        let current = match self.keys.by_id(&claimed.key_id).await? {
            Ok(signer) => signer,
            Err(reason) => return Ok(Err(reason)),
        };
        let previous = match (&claimed.previous_key_id, claimed.previous_until) {
            (Some(id), Some(until)) if until > now => self.keys.by_id(id).await?.ok(),
            _ => None,
        };
        Ok(Ok(Credentials {
            current,
            previous,
            auth: AuthScheme::from_db(&claimed.auth)?,
        }))
    }

    /// One attempt: signed, within the endpoint's timeout, its answer read. The lease is renewed
    /// while the call runs, so the timeout does not depend on it.
    async fn attempt(
        self,
        claimed: Claimed,
        credentials: Result<Credentials, CallError>,
    ) -> Outcome {
        let attempt_id = new_id();
        let made = calls::send(
            &self.outbound,
            calls::Call {
                url: &claimed.url,
                body: Bytes::from(claimed.payload.clone()),
                credentials,
                issuer: &claimed.service_did,
                call_id: &attempt_id,
                message_id: claimed.message_id.as_str(),
                headers: &[
                    ("x-psi-message-id", claimed.message_id.as_str()),
                    ("x-psi-event-type", &claimed.event_type),
                ],
                timeout: Duration::from_millis(u64::try_from(claimed.timeout_ms).unwrap_or(0)),
            },
        )
        .await;
        let retry_after = match made.result {
            Err(CallError::Status(_)) => made
                .headers
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, SystemTime::now())),
            _ => None,
        };
        Outcome {
            error: made.error(),
            claimed,
            attempt_id,
            at: made.at,
            status: made.status,
            duration_ms: made.duration_ms,
            response_excerpt: made.excerpt,
            retry_after,
        }
    }

    /// Runs until `shutdown`. Claims whenever it has room: after a wake-up; after calls finish,
    /// once their outcomes are recorded ([`GATHER`] after the first, or when none is left
    /// running); else when the next delivery falls due or after the poll interval, whichever
    /// comes first. At `shutdown` it stops claiming, gives up the deliveries still waiting for
    /// their lane (their leases end and any process claims them again) and returns once its
    /// running calls are recorded.
    async fn run(self, shutdown: CancellationToken) {
        let mut wake = outbox::wake_receiver();
        let mut running = Running {
            stopping: shutdown.clone(),
            ..Running::default()
        };
        let mut renewal = self.renewal();
        let mut claim_at = Instant::now();
        let mut finished = Vec::new();
        // When the gathered outcomes are recorded.
        let mut record_at: Option<Instant> = None;
        loop {
            let stopping = shutdown.is_cancelled();
            let record_now = record_at
                .is_some_and(|at| running.calls.is_empty() || stopping || Instant::now() >= at);
            if record_now {
                if let Err(error) = self.record(&mut finished).await {
                    tracing::error!(error = format!("{error:#}"), "delivery worker");
                }
                record_at = None;
                claim_at = Instant::now();
            }
            if stopping && running.calls.is_empty() {
                return;
            }
            let room = running.room(self.config.batch_size) > 0;
            if !stopping && room && Instant::now() >= claim_at {
                wake.borrow_and_update();
                claim_at = self.claim_more(&mut running).await;
                continue;
            }
            tokio::select! {
                Some(joined) = running.calls.join_next_with_id(), if !running.calls.is_empty() => {
                    collect(&mut running, joined, &mut finished);
                    record_at.get_or_insert_with(|| Instant::now() + GATHER);
                }
                () = sleep_until_some(record_at) => {}
                _ = renewal.tick(), if !running.calls.is_empty() => {
                    if let Err(error) = self.renew(&running).await {
                        tracing::warn!(error = format!("{error:#}"), "delivery worker");
                    }
                }
                _ = wake.changed(), if !stopping => claim_at = Instant::now(),
                () = tokio::time::sleep_until(claim_at), if !stopping && room => {}
                () = shutdown.cancelled(), if !stopping => {}
            }
        }
    }

    /// Claims for the room `running` has; returns when to claim next: at once if the room is
    /// filled (a finished call makes room again), after the poll interval while calls run (each
    /// that finishes claims again), else when the next delivery falls due, within the poll
    /// interval.
    async fn claim_more(&self, running: &mut Running) -> Instant {
        let now = Instant::now();
        let at = now_ms();
        let next_due = async {
            self.claim(running, at).await?;
            if running.room(self.config.batch_size) == 0 {
                return Ok(None);
            }
            if !running.calls.is_empty() {
                return Ok(Some(None));
            }
            claims::next_due(&self.db, &self.config, at, &self.busy())
                .await
                .map(Some)
                .context("next due delivery")
        };
        match next_due.await {
            Ok(None) => now,
            Ok(Some(next_due)) => {
                let idle = next_due
                    .map(|due| Duration::from_millis(u64::try_from(due - at).unwrap_or(0)))
                    .unwrap_or(self.config.poll_interval)
                    .clamp(MIN_IDLE, self.config.poll_interval);
                now + idle
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "delivery worker step failed");
                now + self.config.poll_interval
            }
        }
    }
}

/// Sleeps until `at`; never returns without one.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Takes `first` and every other call of `running` that has finished meanwhile: their outcomes go
/// to `outcomes`, and their leases are no longer renewed.
fn collect(
    running: &mut Running,
    first: Result<(task::Id, Option<Outcome>), JoinError>,
    outcomes: &mut Vec<Outcome>,
) {
    let mut joined = Some(first);
    while let Some(result) = joined {
        match result {
            Ok((id, None)) => {
                running.leases.remove(&id);
            }
            Ok((id, Some(outcome))) => {
                running.leases.remove(&id);
                let result = if outcome.succeeded() {
                    "succeeded"
                } else {
                    "failed"
                };
                metrics::counter!("psi_delivery_attempts_total", "result" => result).increment(1);
                outcomes.push(outcome);
            }
            Err(error) => {
                // Its lease is no longer renewed: the delivery is claimed again once it ends.
                running.leases.remove(&error.id());
                tracing::error!(%error, "a delivery call failed");
            }
        }
        joined = running.calls.try_join_next_with_id();
    }
}

/// Starts `[delivery] workers` workers and, on PostgreSQL, the notifier that tells other
/// processes what this one enqueued and, with workers, the listener that wakes them at what
/// other processes enqueued. They stop at `shutdown`, each after its current step.
pub fn spawn(state: &AppState, shutdown: &CancellationToken) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    let config = &state.config.delivery;
    let worker = Worker::new(state);
    for _ in 0..config.workers {
        tasks.spawn(worker.clone().run(shutdown.child_token()));
    }
    tasks
}
