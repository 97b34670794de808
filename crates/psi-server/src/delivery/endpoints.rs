//! Notification endpoints: where a service wants notifications, which types, the key that signs
//! them, and whether they are enabled. Stored in `db::delivery_endpoints`; enabling one resumes
//! its held deliveries and wakes the workers.

pub use crate::db::delivery_endpoints::{
    DisabledReason, Endpoint, EndpointSettings, delete, disable, get, insert, list, rotate, update,
};

use super::outbox;
use crate::db::{Db, deliveries, delivery_endpoints, now_ms};
use crate::ids::EndpointId;
use crate::scope::ServiceScope;

/// Enables the endpoint: its held deliveries start a new schedule now. Returns false if there is
/// no such endpoint.
pub async fn enable(db: &Db, scope: &ServiceScope, id: &EndpointId) -> sqlx::Result<bool> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    if !delivery_endpoints::mark_enabled(&mut tx, scope, id, now).await? {
        return Ok(false);
    }
    let resumed = deliveries::resume(&mut tx, id, now).await?;
    tx.commit().await?;
    if resumed > 0 {
        outbox::announce();
    }
    Ok(true)
}
