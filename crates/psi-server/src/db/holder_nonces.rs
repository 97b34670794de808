//! Nonces of signed wallet calls (`holder_nonces` table): each is accepted once per holder key,
//! so a recorded call cannot be replayed within its timestamp window.

use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::{Any, Transaction};

use crate::scope::ServiceScope;

/// How long a nonce is kept, in milliseconds: a call's timestamp may be up to 5 minutes ahead of
/// the clock when it is first seen and is refused 5 minutes after that timestamp, so a replay is
/// refused by its timestamp once the nonce is this old.
pub const RETENTION_MS: i64 = 10 * 60 * 1000;

/// How often old nonces are purged, in milliseconds.
const PURGE_EVERY_MS: i64 = 60 * 1000;

/// When this process last purged (unix ms).
static LAST_PURGE: AtomicI64 = AtomicI64::new(0);

/// Records `nonce` for the holder key, in the transaction of the call's effects; false if it was
/// seen before. Nonces older than [`RETENTION_MS`] are purged first.
pub async fn accept(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    verkey: &str,
    nonce: &str,
    now: i64,
) -> sqlx::Result<bool> {
    // Once a minute per process is enough to keep the table small; each call would cost a
    // statement. Several processes each purging now and then is harmless.
    let last = LAST_PURGE.load(Ordering::Relaxed);
    if now - last >= PURGE_EVERY_MS
        && LAST_PURGE
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        sqlx::query("DELETE FROM holder_nonces WHERE seen_at < $1")
            .bind(now - RETENTION_MS)
            .execute(&mut **tx)
            .await?;
    }
    // ON CONFLICT, not a caught unique violation: PostgreSQL aborts a transaction on an error.
    let result = sqlx::query(
        "INSERT INTO holder_nonces (service_id, holder_verkey, nonce, seen_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(scope.service_id())
    .bind(verkey)
    .bind(nonce)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected() == 1)
}
