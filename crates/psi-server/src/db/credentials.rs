//! Credentials psi issued (`credentials` table): the signed VC-JWT, its values for listings, and
//! revocation. The `jti` is the credential's global id, so status reads need no scope.

use sqlx::{Any, Executor, FromRow};

use super::{Db, Order, Paging};
use crate::credentials::Field;
use crate::ids::{EventId, HolderDid, Jti};
use crate::scope::ServiceScope;

/// A stored credential, with the wire ids of its definition and schema.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    pub jti: Jti,
    /// Wire id of the definition, `<DID>:3:CL:<seq>:<tag>`.
    pub credential_id: String,
    /// Wire id of the schema, `<DID>:2:<name>:<version>`.
    pub schema_id: String,
    pub holder_did: HolderDid,
    /// Values in schema order.
    pub attributes: Vec<Field>,
    pub jwt: String,
    pub issued_at: i64,
    pub revoked_at: Option<i64>,
    pub event_id: Option<EventId>,
    pub collected_at: Option<i64>,
}

#[derive(FromRow)]
struct Row {
    jti: Jti,
    did: String,
    seq: i64,
    tag: String,
    schema_name: String,
    schema_version: String,
    holder_did: HolderDid,
    attributes: String,
    jwt: String,
    issued_at: i64,
    revoked_at: Option<i64>,
    event_id: Option<EventId>,
    collected_at: Option<i64>,
}

impl TryFrom<Row> for StoredCredential {
    type Error = sqlx::Error;

    fn try_from(row: Row) -> sqlx::Result<Self> {
        Ok(StoredCredential {
            credential_id: format!("{}:3:CL:{}:{}", row.did, row.seq, row.tag),
            schema_id: format!("{}:2:{}:{}", row.did, row.schema_name, row.schema_version),
            attributes: serde_json::from_str(&row.attributes)
                .map_err(|e| sqlx::Error::Decode(e.into()))?,
            jti: row.jti,
            holder_did: row.holder_did,
            jwt: row.jwt,
            issued_at: row.issued_at,
            revoked_at: row.revoked_at,
            event_id: row.event_id,
            collected_at: row.collected_at,
        })
    }
}

/// `SELECT` of credentials with their wire ids; conditions on `cr` follow `WHERE`.
fn select(condition: &str) -> String {
    format!(
        "SELECT cr.jti, sv.did, cd.seq, cd.tag, s.name AS schema_name, \
         s.version AS schema_version, cr.holder_did, cr.attributes, cr.jwt, cr.issued_at, \
         cr.revoked_at, cr.event_id, cr.collected_at \
         FROM credentials cr \
         JOIN services sv ON sv.id = cr.service_id \
         JOIN credential_definitions cd ON cd.id = cr.definition_id \
         JOIN schemas s ON s.id = cd.schema_id \
         WHERE {condition}"
    )
}

/// A credential to store.
pub struct NewCredential<'a> {
    pub jti: &'a Jti,
    /// Internal id of one of the scoped service's definitions.
    pub definition_id: &'a str,
    pub holder_did: &'a HolderDid,
    pub attributes: &'a [Field],
    pub jwt: &'a str,
    pub issued_at: i64,
    pub event_id: Option<&'a EventId>,
    /// Set when the wallet receives it in the answer that issued it.
    pub collected_at: Option<i64>,
}

/// Stores an issued credential (in the caller's transaction, with the rest of its batch).
pub async fn insert<'e>(
    executor: impl Executor<'e, Database = Any>,
    scope: &ServiceScope,
    new: &NewCredential<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO credentials (jti, service_id, definition_id, holder_did, attributes, jwt, \
         issued_at, event_id, collected_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new.jti)
    .bind(scope.service_id())
    .bind(new.definition_id)
    .bind(new.holder_did)
    .bind(serde_json::to_string(new.attributes).expect("fields serialise"))
    .bind(new.jwt)
    .bind(new.issued_at)
    .bind(new.event_id)
    .bind(new.collected_at)
    .execute(executor)
    .await
    .map(drop)
}

/// The revocation state of any credential on this server: `Some(revoked_at)` when it exists.
/// A credential's id is its authority, as it is for the wallet that holds it.
pub async fn status(db: &Db, jti: &Jti) -> sqlx::Result<Option<Option<i64>>> {
    sqlx::query_scalar("SELECT revoked_at FROM credentials WHERE jti = $1")
        .bind(jti)
        .fetch_optional(db.pool())
        .await
}

/// The jti of the holder's most recent credential of this definition (revoked or not).
pub async fn latest_jti(
    db: &Db,
    scope: &ServiceScope,
    definition_id: &str,
    holder_did: &HolderDid,
) -> sqlx::Result<Option<Jti>> {
    sqlx::query_scalar(
        "SELECT jti FROM credentials \
         WHERE service_id = $1 AND holder_did = $2 AND definition_id = $3 \
         ORDER BY issued_at DESC, jti DESC LIMIT 1",
    )
    .bind(scope.service_id())
    .bind(holder_did)
    .bind(definition_id)
    .fetch_optional(db.pool())
    .await
}

