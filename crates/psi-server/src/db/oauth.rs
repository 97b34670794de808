//! SSI OAuth (docs/ssi-oauth.md): the attachment a client id names
//! (`extension_attachments.oauth_client_id`), the grants of both flows (`oauth_grants`), and the
//! service's "SSI Authentication" definition. Device codes, authorization codes and the
//! authorization page's handles are stored and found by their hash only.

use serde_json::{Map, Value};
use sqlx::{Any, FromRow, Transaction};

use super::credential_definitions::CredentialDefinition;
use super::{Db, new_id, now_ms};
use crate::domain::Attestation;
use crate::domain::oauth;
use crate::scope::ServiceScope;

/// The attachment of an enabled SSI OAuth installation that a client id names.
#[derive(Debug, Clone, FromRow)]
pub struct ClientRef {
    pub service_did: String,
    pub installation_id: String,
    pub interaction_id: String,
}

const CLIENT_SELECT: &str = "SELECT s.did AS service_did, a.installation_id, a.interaction_id \
     FROM extension_attachments a \
     JOIN extension_installations i ON i.id = a.installation_id AND i.enabled = 1 \
     JOIN services s ON s.id = a.service_id";

/// What a client id names.
#[derive(Debug)]
pub enum Found {
    One(ClientRef),
    None,
    /// A service DID (the client id of `ssi-auth-lib` 0.0.6) whose service has several SSI OAuth
    /// attachments.
    Several,
}

/// The attachment `client_id` names, if its installation is enabled: the attachment's own client
/// id, or else the DID of a service with exactly one.
pub async fn client(db: &Db, client_id: &str) -> sqlx::Result<Found> {
    let sql = format!("{CLIENT_SELECT} WHERE a.oauth_client_id = $1");
    let found: Option<ClientRef> = sqlx::query_as(&sql)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    if let Some(found) = found {
        return Ok(Found::One(found));
    }
    let sql = format!("{CLIENT_SELECT} WHERE s.did = $1 AND a.oauth_client_id IS NOT NULL LIMIT 2");
    let mut of_service: Vec<ClientRef> = sqlx::query_as(&sql)
        .bind(client_id)
        .fetch_all(db.pool())
        .await?;
    Ok(match of_service.len() {
        0 => Found::None,
        1 => Found::One(of_service.remove(0)),
        _ => Found::Several,
    })
}

/// The service's "SSI Authentication" definition (found by its schema's name: self-attested,
/// with the user code's attribute), which carries SSI OAuth's user code. Read afresh: the
/// management API creates the definition when it finds none.
pub async fn ssi_authentication(
    db: &Db,
    scope: &ServiceScope,
) -> sqlx::Result<Option<CredentialDefinition>> {
    Ok(find_ssi_authentication(
        super::credential_definitions::list(db, scope).await?,
    ))
}

/// [`ssi_authentication`] from the configuration cache, for the public paths that read it on
/// each request: a device authorization, a pending grant's page.
pub async fn ssi_authentication_cached(
    db: &Db,
    scope: &ServiceScope,
) -> sqlx::Result<Option<CredentialDefinition>> {
    Ok(find_ssi_authentication(
        super::credential_definitions::list_cached(db, scope).await?,
    ))
}

fn find_ssi_authentication(definitions: Vec<CredentialDefinition>) -> Option<CredentialDefinition> {
    definitions.into_iter().find(|d| {
        d.schema.name == oauth::SCHEMA_NAME
            && d.attestation == Attestation::SelfAttested
            && d.schema
                .attributes
                .iter()
                .any(|a| a.name.as_str() == oauth::USER_CODE_ATTRIBUTE)
    })
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

/// What the authorization code flow keeps of the browser's request (RFC 6749 §4.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub redirect_uri: String,
    /// The client's `state`, sent back with the code.
    pub state: Option<String>,
    /// PKCE S256 `code_challenge`.
    pub code_challenge: Option<String>,
    /// OpenID Connect's `nonce`, put in the `id_token`.
    pub nonce: Option<String>,
    pub scope: Option<String>,
}

/// A stored grant.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: String,
    pub service_id: String,
    pub installation_id: String,
    pub interaction_id: String,
    pub client_id: String,
    pub user_code: String,
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
    /// The code flow's request; `None` for a device grant.
    pub authorization: Option<AuthorizationRequest>,
    /// Whether the browser was sent back with a code already.
    pub code_issued: bool,
    pub code_expires_at: Option<i64>,
    pub event_id: Option<String>,
    pub approved_at: Option<i64>,
}

