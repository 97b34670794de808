//! Credential definitions (`credential_definitions` table) and the keys allowed to issue them
//! from outside (`credential_definition_issuers`).
//!
//! The wire id `<DID>:3:CL:<seq>:<tag>` is built from the service's DID and two columns; `seq` is
//! allocated per service when a definition is stored.

use psi_link::CredentialDefinitionId;
use sqlx::FromRow;

use super::schemas::{SCHEMA_COLUMNS, Schema, SchemaRow};
use super::webhooks::{self, NewWebhook, Webhook};
use super::{Backend, Cursor, Db, Order, Paging, Positioned, json_elements, new_id, now_ms};
use crate::domain::{Attestation, SourceIpPrefixes, Tag};
use crate::scope::ServiceScope;

/// A stored credential definition with its schema.
#[derive(Debug, Clone)]
pub struct CredentialDefinition {
    /// Internal id (interactions refer to it).
    pub id: String,
    /// Wire id, `<DID>:3:CL:<seq>:<tag>`.
    pub credential_id: CredentialDefinitionId,
    pub schema: Schema,
    pub attestation: Attestation,
    pub one_off: bool,
    /// Other services' interactions may require it.
    pub public: bool,
    /// The credential-check webhook (docs/protocol.md §4.2), for external verification.
    pub check_webhook: Option<Webhook>,
    /// Names of the keys that may issue it from outside (docs/protocol.md §4.3), sorted.
    pub issuers: Vec<String>,
    pub source_ip_prefixes: SourceIpPrefixes,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A definition to store.
#[derive(Debug, Clone)]
pub struct NewCredentialDefinition {
    /// Internal id of one of the scoped service's schemas.
    pub schema_id: String,
    pub tag: Tag,
    pub attestation: Attestation,
    pub settings: DefinitionSettings,
}

/// The parts of a definition that may change after creation.
#[derive(Debug, Clone)]
pub struct DefinitionSettings {
    pub one_off: bool,
    pub public: bool,
    pub check_webhook: Option<NewWebhook>,
    /// Key names of the scoped service; names that do not exist are skipped, so check first.
    pub issuers: Vec<String>,
    pub source_ip_prefixes: SourceIpPrefixes,
}

/// The wire id of the scoped service's definition `seq`, `tag`.
pub fn wire_id(scope: &ServiceScope, seq: i64, tag: &str) -> sqlx::Result<CredentialDefinitionId> {
    wire_id_of(scope.did().as_str(), seq, tag)
}

/// The wire id of definition `seq`, `tag` of the service whose DID is `did`.
pub fn wire_id_of(did: &str, seq: i64, tag: &str) -> sqlx::Result<CredentialDefinitionId> {
    format!("{did}:3:CL:{seq}:{tag}")
        .parse()
        .map_err(|e: psi_link::IdError| sqlx::Error::Decode(e.to_string().into()))
}

#[derive(FromRow)]
struct DefinitionRow {
    #[sqlx(rename = "def_id")]
    id: String,
    seq: i64,
    tag: String,
    attestation: String,
    one_off: i64,
    public: i64,
    check_url: Option<String>,
    check_key: Option<String>,
    check_auth: Option<String>,
    check_timeout_ms: Option<i64>,
    source_ip_prefixes: String,
    #[sqlx(rename = "def_created_at")]
    created_at: i64,
    #[sqlx(rename = "def_updated_at")]
    updated_at: i64,
    #[sqlx(flatten)]
    schema: SchemaRow,
    /// JSON array of the issuer keys' names, by name; `None` or `[]` when none.
    issuers: Option<String>,
}

const SELECT: &str = "SELECT c.id AS def_id, c.seq, c.tag, c.attestation, c.one_off, \
    c.public, c.check_url, k.name AS check_key, c.check_auth, c.check_timeout_ms, c.source_ip_prefixes, \
    c.created_at AS def_created_at, c.updated_at AS def_updated_at";

/// `SELECT ... FROM` with the schema joined, the check key and the issuer keys named;
/// `WHERE c.service_id = $1` plus `condition` (with the order).
fn select(backend: Backend, condition: &str) -> String {
    let (array, _) = backend.json_functions();
    format!(
        "{SELECT}, {SCHEMA_COLUMNS}, \
         CAST((SELECT {array}(ik.name ORDER BY ik.name) FROM credential_definition_issuers ci \
               JOIN keys ik ON ik.id = ci.key_id WHERE ci.credential_definition_id = c.id) \
              AS TEXT) AS issuers \
         FROM credential_definitions c \
         JOIN schemas s ON s.id = c.schema_id \
         LEFT JOIN keys k ON k.id = c.check_key_id \
         WHERE c.service_id = $1 {condition}"
    )
}

/// A row, with its issuers' names.
fn into_definition(scope: &ServiceScope, row: DefinitionRow) -> sqlx::Result<CredentialDefinition> {
    let issuers = json_elements(row.issuers.as_deref())?;
    let prefixes: Vec<String> =
        serde_json::from_str(&row.source_ip_prefixes).map_err(|e| sqlx::Error::Decode(e.into()))?;
    Ok(CredentialDefinition {
        credential_id: wire_id(scope, row.seq, &row.tag)?,
        schema: row.schema.into_schema()?,
        attestation: Attestation::from_db(&row.attestation)?,
        one_off: row.one_off != 0,
        public: row.public != 0,
        check_webhook: webhooks::from_columns(
            row.check_url,
            row.check_key,
            row.check_auth,
            row.check_timeout_ms,
        )?,
        issuers,
        source_ip_prefixes: SourceIpPrefixes::parse(&prefixes)
            .map_err(|e| sqlx::Error::Decode(e.into()))?,
        id: row.id,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The scoped service's definitions, by `seq`, as stored now: for the management API, which
/// reads what it wrote.
pub async fn list(db: &Db, scope: &ServiceScope) -> sqlx::Result<Vec<CredentialDefinition>> {
    let rows: Vec<DefinitionRow> = sqlx::query_as(&select(db.backend(), "ORDER BY c.seq"))
        .bind(scope.service_id())
        .fetch_all(db.pool())
        .await?;
    rows.into_iter()
        .map(|row| into_definition(scope, row))
        .collect()
}

impl Positioned for CredentialDefinition {
    /// By number (`seq`, which came from an `i64` column).
    fn position(&self) -> Cursor {
        Cursor {
            at: i64::try_from(self.credential_id.schema_seq_no()).unwrap_or(i64::MAX),
            id: self.id.clone(),
        }
    }
}

/// A page of the scoped service's definitions (of the schema with internal id `schema_id` only,
/// when given), by `seq`, as stored now.
pub async fn page(
    db: &Db,
    scope: &ServiceScope,
    schema_id: Option<&str>,
    paging: &Paging,
) -> sqlx::Result<Vec<CredentialDefinition>> {
    let page = Paging::filtered_sql("c.schema_id", "c.seq", "c.id", Order::Oldest);
    let sql = select(db.backend(), &page);
    let rows: Vec<DefinitionRow> = paging.read(db, &sql, scope, schema_id).await?;
    rows.into_iter()
        .map(|row| into_definition(scope, row))
        .collect()
}

/// [`list`] through the configuration cache: for events and the wallet's reads.
pub async fn list_cached(db: &Db, scope: &ServiceScope) -> sqlx::Result<Vec<CredentialDefinition>> {
    let key = scope.service_id().to_owned();
    let load = async { list(db, scope).await.map(Some) };
    let kept = db.cache().definitions.through(key, load).await?;
    Ok(kept.unwrap_or_default())
}

/// The scoped service's definition with this wire id (`None` when another DID issued it).
pub async fn get_by_wire_id(
    db: &Db,
    scope: &ServiceScope,
    credential_id: &CredentialDefinitionId,
) -> sqlx::Result<Option<CredentialDefinition>> {
    let Ok(seq) = i64::try_from(credential_id.schema_seq_no()) else {
        return Ok(None);
    };
    if credential_id.issuer() != scope.did().as_str() {
        return Ok(None);
    }
    let row: Option<DefinitionRow> =
        sqlx::query_as(&select(db.backend(), "AND c.seq = $2 AND c.tag = $3"))
            .bind(scope.service_id())
            .bind(seq)
            .bind(credential_id.tag())
            .fetch_optional(db.pool())
            .await?;
    row.map(|row| into_definition(scope, row)).transpose()
}

/// The scoped service's definition with this internal id.
pub async fn get(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
) -> sqlx::Result<Option<CredentialDefinition>> {
    let row: Option<DefinitionRow> = sqlx::query_as(&select(db.backend(), "AND c.id = $2"))
        .bind(scope.service_id())
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|row| into_definition(scope, row)).transpose()
}

/// Stores a definition with the next free `seq` of the service; returns its internal id. A
/// schema and tag already used is a unique violation.
pub async fn insert(
    db: &Db,
    scope: &ServiceScope,
    new: &NewCredentialDefinition,
) -> sqlx::Result<String> {
    // Two servers may pick the same `seq` at once: the loser retries with the next one.
    let mut attempts = 0;
    loop {
        let result = try_insert(db, scope, new).await;
        let seq_taken = matches!(&result, Err(sqlx::Error::Database(e)) if e.is_unique_violation());
        attempts += 1;
        if !seq_taken || attempts == 5 || tag_taken(db, scope, new).await? {
            if result.is_ok() {
                db.config_changed();
            }
            return result;
        }
    }
}

async fn tag_taken(
    db: &Db,
    scope: &ServiceScope,
    new: &NewCredentialDefinition,
) -> sqlx::Result<bool> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT id FROM credential_definitions \
         WHERE service_id = $1 AND schema_id = $2 AND tag = $3",
    )
    .bind(scope.service_id())
    .bind(&new.schema_id)
    .bind(new.tag.as_str())
    .fetch_optional(db.pool())
    .await?;
    Ok(found.is_some())
}

async fn try_insert(
    db: &Db,
    scope: &ServiceScope,
    new: &NewCredentialDefinition,
) -> sqlx::Result<String> {
    let id = new_id();
    let now = now_ms();
    let settings = &new.settings;
    let (url, key, auth, timeout) = webhooks::columns(settings.check_webhook.as_ref());
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO credential_definitions (id, service_id, schema_id, seq, tag, attestation, \
         one_off, check_url, check_key_id, check_auth, check_timeout_ms, source_ip_prefixes, \
         created_at, updated_at, public) \
         SELECT $1, $2, $3, COALESCE(MAX(seq), 0) + 1, $4, $5, $6, $7, \
         (SELECT id FROM keys WHERE service_id = $2 AND name = $8), $9, $10, $11, $12, $12, $13 \
         FROM credential_definitions WHERE service_id = $2",
    )
    .bind(&id)
    .bind(scope.service_id())
    .bind(&new.schema_id)
    .bind(new.tag.as_str())
    .bind(new.attestation.as_str())
    .bind(i64::from(settings.one_off))
    .bind(url)
    .bind(key)
    .bind(auth)
    .bind(timeout)
    .bind(prefixes_json(&settings.source_ip_prefixes))
    .bind(now)
    .bind(i64::from(settings.public))
    .execute(&mut *tx)
    .await?;
    insert_issuers(&mut tx, scope, &id, &settings.issuers).await?;
    tx.commit().await?;
    Ok(id)
}

