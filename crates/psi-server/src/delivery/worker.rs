//! Workers: claim due deliveries with a lease, call the endpoints (no database connection held),
//! record each attempt and what follows from it.
//!
//! A worker that dies mid-delivery leaves its claim to expire; the delivery is then claimed again,
//! so every message is delivered at least once and receivers drop duplicates by `messageId`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use psi_outbound::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use psi_outbound::{Bytes, OutboundClient};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::claims::{self, Claimed, Outcome};
use super::config::DeliveryConfig;
use super::millis;
use super::outbox;
use super::schedule::parse_retry_after;
use super::sign::{Credentials, Signers};
use crate::db::{Backend, Db, new_id, now_ms};
use crate::domain::AuthScheme;
use crate::http::AppState;

/// How much of an answer an attempt keeps.
const EXCERPT_BYTES: usize = 1024;
/// The shortest idle wait, so a worker never spins.
const MIN_IDLE: Duration = Duration::from_millis(5);

/// What one [`Worker::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Claimed and attempted this many deliveries.
    Done(usize),
    /// Nothing was due. `next_due`: when something becomes claimable (unix ms), if anything is
    /// pending.
    Empty { next_due: Option<i64> },
}

/// Delivers due messages. Cheap to clone; clones share the opened keys.
#[derive(Debug, Clone)]
pub struct Worker {
    db: Db,
    outbound: OutboundClient,
    config: Arc<DeliveryConfig>,
    signers: Arc<Signers>,
}

impl Worker {
    /// A worker over the server's database, outbound client, keys and `[delivery]` section.
    pub fn new(state: &AppState) -> Self {
        Worker {
            db: state.db.clone(),
            outbound: state.outbound.clone(),
            config: Arc::new(state.config.delivery.clone()),
            signers: Arc::new(Signers::new(state.master_key.clone())),
        }
    }

