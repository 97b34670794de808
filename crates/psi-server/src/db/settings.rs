//! Server-wide values (`settings` table): the admin token's hash, the master key check, the demo
//! service.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Db, now_ms};
use crate::crypto::MasterKey;

/// The value of `name`, if set.
pub async fn get(db: &Db, name: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await
}

/// Sets `name` unless it is set; returns whether this call set it. Servers starting together on
/// one database agree on the first value written.
pub async fn insert_if_absent(db: &Db, name: &str, value: &str) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(value)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Sets `name` to `value`, replacing any value.
pub async fn put(db: &Db, name: &str, value: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(now_ms())
    .execute(db.pool())
    .await
    .map(drop)
}

const MASTER_KEY_CHECK: &str = "master_key_check";

/// Fails unless `key` is the master key this database was first used with (a blob sealed with it
/// is stored on first start), so a wrong key stops the server instead of breaking every secret.
pub async fn check_master_key(db: &Db, key: &MasterKey) -> anyhow::Result<()> {
    let sealed = STANDARD.encode(key.seal(MASTER_KEY_CHECK.as_bytes(), b"psi"));
    insert_if_absent(db, MASTER_KEY_CHECK, &sealed).await?;
    let stored = get(db, MASTER_KEY_CHECK)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the master key check vanished"))?;
    let opens = STANDARD
        .decode(stored)
        .ok()
        .is_some_and(|blob| key.open(MASTER_KEY_CHECK.as_bytes(), &blob).is_ok());
    anyhow::ensure!(
        opens,
        "the master key is not the one this database was created with: \
         set PSI_MASTER_KEY (or <data-dir>/master.key) to the original key"
    );
    Ok(())
}
