//! Durable outbound delivery: notifications to the endpoints a service registers.
//!
//! ```text
//!  change + enqueue ──(one transaction)──▶ delivery_messages + deliveries (due now)
//!                                                   │ NOTIFY / wake
//!  Worker::step: claim (lease) ─▶ release the connection ─▶ POST, signed ─▶ record attempt
//!                                                   │
//!              success ─▶ succeeded      failure ─▶ retry per schedule (jitter, Retry-After)
//!                                                   └─▶ schedule used up ─▶ failed
//!              endpoint failing for `disable_after` ─▶ disabled + `endpoint.disabled` notice
//! ```
//!
//! - [`outbox`]: [`enqueue`], called in the transaction of each change it reports, so a change
//!   is never stored without its notification or the other way round; [`notify`] builds the
//!   engine's notifications (event completed or failed, credentials issued or revoked).
//! - [`worker`]: [`Worker::step`] claims due deliveries with a lease (PostgreSQL: `FOR UPDATE
//!   SKIP LOCKED`, so any number of processes share the work), calls the endpoints with no
//!   connection held, and records one attempt row per try. A worker that dies mid-delivery leaves
//!   its lease to expire and the delivery is retried: at-least-once, with a stable `messageId`.
//! - [`schedule`]: the waits between attempts; [`sign`]: signatures and key rotation overlap;
//!   [`payload`]: what notifications carry; [`endpoints`] and [`messages`]: the stored state the
//!   management API ([`api`]) shows and changes; [`config`]: the `[delivery]` section.

pub mod api;
mod claims;
pub mod config;
pub mod endpoints;
mod listen;
pub mod messages;
pub mod notify;
pub mod outbox;
pub mod payload;
pub mod schedule;
pub mod sign;
pub mod worker;

pub use outbox::enqueue;
pub use payload::{
    CredentialNotification, EventNotification, EventType, NotifiedCredential, Outcome,
};
pub use worker::{Step, Worker, spawn};

/// A duration as stored: whole milliseconds.
fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
