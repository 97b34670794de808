//! Replaying messages for the management API; what it shows of the outbox (messages, their
//! deliveries and attempts) is read in `db`. Every function is scoped to a service.

pub use crate::db::deliveries::{Delivery, DeliveryStatus};
pub use crate::db::delivery_attempts::{Attempt, AttemptFilter, list as attempts};
pub use crate::db::delivery_messages::{Message, MessageFilter, get, list};

use super::outbox;
use super::payload::EventType;
use crate::db::{Db, deliveries, delivery_endpoints, delivery_messages, now_ms};
use crate::ids::{EndpointId, MessageId};
use crate::scope::ServiceScope;

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
    message_id: &MessageId,
    endpoint_id: Option<&EndpointId>,
) -> sqlx::Result<Replayed> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    if !delivery_messages::exists(&mut tx, scope, message_id).await? {
        return Ok(Replayed::NoMessage);
    }
    if let Some(endpoint_id) = endpoint_id {
        match delivery_endpoints::enabled(&mut tx, scope, endpoint_id).await? {
            None => return Ok(Replayed::NoEndpoint),
            Some(false) => return Ok(Replayed::EndpointDisabled),
            Some(true) => deliveries::add(&mut tx, scope, message_id, endpoint_id, now).await?,
        }
    }
    let replayed = deliveries::replay(&mut tx, scope, message_id, endpoint_id, now).await?;
    tx.commit().await?;
    if replayed > 0 {
        outbox::announce();
    }
    Ok(Replayed::Deliveries(replayed))
}

/// Replays, to the endpoint, every message created since `since` (unix ms) whose delivery to
/// it failed, and delivers the messages of its types it never received (made while it was
/// disabled, or before it existed). Returns how many deliveries were started, or `None` when
/// the service has no such endpoint.
pub async fn replay_since(
    db: &Db,
    scope: &ServiceScope,
    endpoint_id: &EndpointId,
    since: i64,
) -> sqlx::Result<Option<u64>> {
    let Some(endpoint) = delivery_endpoints::get(db, scope, endpoint_id).await? else {
        return Ok(None);
    };
    let now = now_ms();
    let mut tx = db.begin().await?;
    let mut started = deliveries::replay_failed(&mut tx, scope, endpoint_id, since, now).await?;
    let missed = delivery_messages::undelivered_to(&mut tx, scope, endpoint_id, since).await?;
    for (message_id, event_type) in missed {
        let wanted = EventType::parse(&event_type)
            .is_some_and(|t| outbox::receives(&endpoint.event_types, t));
        if wanted {
            deliveries::add(&mut tx, scope, &message_id, endpoint_id, now).await?;
            started += 1;
        }
    }
    if !endpoint.enabled {
        // Held until the endpoint is enabled.
        deliveries::hold(&mut tx, endpoint_id, now).await?;
    }
    tx.commit().await?;
    if endpoint.enabled && started > 0 {
        outbox::announce();
    }
    Ok(Some(started))
}