    /// Claims up to `batch_size` due deliveries, calls their endpoints concurrently and records
    /// the outcomes as they come in. Errors are the database's; a failed call is an outcome.
    ///
    /// The calls run as tasks of their own that hold no database connection (their keys are
    /// opened first), so recording never waits for a connection a call holds.
    pub async fn step(&self) -> anyhow::Result<Step> {
        let now = now_ms();
        let lease_id = new_id();
        let lease_until = now.saturating_add(millis(self.config.lease));
        let claimed = claims::claim(
            &self.db,
            now,
            lease_until,
            &lease_id,
            self.config.batch_size,
        )
        .await
        .context("claiming deliveries")?;
        if claimed.is_empty() {
            let next_due = claims::next_due(&self.db)
                .await
                .context("next due delivery")?;
            return Ok(Step::Empty { next_due });
        }
        let count = claimed.len();
        let mut calls = JoinSet::new();
        for claimed in claimed {
            let credentials = self.credentials(&claimed, now).await?;
            calls.spawn(self.clone().attempt(claimed, credentials));
        }
        while let Some(first) = calls.join_next().await {
            let mut chunk = vec![first.context("a delivery call")?];
            while let Some(next) = calls.try_join_next() {
                chunk.push(next.context("a delivery call")?);
            }
            for outcome in &chunk {
                let result = if outcome.succeeded() {
                    "succeeded"
                } else {
                    "failed"
                };
                metrics::counter!("psi_delivery_attempts_total", "result" => result).increment(1);
            }
            claims::record(&self.db, &self.config, &lease_id, &chunk, now_ms())
                .await
                .context("recording delivery attempts")?;
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

    /// The keys that sign the delivery: the endpoint's, and the one a rotation replaced while its
    /// overlap lasts. `Err(reason)` when the endpoint's key cannot sign.
    async fn credentials(
        &self,
        claimed: &Claimed,
        now: i64,
    ) -> anyhow::Result<Result<Credentials, String>> {
        let current = match self.signers.get(&self.db, &claimed.key_id).await? {
            Ok(signer) => signer,
            Err(reason) => return Ok(Err(reason)),
        };
        let previous = match (&claimed.previous_key_id, claimed.previous_until) {
            (Some(id), Some(until)) if until > now => self.signers.get(&self.db, id).await?.ok(),
            _ => None,
        };
        Ok(Ok(Credentials {
            current,
            previous,
            auth: AuthScheme::from_db(&claimed.auth)?,
        }))
    }

    /// One attempt: sign, call within the endpoint's timeout (at most half the lease), read the
    /// answer.
    async fn attempt(self, claimed: Claimed, credentials: Result<Credentials, String>) -> Outcome {
        let attempt_id = new_id();
        let at = now_ms();
        let started = Instant::now();
        let body = Bytes::from(claimed.payload.clone());
        let headers = match credentials {
            Ok(credentials) => headers(credentials, &claimed, &attempt_id, &body).await,
            Err(reason) => Err(reason),
        };
        let result = match headers {
            Ok(headers) => {
                let timeout = Duration::from_millis(u64::try_from(claimed.timeout_ms).unwrap_or(0))
                    .min(self.config.max_call_time());
                self.outbound
                    .post_json(&claimed.url, body, headers, Some(timeout))
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(reason) => Err(reason),
        };
        let mut outcome = Outcome {
            claimed,
            attempt_id,
            at,
            status: None,
            duration_ms: 0,
            response_excerpt: String::new(),
            error: None,
            retry_after: None,
        };
        match result {
            Ok(response) => {
                outcome.status = Some(response.status.as_u16());
                outcome.response_excerpt = response.excerpt(EXCERPT_BYTES);
                if !response.is_success() {
                    outcome.error = Some(format!("it answered HTTP {}", response.status.as_u16()));
                    outcome.retry_after = response
                        .headers
                        .get(RETRY_AFTER)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| parse_retry_after(value, SystemTime::now()));
                }
            }
            Err(reason) => outcome.error = Some(reason),
        }
        outcome.duration_ms = millis(started.elapsed());
        outcome
    }

    /// Runs until `shutdown`: steps while there is work; when idle, waits for a wake-up, the next
    /// due delivery or the poll interval, whichever comes first.
    async fn run(self, shutdown: CancellationToken) {
        let mut wake = outbox::wake_receiver();
        while !shutdown.is_cancelled() {
            wake.borrow_and_update();
            let idle = match self.step().await {
                Ok(Step::Done(_)) => continue,
                Ok(Step::Empty { next_due }) => next_due
                    .map(|at| Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)))
                    .unwrap_or(self.config.poll_interval)
                    .clamp(MIN_IDLE, self.config.poll_interval),
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "delivery worker step failed");
                    self.config.poll_interval
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => {}
                _ = wake.changed() => {}
                () = tokio::time::sleep(idle) => {}
            }
        }
    }
}

/// The delivery's headers: authentication, message id and type. `Err(reason)` when it cannot be
/// signed.
async fn headers(
    credentials: Credentials,
    claimed: &Claimed,
    attempt_id: &str,
    body: &Bytes,
) -> Result<HeaderMap, String> {
    let (issuer, id, message_id, bytes) = (
        claimed.service_did.clone(),
        attempt_id.to_owned(),
        claimed.message_id.clone(),
        body.clone(),
    );
    let expensive = credentials.is_expensive();
    let sign = move || credentials.headers(&issuer, &id, &message_id, &bytes);
    let signed = if expensive {
        // RSA takes milliseconds: off the async threads.
        tokio::task::spawn_blocking(sign)
            .await
            .map_err(|e| format!("the signing task failed: {e}"))?
    } else {
        sign()
    };
    let mut headers = signed.map_err(|e| format!("the delivery cannot be signed: {e}"))?;
    for (name, value) in [
        ("x-psi-message-id", claimed.message_id.as_str()),
        ("x-psi-event-type", claimed.event_type.as_str()),
    ] {
        let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// Starts `[delivery] workers` workers (none: returns an empty set) and, on PostgreSQL, the
/// listener that wakes them when any process enqueues. They stop at `shutdown`, each after its
/// current step.
pub fn spawn(state: &AppState, shutdown: &CancellationToken) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    let config = &state.config.delivery;
    if config.workers == 0 {
        return tasks;
    }
    let worker = Worker::new(state);
    for _ in 0..config.workers {
        tasks.spawn(worker.clone().run(shutdown.child_token()));
    }
    if state.db.backend() == Backend::Postgres {
        let url = secrecy::ExposeSecret::expose_secret(&state.config.database_url).to_owned();
        tasks.spawn(super::listen::run(url, shutdown.child_token()));
    }
    tasks
}