fn prefixes_json(prefixes: &SourceIpPrefixes) -> String {
    serde_json::to_string(&prefixes.to_strings()).expect("strings serialise")
}

async fn insert_issuers(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    scope: &ServiceScope,
    definition_id: &str,
    key_names: &[String],
) -> sqlx::Result<()> {
    for name in key_names {
        sqlx::query(
            "INSERT INTO credential_definition_issuers (credential_definition_id, service_id, key_id) \
             SELECT $1, $2, id FROM keys WHERE service_id = $2 AND name = $3",
        )
        .bind(definition_id)
        .bind(scope.service_id())
        .bind(name)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Replaces the mutable parts of the scoped service's definition; false if there is none.
pub async fn update_settings(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
    settings: &DefinitionSettings,
) -> sqlx::Result<bool> {
    let (url, key, auth, timeout) = webhooks::columns(settings.check_webhook.as_ref());
    let mut tx = db.begin().await?;
    let result = sqlx::query(
        "UPDATE credential_definitions SET one_off = $3, check_url = $4, \
         check_key_id = (SELECT k.id FROM keys k WHERE k.service_id = $1 AND k.name = $5), \
         check_auth = $6, check_timeout_ms = $7, source_ip_prefixes = $8, updated_at = $9, \
         public = $10 WHERE service_id = $1 AND id = $2",
    )
    .bind(scope.service_id())
    .bind(id)
    .bind(i64::from(settings.one_off))
    .bind(url)
    .bind(key)
    .bind(auth)
    .bind(timeout)
    .bind(prefixes_json(&settings.source_ip_prefixes))
    .bind(now_ms())
    .bind(i64::from(settings.public))
    .execute(&mut *tx)
    .await?;
    if result.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM credential_definition_issuers WHERE service_id = $1 AND credential_definition_id = $2")
        .bind(scope.service_id())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    insert_issuers(&mut tx, scope, id, &settings.issuers).await?;
    tx.commit().await?;
    db.config_changed();
    Ok(true)
}

/// The interactions that require the scoped service's definition `id` (only those that ask its
/// check webhook, with `external_only`): the names of the service's own, and how many of other
/// services' (whose names are theirs to know).
pub async fn requiring_interactions(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
    external_only: bool,
) -> sqlx::Result<(Vec<String>, usize)> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.service_id, i.name FROM interaction_credentials ic \
         JOIN interactions i ON i.id = ic.interaction_id \
         JOIN credential_definitions c ON c.id = ic.credential_definition_id \
         WHERE c.service_id = $1 AND ic.credential_definition_id = $2 AND ic.role = 'required' \
         AND ($3 = 0 OR ic.external_verification = 1) ORDER BY i.name",
    )
    .bind(scope.service_id())
    .bind(id)
    .bind(i64::from(external_only))
    .fetch_all(db.pool())
    .await?;
    let (own, others): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|(service_id, _)| service_id == scope.service_id());
    Ok((
        own.into_iter().map(|(_, name)| name).collect(),
        others.len(),
    ))
}