/// Whether the holder has a credential of this definition that is not revoked (one-off
/// definitions are issued once).
pub async fn holds_valid(
    db: &Db,
    scope: &ServiceScope,
    definition_id: &str,
    holder_did: &HolderDid,
) -> sqlx::Result<bool> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT jti FROM credentials WHERE service_id = $1 AND holder_did = $2 \
         AND definition_id = $3 AND revoked_at IS NULL LIMIT 1",
    )
    .bind(scope.service_id())
    .bind(holder_did)
    .bind(definition_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(found.is_some())
}

/// Filters of [`list`].
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub holder_did: Option<&'a str>,
    /// Internal id of the definition.
    pub definition_id: Option<&'a str>,
}

super::positioned!(StoredCredential, issued_at, jti);

/// A page of the scoped service's credentials, newest first.
pub async fn list(
    db: &Db,
    scope: &ServiceScope,
    filter: &Filter<'_>,
    paging: &Paging,
) -> sqlx::Result<Vec<StoredCredential>> {
    let sql = select(&format!(
        "cr.service_id = $1 AND ($2 IS NULL OR cr.holder_did = $2) \
         AND ($3 IS NULL OR cr.definition_id = $3){}",
        Paging::sql("cr.issued_at", "cr.jti", 4, Order::Newest)
    ));
    let query = sqlx::query_as(&sql)
        .bind(scope.service_id())
        .bind(filter.holder_did)
        .bind(filter.definition_id);
    let rows: Vec<Row> = paging.bind(query).fetch_all(db.pool()).await?;
    rows.into_iter().map(StoredCredential::try_from).collect()
}

/// The scoped service's credential with this jti.
pub async fn get(
    db: &Db,
    scope: &ServiceScope,
    jti: &Jti,
) -> sqlx::Result<Option<StoredCredential>> {
    find(db.pool(), scope, jti).await
}

/// [`get`] on any executor, such as the transaction that just revoked it.
pub async fn find<'e>(
    executor: impl Executor<'e, Database = Any>,
    scope: &ServiceScope,
    jti: &Jti,
) -> sqlx::Result<Option<StoredCredential>> {
    let row: Option<Row> = sqlx::query_as(&select("cr.service_id = $1 AND cr.jti = $2"))
        .bind(scope.service_id())
        .bind(jti)
        .fetch_optional(executor)
        .await?;
    row.map(StoredCredential::try_from).transpose()
}

/// Revokes the scoped service's credential `jti` at `now` unless it already is; returns whether
/// this call revoked it.
pub async fn revoke<'e>(
    executor: impl Executor<'e, Database = Any>,
    scope: &ServiceScope,
    jti: &Jti,
    now: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE credentials SET revoked_at = $3 \
         WHERE service_id = $1 AND jti = $2 AND revoked_at IS NULL",
    )
    .bind(scope.service_id())
    .bind(jti)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// The holder's credentials of this definition that are not revoked: `(jti, attributes)`.
pub async fn valid_of_holder<'e>(
    executor: impl Executor<'e, Database = Any>,
    scope: &ServiceScope,
    definition_id: &str,
    holder_did: &HolderDid,
) -> sqlx::Result<Vec<(Jti, Vec<Field>)>> {
    let rows: Vec<(Jti, String)> = sqlx::query_as(
        "SELECT jti, attributes FROM credentials WHERE service_id = $1 AND holder_did = $2 \
         AND definition_id = $3 AND revoked_at IS NULL ORDER BY issued_at, jti",
    )
    .bind(scope.service_id())
    .bind(holder_did)
    .bind(definition_id)
    .fetch_all(executor)
    .await?;
    rows.into_iter()
        .map(|(jti, attributes)| {
            let attributes =
                serde_json::from_str(&attributes).map_err(|e| sqlx::Error::Decode(e.into()))?;
            Ok((jti, attributes))
        })
        .collect()
}

/// The holder's inbox: credentials not yet collected (now marked collected, at `now`) and the
/// ids of the holder's revoked credentials.
pub async fn collect_inbox(
    tx: &mut sqlx::Transaction<'_, Any>,
    scope: &ServiceScope,
    holder_did: &HolderDid,
    now: i64,
) -> sqlx::Result<(Vec<StoredCredential>, Vec<String>)> {
    let rows: Vec<Row> = sqlx::query_as(&select(
        "cr.service_id = $1 AND cr.holder_did = $2 AND cr.collected_at IS NULL \
         AND cr.revoked_at IS NULL ORDER BY cr.issued_at, cr.jti",
    ))
    .bind(scope.service_id())
    .bind(holder_did)
    .fetch_all(&mut **tx)
    .await?;
    let credentials = rows
        .into_iter()
        .map(StoredCredential::try_from)
        .collect::<sqlx::Result<Vec<_>>>()?;
    // One by one: a credential issued after the SELECT stays in the inbox for the next call.
    for credential in &credentials {
        sqlx::query("UPDATE credentials SET collected_at = $2 WHERE jti = $1")
            .bind(&credential.jti)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    let revoked = sqlx::query_scalar(
        "SELECT jti FROM credentials WHERE service_id = $1 AND holder_did = $2 \
         AND revoked_at IS NOT NULL ORDER BY revoked_at, jti",
    )
    .bind(scope.service_id())
    .bind(holder_did)
    .fetch_all(&mut **tx)
    .await?;
    Ok((credentials, revoked))
}
