//! PostgreSQL `LISTEN` and `NOTIFY` between processes, so several `psi serve` on one database
//! deliver without waiting for their poll interval. A process that committed due deliveries has
//! woken its own workers already; its notifier tells the others with one `NOTIFY` for however
//! many commits came while the last one was being sent, outside every enqueueing transaction.
//! Each process's listener wakes its workers at the others' notifications.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{AnyConnection, Connection};
use tokio_util::sync::CancellationToken;

use super::outbox::{announced_receiver, wake};
use crate::db::deliveries::{self, CHANNEL};

/// Wait before connecting again after a connection failed.
const RECONNECT: Duration = Duration::from_secs(1);

/// The database process of this process's notifier: its notifications wake no one here.
static NOTIFIER_PID: AtomicU32 = AtomicU32::new(0);

/// Until `shutdown`, sends this process's announcements to the others on the database at `url`
/// and, with `listen`, wakes this process's workers at theirs. Lost connections are made again;
/// meanwhile workers still poll.
pub(crate) async fn run(url: String, listen: bool, shutdown: CancellationToken) {
    let notifying = reconnecting("delivery notifier", &url, &shutdown, notify);
    if listen {
        tokio::join!(
            notifying,
            reconnecting("delivery listener", &url, &shutdown, self::listen)
        );
    } else {
        notifying.await;
    }
}

/// Runs `connected` on `url` until `shutdown`, again after each connection error.
async fn reconnecting<F: AsyncFn(&str) -> sqlx::Result<()>>(
    what: &str,
    url: &str,
    shutdown: &CancellationToken,
    connected: F,
) {
    while !shutdown.is_cancelled() {
        tokio::select! {
            () = shutdown.cancelled() => return,
            result = connected(url) => {
                if let Err(error) = result {
                    tracing::warn!(%error, "{what}: connection lost, reconnecting");
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RECONNECT) => {}
        }
    }
}

/// Sends one `NOTIFY` after each announcement, or after any number of them made while the last
/// was being sent; returns on a connection error.
async fn notify(url: &str) -> sqlx::Result<()> {
    let mut conn = AnyConnection::connect(url).await?;
    let pid = deliveries::backend_pid(&mut conn).await?;
    NOTIFIER_PID.store(u32::try_from(pid).unwrap_or(0), Ordering::Relaxed);
    let mut announced = announced_receiver();
    // Whatever was committed while no notifier ran.
    deliveries::notify(&mut conn).await?;
    while announced.changed().await.is_ok() {
        deliveries::notify(&mut conn).await?;
    }
    Ok(())
}

/// Wakes the workers at each other process's notification; returns on a connection error.
async fn listen(url: &str) -> sqlx::Result<()> {
    let mut listener = PgListener::connect(url).await?;
    // Deliveries committed before LISTEN took effect are found by this wake-up.
    listener.listen(CHANNEL).await?;
    wake();
    loop {
        let notification = listener.recv().await?;
        if notification.process_id() != NOTIFIER_PID.load(Ordering::Relaxed) {
            wake();
        }
    }
}
