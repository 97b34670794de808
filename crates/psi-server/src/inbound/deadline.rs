//! Waiting events end. An event waits when its webhook says the service issues later; if no
//! `credentials-issued` or `credentials-issuing-failed` call settles it within its interaction's
//! `waiting_deadline_secs`, it fails here: the holder is told the service did not issue in time,
//! the log says why, and the service hears `event.failed` like any failure. Every process sweeps;
//! taking the event out of `waiting` is conditional, so one of them (or a late call) settles it.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::db::events::{EventRef, LogKind, Overdue};
use crate::db::{self, now_ms};
use crate::delivery::notify::Attached;
use crate::event::Journal;
use crate::event::settle::{self, Ending, Handover};
use crate::http::AppState;

/// What the holder is told.
pub const EXPIRED: &str = "the service did not issue your credentials in time";
/// Events failed per query; a longer backlog takes several in a row.
const BATCH: i64 = 100;

/// Sweeps every `[inbound] deadline_sweep_interval` until `shutdown`.
pub fn spawn(state: AppState, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(state.config.inbound.deadline_sweep_interval);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if let Err(e) = sweep(&state).await {
                tracing::warn!(error = %e, "failing overdue waiting events");
            }
        }
    })
}

/// Fails every waiting event past its deadline now; returns how many this process failed.
pub async fn sweep(state: &AppState) -> sqlx::Result<usize> {
    let mut failed = 0;
    loop {
        let overdue = db::events::overdue(&state.db, now_ms(), BATCH).await?;
        let found = overdue.len();
        for event in &overdue {
            if fail(state, event).await? {
                failed += 1;
            }
        }
        if found < BATCH as usize {
            return Ok(failed);
        }
    }
}

/// Fails one overdue event, unless a call or another process settled it first.
async fn fail(state: &AppState, overdue: &Overdue) -> sqlx::Result<bool> {
    let Overdue {
        scope,
        event,
        waiting_deadline_secs,
    } = overdue;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if !db::inbound::take_waiting_event(&mut tx, scope, &event.id, now).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    let mut journal = Journal::default();
    journal.follow(db::inbound::event_log_len(&mut tx, scope, &event.id).await?);
    let waited = humantime::format_duration(std::time::Duration::from_secs(
        u64::try_from(*waiting_deadline_secs).unwrap_or(0),
    ));
    journal.log(
        LogKind::Failed,
        format!(
            "no credentials-issued or credentials-issuing-failed call came within {waited}, \
             the interaction's waiting_deadline_secs"
        ),
    );
    let reference = EventRef {
        id: &event.id,
        interaction_id: &event.interaction_id,
        instance_id: &event.instance_id,
        holder_did: &event.holder_did,
    };
    let ending = Ending::failed(EXPIRED.to_owned());
    let (_, due) = settle::write(
        &mut tx,
        scope,
        (reference, Attached::Unread),
        &ending,
        &mut journal,
        Handover::Inbox,
    )
    .await?;
    tx.commit().await?;
    due.announce();
    tracing::info!(did = %scope.did(), event = %event.id, "a waiting event passed its deadline and failed");
    Ok(true)
}
