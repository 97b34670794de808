//! PostgreSQL `LISTEN`: every process's workers wake when any process commits deliveries, so
//! several `psi serve` on one database deliver without waiting for their poll interval.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::outbox::wake;
use crate::db::deliveries::CHANNEL;

/// Wait before connecting again after the listener's connection failed.
const RECONNECT: Duration = Duration::from_secs(1);

/// Listens on the delivery channel of the database at `url` until `shutdown`. Lost connections
/// are made again; meanwhile workers still poll.
pub(crate) async fn run(url: String, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        tokio::select! {
            () = shutdown.cancelled() => return,
            result = listen(&url) => {
                if let Err(error) = result {
                    tracing::warn!(%error, "delivery listener: connection lost, reconnecting");
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RECONNECT) => {}
        }
    }
}

/// Wakes the workers at each notification; returns on a connection error.
async fn listen(url: &str) -> sqlx::Result<()> {
    let mut listener = PgListener::connect(url).await?;
    // Deliveries committed before LISTEN took effect are found by this wake-up.
    listener.listen(CHANNEL).await?;
    wake();
    loop {
        listener.recv().await?;
        wake();
    }
}
