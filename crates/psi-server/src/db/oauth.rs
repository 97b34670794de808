//! SSI OAuth (docs/ssi-oauth.md): the attachment a client id names
//! (`extension_attachments.oauth_client_id`) and the device authorization grants
//! (`oauth_device_grants`). Device codes are stored and found by their hash only.

use serde_json::{Map, Value};
use sqlx::FromRow;

use super::{Db, new_id, now_ms};
use crate::scope::ServiceScope;

/// The attachment of an enabled SSI OAuth installation that a client id names.
#[derive(Debug, Clone, FromRow)]
pub struct ClientRef {
    pub service_did: String,
    pub installation_id: String,
    pub interaction_id: String,
}

/// The attachment `client_id` names, if its installation is enabled.
pub async fn client(db: &Db, client_id: &str) -> sqlx::Result<Option<ClientRef>> {
    sqlx::query_as(
        "SELECT s.did AS service_did, a.installation_id, a.interaction_id \
         FROM extension_attachments a \
         JOIN extension_installations i ON i.id = a.installation_id AND i.enabled = 1 \
         JOIN services s ON s.id = a.service_id WHERE a.oauth_client_id = $1",
    )
    .bind(client_id)
    .fetch_optional(db.pool())
    .await
}

/// Whether an attachment other than (`installation_id`, `interaction_id`) has `client_id`.
pub async fn client_taken(
    db: &Db,
    client_id: &str,
    installation_id: &str,
    interaction_id: &str,
) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM extension_attachments WHERE oauth_client_id = $1 \
         AND NOT (installation_id = $2 AND interaction_id = $3)",
    )
    .bind(client_id)
    .bind(installation_id)
    .bind(interaction_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(found.is_some())
}

/// Where a grant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantState {
    /// Waiting for the holder.
    Pending,
    /// The holder completed the interaction: a token may be issued, once.
    Approved,
    /// The token was issued.
    Used,
    Denied,
}

impl GrantState {
    fn from_db(text: &str) -> sqlx::Result<Self> {
        match text {
            "pending" => Ok(GrantState::Pending),
            "approved" => Ok(GrantState::Approved),
            "used" => Ok(GrantState::Used),
            "denied" => Ok(GrantState::Denied),
            other => Err(sqlx::Error::Decode(
                format!("unknown grant state {other:?}").into(),
            )),
        }
    }
}

/// A stored grant.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: String,
    pub service_id: String,
    pub installation_id: String,
    pub interaction_id: String,
    pub client_id: String,
    pub state: GrantState,
    pub expires_at: i64,
    /// Seconds.
    pub poll_interval: i64,
    /// Seconds.
    pub initial_interval: i64,
    pub last_polled_at: Option<i64>,
    pub holder_did: Option<String>,
    pub claims: Map<String, Value>,
    pub created_at: i64,
}

#[derive(FromRow)]
struct GrantRow {
    id: String,
    service_id: String,
    installation_id: String,
    interaction_id: String,
    client_id: String,
    state: String,
    expires_at: i64,
    poll_interval: i64,
    initial_interval: i64,
    last_polled_at: Option<i64>,
    holder_did: Option<String>,
    claims: Option<String>,
    created_at: i64,
}

impl TryFrom<GrantRow> for Grant {
    type Error = sqlx::Error;

    fn try_from(row: GrantRow) -> sqlx::Result<Self> {
        let claims = match row.claims.as_deref() {
            Some(text) => {
                serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(e.to_string().into()))?
            }
            None => Map::new(),
        };
        Ok(Grant {
            state: GrantState::from_db(&row.state)?,
            claims,
            id: row.id,
            service_id: row.service_id,
            installation_id: row.installation_id,
            interaction_id: row.interaction_id,
            client_id: row.client_id,
            expires_at: row.expires_at,
            poll_interval: row.poll_interval,
            initial_interval: row.initial_interval,
            last_polled_at: row.last_polled_at,
            holder_did: row.holder_did,
            created_at: row.created_at,
        })
    }
}

/// A grant to store.
#[derive(Debug)]
pub struct NewGrant<'a> {
    pub service_id: &'a str,
    pub client: &'a ClientRef,
    pub client_id: &'a str,
    pub device_code_hash: &'a str,
    pub user_code: &'a str,
    pub expires_at: i64,
    pub poll_interval: i64,
    pub initial_interval: i64,
}

/// Stores a pending grant; a user code pending already is a unique violation.
pub async fn insert(db: &Db, new: &NewGrant<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oauth_device_grants (id, service_id, installation_id, interaction_id, \
         client_id, device_code_hash, user_code, state, expires_at, poll_interval, \
         initial_interval, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11)",
    )
    .bind(new_id())
    .bind(new.service_id)
    .bind(&new.client.installation_id)
    .bind(&new.client.interaction_id)
    .bind(new.client_id)
    .bind(new.device_code_hash)
    .bind(new.user_code)
    .bind(new.expires_at)
    .bind(new.poll_interval)
    .bind(new.initial_interval)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The grant of a device code, by the code's hash.
pub async fn by_device_code(db: &Db, hash: &str) -> sqlx::Result<Option<Grant>> {
    let row: Option<GrantRow> = sqlx::query_as(
        "SELECT id, service_id, installation_id, interaction_id, client_id, state, expires_at, \
         poll_interval, initial_interval, last_polled_at, holder_did, claims, created_at \
         FROM oauth_device_grants WHERE device_code_hash = $1",
    )
    .bind(hash)
    .fetch_optional(db.pool())
    .await?;
    row.map(Grant::try_from).transpose()
}

/// Records a poll of a pending grant at `at`, with the interval from now on.
pub async fn polled(db: &Db, id: &str, at: i64, poll_interval: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE oauth_device_grants SET last_polled_at = $2, poll_interval = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(at)
    .bind(poll_interval)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Marks an approved grant used; false when it was not approved (any more): a token is issued
/// once even if two polls race.
pub async fn take(db: &Db, id: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE oauth_device_grants SET state = 'used' WHERE id = $1 AND state = 'approved'",
    )
    .bind(id)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(done > 0)
}

/// The holder who completed the attachment's interaction with `user_code`: approves the pending,
/// unexpired grant of that code with the holder's DID and the token's claims; false when there is
/// none such.
pub async fn approve(
    db: &Db,
    scope: &ServiceScope,
    installation_id: &str,
    interaction_id: &str,
    user_code: &str,
    holder_did: &str,
    claims: &Map<String, Value>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE oauth_device_grants SET state = 'approved', holder_did = $5, claims = $6 \
         WHERE service_id = $1 AND installation_id = $2 AND interaction_id = $3 \
         AND user_code = $4 AND state = 'pending' AND expires_at > $7",
    )
    .bind(scope.service_id())
    .bind(installation_id)
    .bind(interaction_id)
    .bind(user_code)
    .bind(holder_did)
    .bind(Value::Object(claims.clone()).to_string())
    .bind(now_ms())
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(done > 0)
}
