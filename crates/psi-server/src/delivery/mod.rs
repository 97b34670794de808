//! Durable outbound delivery: notifications to the endpoints a service registers.
//!
//! ```text
//!  change + enqueue ──(one transaction)──▶ delivery_messages + deliveries (due now)
//!                                                   │ NOTIFY / wake
//!  Worker: claim for its free slots (fair, capped, leased) ─▶ release the connection
//!          ─▶ one task per call: POST, signed ─▶ record each outcome as it finishes, claim again
//!                                                   │
//!              success ─▶ succeeded      failure ─▶ retry per schedule (jitter, Retry-After)
//!                                                   └─▶ schedule used up ─▶ failed
//!              endpoint failing for `disable_after` ─▶ disabled + `endpoint.disabled` notice
//! ```
//!
//! Its statements live in `db`, one module per table (`deliveries`: claims, leases, renewals,
//! outcomes; `delivery_messages`, `delivery_endpoints`, `delivery_attempts`). This module keeps
//! what is not SQL: who receives a message, the turn order of claims, the retry schedule, the
//! notifications, waking the workers, and the transactions that tie the statements together.
//!
//! - [`outbox`]: [`enqueue`], called in the transaction of each change it reports, so a change
//!   is never stored without its notification or the other way round, with the endpoints that
//!   receive it and the wake-up of the workers; [`notify`] builds the engine's notifications
//!   (event completed or failed, credentials issued or revoked).
//! - [`worker`]: each worker keeps up to `batch_size` calls in flight as tasks that hold no
//!   connection, records each outcome as its call finishes and claims again as soon as a slot is
//!   free, so one slow call never holds the others. Claims (`claims`) are fair across endpoints:
//!   endpoints with due deliveries take turns, one delivery each per round, and a process has
//!   no more than 4 × `in_flight_per_endpoint` deliveries of an endpoint waiting or in flight
//!   (its workers claim one at a time and count them in the process: leases are not indexed, so
//!   a claim rewrites no index), so a hanging endpoint's backlog delays only itself. A process runs at most
//!   `in_flight_per_endpoint` calls to an endpoint at once (its lane); the other leased
//!   deliveries wait for the lane in the process, so a fast endpoint's calls follow one another
//!   without a claim in between.
//! - Leases: a claim holds its deliveries for `lease` (10 s), renewed every `lease_renewal`
//!   while their calls run; a call is cut at its endpoint's `timeout_ms`. A worker that dies
//!   mid-delivery stops renewing, its leases end within `lease` and any process claims the
//!   deliveries again: at-least-once, with a stable `messageId`.
//! - [`schedule`]: the waits between attempts; each attempt is one signed call
//!   ([`crate::calls`], with the key rotation's overlap); [`payload`]: what notifications carry;
//!   [`endpoints`] and [`messages`]: what the management API (`api::notifications`) shows and
//!   changes, re-exported from `db`, with enabling and replays, which wake the workers;
//!   [`config`]: the `[delivery]` section.

mod claims;
pub mod config;
pub mod endpoints;
pub mod messages;
pub mod notify;
pub mod outbox;
pub mod payload;
pub mod schedule;
pub mod worker;

pub(crate) use outbox::channel;
pub use outbox::{Due, enqueue};
pub use payload::{
    CredentialNotification, EventNotification, EventType, IssueRefused, NotifiedCredential,
    Outcome, SignedIn,
};
pub use worker::{Step, Worker, spawn};

/// A duration as stored: whole milliseconds.
fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