/// Another service's public definition, as a list to choose from shows it.
#[derive(Debug, FromRow)]
pub struct PublicDefinition {
    pub service_did: String,
    pub service_name: String,
    pub seq: i64,
    pub tag: String,
    pub schema_name: String,
    pub schema_version: String,
    pub attestation: String,
}

impl PublicDefinition {
    /// Its wire id, `<DID>:3:CL:<seq>:<tag>`.
    pub fn credential_id(&self) -> sqlx::Result<CredentialDefinitionId> {
        wire_id_of(&self.service_did, self.seq, &self.tag)
    }
}

/// At most this many of other services' public definitions are listed to choose from.
pub const PUBLIC_ELSEWHERE_LIMIT: i64 = 500;

/// The public definitions of the services other than the scoped one, by service name and
/// number: those its interactions may require.
pub async fn public_elsewhere(
    db: &Db,
    scope: &ServiceScope,
) -> sqlx::Result<Vec<PublicDefinition>> {
    sqlx::query_as(
        "SELECT sv.did AS service_did, sv.name AS service_name, c.seq, c.tag, \
         s.name AS schema_name, s.version AS schema_version, c.attestation \
         FROM credential_definitions c \
         JOIN schemas s ON s.id = c.schema_id JOIN services sv ON sv.id = c.service_id \
         WHERE c.service_id <> $1 AND c.public = 1 \
         ORDER BY sv.name, sv.did, c.seq LIMIT $2",
    )
    .bind(scope.service_id())
    .bind(PUBLIC_ELSEWHERE_LIMIT)
    .fetch_all(db.pool())
    .await
}