#[derive(FromRow)]
struct GrantRow {
    id: String,
    service_id: String,
    installation_id: String,
    interaction_id: String,
    client_id: String,
    user_code: String,
    state: String,
    expires_at: i64,
    poll_interval: i64,
    initial_interval: i64,
    last_polled_at: Option<i64>,
    holder_did: Option<String>,
    claims: Option<String>,
    created_at: i64,
    flow: String,
    redirect_uri: Option<String>,
    client_state: Option<String>,
    code_challenge: Option<String>,
    nonce: Option<String>,
    scope: Option<String>,
    code_issued: i64,
    code_expires_at: Option<i64>,
    event_id: Option<String>,
    approved_at: Option<i64>,
}

const GRANT_COLUMNS: &str = "id, service_id, installation_id, interaction_id, client_id, \
     user_code, state, expires_at, poll_interval, initial_interval, last_polled_at, holder_did, \
     claims, created_at, flow, redirect_uri, client_state, code_challenge, nonce, scope, \
     CASE WHEN code_hash IS NULL THEN 0 ELSE 1 END AS code_issued, code_expires_at, event_id, \
     approved_at";

impl TryFrom<GrantRow> for Grant {
    type Error = sqlx::Error;

    fn try_from(row: GrantRow) -> sqlx::Result<Self> {
        let claims = match row.claims.as_deref() {
            Some(text) => {
                serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(e.to_string().into()))?
            }
            None => Map::new(),
        };
        let authorization = match (row.flow.as_str(), row.redirect_uri) {
            ("code", Some(redirect_uri)) => Some(AuthorizationRequest {
                redirect_uri,
                state: row.client_state,
                code_challenge: row.code_challenge,
                nonce: row.nonce,
                scope: row.scope,
            }),
            ("device", None) => None,
            (flow, _) => {
                return Err(sqlx::Error::Decode(
                    format!("a {flow:?} grant with or without a redirect URI it should not have")
                        .into(),
                ));
            }
        };
        Ok(Grant {
            state: GrantState::from_db(&row.state)?,
            claims,
            authorization,
            id: row.id,
            service_id: row.service_id,
            installation_id: row.installation_id,
            interaction_id: row.interaction_id,
            client_id: row.client_id,
            user_code: row.user_code,
            expires_at: row.expires_at,
            poll_interval: row.poll_interval,
            initial_interval: row.initial_interval,
            last_polled_at: row.last_polled_at,
            holder_did: row.holder_did,
            created_at: row.created_at,
            code_issued: row.code_issued != 0,
            code_expires_at: row.code_expires_at,
            event_id: row.event_id,
            approved_at: row.approved_at,
        })
    }
}

/// A grant to store.
#[derive(Debug)]
pub struct NewGrant<'a> {
    pub service_id: &'a str,
    pub client: &'a ClientRef,
    pub client_id: &'a str,
    /// The hash of the device code, or of the authorization page's handle.
    pub handle_hash: &'a str,
    pub user_code: &'a str,
    pub expires_at: i64,
    pub poll_interval: i64,
    pub initial_interval: i64,
    /// The code flow's request; `None` for a device grant.
    pub authorization: Option<&'a AuthorizationRequest>,
}

/// Stores a pending grant; a user code pending already is a unique violation.
pub async fn insert(db: &Db, new: &NewGrant<'_>) -> sqlx::Result<()> {
    let request = new.authorization;
    sqlx::query(
        "INSERT INTO oauth_grants (id, service_id, installation_id, interaction_id, \
         client_id, handle_hash, user_code, state, expires_at, poll_interval, \
         initial_interval, created_at, flow, redirect_uri, client_state, code_challenge, nonce, \
         scope) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11, $12, $13, $14, $15, \
         $16, $17)",
    )
    .bind(new_id())
    .bind(new.service_id)
    .bind(&new.client.installation_id)
    .bind(&new.client.interaction_id)
    .bind(new.client_id)
    .bind(new.handle_hash)
    .bind(new.user_code)
    .bind(new.expires_at)
    .bind(new.poll_interval)
    .bind(new.initial_interval)
    .bind(now_ms())
    .bind(if request.is_some() { "code" } else { "device" })
    .bind(request.map(|r| r.redirect_uri.clone()))
    .bind(request.and_then(|r| r.state.clone()))
    .bind(request.and_then(|r| r.code_challenge.clone()))
    .bind(request.and_then(|r| r.nonce.clone()))
    .bind(request.and_then(|r| r.scope.clone()))
    .execute(db.pool())
    .await?;
    Ok(())
}

