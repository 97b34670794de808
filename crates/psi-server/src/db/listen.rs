//! PostgreSQL `LISTEN` and `NOTIFY` between processes, so several `psi serve` on one database
//! hear each other's news at once: deliveries committed (their workers wake instead of waiting
//! for their poll interval) and configuration written (their caches drop what they read before).
//!
//! A process that has news has acted on it itself already; its notifier tells the others with one
//! `NOTIFY` for however many pieces of news came while the last one was being sent, on its own
//! connection, outside every transaction. Each process's listener acts on the others'
//! notifications and ignores its own notifier's, and those of deployments in other schemas of
//! the database (a notification names its schema).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{AnyConnection, Connection};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Wait before connecting again after a connection failed.
const RECONNECT: Duration = Duration::from_secs(1);

/// What a process does at another's news.
pub(crate) type Act = Box<dyn Fn() + Send + Sync>;

/// A channel and what to do at others' news on it.
type Heard = (&'static str, Act);

/// One kind of news.
pub(crate) struct Channel {
    /// The PostgreSQL channel.
    pub name: &'static str,
    /// Changes when this process has news to tell.
    pub told: watch::Receiver<u64>,
    /// Acts on another process's news; also called each time the listener (re)connects, since
    /// news sent while it was not listening is lost. `None`: this process does not listen.
    pub heard: Option<Act>,
}

/// Until `shutdown`, tells the other processes on the database at `url` this process's news on
/// `channels`, and hears theirs. Lost connections are made again.
pub(crate) async fn run(url: String, mut channels: Vec<Channel>, shutdown: CancellationToken) {
    let told: Vec<_> = channels.iter().map(|c| (c.name, c.told.clone())).collect();
    let heard: Arc<Vec<_>> = Arc::new(
        channels
            .iter_mut()
            .filter_map(|c| Some((c.name, c.heard.take()?)))
            .collect(),
    );
    // The database process of the notifier: its notifications are no news here.
    let notifier = Arc::new(AtomicU32::new(0));
    let notifying = reconnecting("notifier", &shutdown, || {
        notify(url.clone(), Arc::clone(&notifier), told.clone())
    });
    if heard.is_empty() {
        notifying.await;
    } else {
        let listening = reconnecting("listener", &shutdown, || {
            listen(url.clone(), Arc::clone(&notifier), Arc::clone(&heard))
        });
        tokio::join!(notifying, listening);
    }
}

/// Runs what `connect` makes until `shutdown`, again after each connection error.
async fn reconnecting<F, C>(what: &str, shutdown: &CancellationToken, connect: C)
where
    C: Fn() -> F,
    F: Future<Output = sqlx::Result<()>>,
{
    while !shutdown.is_cancelled() {
        tokio::select! {
            () = shutdown.cancelled() => return,
            result = connect() => {
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

/// Sends one `NOTIFY` on a channel after each change of its `told`, or after any number of
/// changes made while the last was being sent; returns on a connection error.
async fn notify(
    url: String,
    notifier: Arc<AtomicU32>,
    mut told: Vec<(&'static str, watch::Receiver<u64>)>,
) -> sqlx::Result<()> {
    let mut conn = AnyConnection::connect(&url).await?;
    let pid: (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
        .fetch_one(&mut conn)
        .await?;
    notifier.store(u32::try_from(pid.0).unwrap_or(0), Ordering::Relaxed);
    // Whatever happened while no notifier ran.
    for (name, receiver) in &mut told {
        receiver.borrow_and_update();
        send(&mut conn, name).await?;
    }
    if told.is_empty() {
        return std::future::pending().await;
    }
    loop {
        let changed = futures_util::future::select_all(
            told.iter_mut()
                .map(|(_, receiver)| Box::pin(receiver.changed())),
        );
        let (result, index, _) = changed.await;
        if result.is_err() {
            return Ok(());
        }
        let name = told[index].0;
        told[index].1.borrow_and_update();
        send(&mut conn, name).await?;
    }
}

/// Notifies `channel`, naming this deployment's schema: channels are per database, and psi
/// deployments in other schemas of it are no concern of this one.
async fn send(conn: &mut AnyConnection, channel: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, COALESCE(current_schema(), ''))")
        .bind(channel)
        .execute(conn)
        .await
        .map(drop)
}

/// Acts on each other process's notification; returns on a connection error.
async fn listen(url: String, notifier: Arc<AtomicU32>, heard: Arc<Vec<Heard>>) -> sqlx::Result<()> {
    let mut listener = PgListener::connect(&url).await?;
    let schema: String = sqlx::query_scalar("SELECT COALESCE(current_schema(), '')")
        .fetch_one(&mut listener)
        .await?;
    listener
        .listen_all(heard.iter().map(|(name, _)| *name))
        .await?;
    // News sent before LISTEN took effect.
    for (_, act) in heard.iter() {
        act();
    }
    loop {
        let notification = listener.recv().await?;
        if notification.process_id() == notifier.load(Ordering::Relaxed)
            || notification.payload() != schema
        {
            continue;
        }
        if let Some((_, act)) = heard
            .iter()
            .find(|(name, _)| *name == notification.channel())
        {
            act();
        }
    }
}
