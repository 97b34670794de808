//! Nonces of signed wallet calls (`holder_nonces` table): each is accepted once per holder key,
//! so a recorded call cannot be replayed within its timestamp window.

use sqlx::{Any, Transaction};

use crate::scope::ServiceScope;

/// How long a nonce is kept, in milliseconds: a call's timestamp may be up to 5 minutes ahead of
/// the clock when it is first seen and is refused 5 minutes after that timestamp, so a replay is
/// refused by its timestamp once the nonce is this old.
pub const RETENTION_MS: i64 = 10 * 60 * 1000;

/// Records `nonce` for the holder key, in the transaction of the call's effects; false if it was
/// seen before. Nonces older than [`RETENTION_MS`] are purged first.
pub async fn accept(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    verkey: &str,
    nonce: &str,
    now: i64,
) -> sqlx::Result<bool> {
    sqlx::query("DELETE FROM holder_nonces WHERE seen_at < $1")
        .bind(now - RETENTION_MS)
        .execute(&mut **tx)
        .await?;
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