async fn find(db: &Db, column: &str, hash: &str) -> sqlx::Result<Option<Grant>> {
    let sql = format!("SELECT {GRANT_COLUMNS} FROM oauth_grants WHERE {column} = $1");
    let row: Option<GrantRow> = sqlx::query_as(&sql)
        .bind(hash)
        .fetch_optional(db.pool())
        .await?;
    row.map(Grant::try_from).transpose()
}

/// The grant of a device code or an authorization page's handle, by its hash.
pub async fn by_handle(db: &Db, hash: &str) -> sqlx::Result<Option<Grant>> {
    find(db, "handle_hash", hash).await
}

/// The grant of an authorization code, by the code's hash.
pub async fn by_code(db: &Db, hash: &str) -> sqlx::Result<Option<Grant>> {
    find(db, "code_hash", hash).await
}

/// Records a poll of a pending grant at `at`, with the interval from now on.
pub async fn polled(db: &Db, id: &str, at: i64, poll_interval: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE oauth_grants SET last_polled_at = $2, poll_interval = $3 WHERE id = $1")
        .bind(id)
        .bind(at)
        .bind(poll_interval)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Gives an approved, unexpired code-flow grant its authorization code (by hash), valid until
/// `expires_at`; false when it had one already or expired: the browser is sent back with a code
/// once, and only while the sign-in lasts.
pub async fn code_issued(
    db: &Db,
    id: &str,
    code_hash: &str,
    expires_at: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE oauth_grants SET code_hash = $2, code_expires_at = $3 \
         WHERE id = $1 AND state = 'approved' AND code_hash IS NULL AND expires_at > $4",
    )
    .bind(id)
    .bind(code_hash)
    .bind(expires_at)
    .bind(now_ms())
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(done > 0)
}

/// Marks an approved grant used; false when it was not approved (any more): a token is issued
/// once even if two requests race.
pub async fn take(tx: &mut Transaction<'_, Any>, id: &str) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE oauth_grants SET state = 'used' WHERE id = $1 AND state = 'approved'")
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    Ok(done > 0)
}

/// Who approved a grant, and with what.
#[derive(Debug)]
pub struct Approval<'a> {
    pub user_code: &'a str,
    pub holder_did: &'a str,
    pub event_id: &'a str,
    /// The tokens' claims from the holder's shared attributes.
    pub claims: &'a Map<String, Value>,
}

/// The holder who completed the attachment's interaction with the user code: approves the pending,
/// unexpired grant of that code with the holder's DID, the event and the tokens' claims; false
/// when there is none such.
pub async fn approve(
    db: &Db,
    scope: &ServiceScope,
    (installation_id, interaction_id): (&str, &str),
    approval: &Approval<'_>,
) -> sqlx::Result<bool> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE oauth_grants SET state = 'approved', holder_did = $5, claims = $6, \
         event_id = $7, approved_at = $8 \
         WHERE service_id = $1 AND installation_id = $2 AND interaction_id = $3 \
         AND user_code = $4 AND state = 'pending' AND expires_at > $8",
    )
    .bind(scope.service_id())
    .bind(installation_id)
    .bind(interaction_id)
    .bind(approval.user_code)
    .bind(approval.holder_did)
    .bind(Value::Object(approval.claims.clone()).to_string())
    .bind(approval.event_id)
    .bind(now)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(done > 0)
}

/// How long an expired grant is kept (a late poll still hears `expired_token`).
const KEPT_AFTER_EXPIRY_MS: i64 = 24 * 60 * 60 * 1000;

/// Deletes the grants that expired more than a day before `now`; returns how many.
pub async fn purge(db: &Db, now: i64) -> sqlx::Result<u64> {
    let deleted = sqlx::query("DELETE FROM oauth_grants WHERE expires_at < $1")
        .bind(now - KEPT_AFTER_EXPIRY_MS)
        .execute(db.pool())
        .await?;
    Ok(deleted.rows_affected())
}
