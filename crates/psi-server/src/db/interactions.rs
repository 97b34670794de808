//! Interactions (`interactions` table) with the credentials they require and issue
//! (`interaction_credentials`) and their instances (`instances`, see [`super::instances`]).
//!
//! Reads load whole interactions in one query (for one or for all of a service's): each row
//! carries its credentials and instances as JSON arrays, so a link, a start page or an event
//! costs one round trip for its interaction.

use std::collections::HashMap;

use psi_link::{CredentialDefinitionId, SchemaId};
use sqlx::{Any, FromRow, Transaction};

use super::instances::{self, Instance, InstanceRow};
use super::webhooks::{self, NewWebhook, Webhook};
use super::{Backend, json_elements};
use super::{Db, Order, Paging, now_ms};
use crate::domain::{Attestation, Attributes, Description, Medium, Name, Parameters};
use crate::ids::InteractionId;
use crate::scope::ServiceScope;

/// A stored interaction, complete.
#[derive(Debug, Clone)]
pub struct Interaction {
    /// Also the wire `actionId`.
    pub id: InteractionId,
    pub name: String,
    pub description: String,
    /// Paused interactions are not listed publicly and do not start.
    pub active: bool,
    pub media: Vec<Medium>,
    /// In the order the service gave.
    pub required: Vec<RequiredCredential>,
    /// Required by schema, after `required`, in the order the service gave.
    pub required_schemas: Vec<SchemaRequirement>,
    /// In the order the service gave.
    pub issued: Vec<IssuedCredential>,
    /// The interaction webhook (docs/protocol.md §4.1).
    pub webhook: Option<Webhook>,
    /// Where the start page sends the holder on completion.
    pub completion_url: Option<String>,
    /// How long an event waits for the service to issue later before it fails.
    pub waiting_deadline_secs: i64,
    /// The default instance first, then oldest first; never empty.
    pub instances: Vec<Instance>,
    /// How many enabled extensions are attached (`db::extensions::attachments` reads them).
    pub extensions: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Interaction {
    /// The instance links use when they name none.
    pub fn default_instance(&self) -> Option<&Instance> {
        self.instances.iter().find(|i| i.is_default)
    }
}

/// A credential the holder must share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredCredential {
    /// Internal id of the credential definition.
    pub definition_id: String,
    /// Wire id of the credential definition.
    pub credential_id: CredentialDefinitionId,
    /// A QR link may pre-fill it (the definition is self-attested).
    pub prefill_from_qr: bool,
    /// Also ask the definition's check webhook (it has one).
    pub external_verification: bool,
    /// Only the holder's latest credential of this definition counts.
    pub only_last: bool,
    /// Who attests the definition's credentials (only self-attested ones can be pre-filled).
    pub attestation: Attestation,
    /// The attributes of the definition's schema.
    pub attributes: Attributes,
    /// The installation of the extension that added it to the interaction; `None`: the
    /// interaction's own.
    pub added_by: Option<String>,
}

/// A credential required by schema: one of any public definition of the schema, issued by one of
/// the trusted services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRequirement {
    /// Internal id of the schema.
    pub schema: String,
    /// Wire id of the schema.
    pub schema_id: SchemaId,
    /// DIDs of the services whose credentials of it count.
    pub trusted_issuers: Vec<String>,
    /// Only the holder's latest credential of the definition presented counts.
    pub only_last: bool,
    /// The schema's attributes.
    pub attributes: Attributes,
    /// As [`RequiredCredential::added_by`].
    pub added_by: Option<String>,
}

/// A schema requirement to store; the schema may be any service's on this server.
#[derive(Debug, Clone)]
pub struct NewSchemaRequirement {
    pub schema: String,
    pub trusted_issuers: Vec<String>,
    pub only_last: bool,
}

impl From<SchemaRequirement> for NewSchemaRequirement {
    fn from(required: SchemaRequirement) -> Self {
        NewSchemaRequirement {
            schema: required.schema,
            trusted_issuers: required.trusted_issuers,
            only_last: required.only_last,
        }
    }
}

/// A credential the interaction issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCredential {
    /// Internal id of the credential definition.
    pub definition_id: String,
    /// Wire id of the credential definition.
    pub credential_id: CredentialDefinitionId,
}

#[derive(FromRow)]
struct InteractionRow {
    id: InteractionId,
    name: String,
    description: String,
    active: i64,
    media: String,
    webhook_url: Option<String>,
    webhook_key: Option<String>,
    webhook_auth: Option<String>,
    webhook_timeout_ms: Option<i64>,
    completion_url: Option<String>,
    waiting_deadline_secs: i64,
    created_at: i64,
    updated_at: i64,
    /// JSON array of [`CredentialRow`]s, in the service's order; `None` or `[]` when none.
    credentials: Option<String>,
    /// JSON array of [`InstanceRow`]s, the default first.
    instances: Option<String>,
    /// JSON array of [`SchemaRequirementRow`]s, in the service's order.
    schemas_required: Option<String>,
    /// How many enabled extensions are attached.
    extensions: i64,
}

#[derive(serde::Deserialize)]
struct SchemaRequirementRow {
    schema: String,
    did: String,
    name: String,
    version: String,
    attributes: String,
    /// JSON array of DIDs, as stored.
    trusted_issuers: String,
    only_last: i64,
    added_by: Option<String>,
}

impl TryFrom<SchemaRequirementRow> for SchemaRequirement {
    type Error = sqlx::Error;

    fn try_from(row: SchemaRequirementRow) -> sqlx::Result<Self> {
        let decode = |e: String| sqlx::Error::Decode(e.into());
        Ok(SchemaRequirement {
            schema_id: format!("{}:2:{}:{}", row.did, row.name, row.version)
                .parse()
                .map_err(|e: psi_link::IdError| decode(e.to_string()))?,
            trusted_issuers: serde_json::from_str(&row.trusted_issuers)
                .map_err(|e| decode(e.to_string()))?,
            only_last: row.only_last != 0,
            attributes: super::schemas::parse_attributes(&row.attributes)?,
            schema: row.schema,
            added_by: row.added_by,
        })
    }
}

#[derive(serde::Deserialize)]
struct CredentialRow {
    credential_definition_id: String,
    /// The DID of the definition's service: another service's, for a credential it requires
    /// from there.
    issuer_did: String,
    attestation: String,
    /// The schema's, as stored.
    attributes: String,
    seq: i64,
    tag: String,
    role: String,
    prefill_from_qr: i64,
    external_verification: i64,
    only_last: i64,
    added_by: Option<String>,
}

/// The interactions of the scoped service (`$1`) plus `condition` (with the order), each with its
/// credentials and instances aggregated as JSON text (the functions differ by dialect, the shape
/// does not).
fn interaction_query(backend: Backend, condition: &str) -> String {
    let (array, object) = backend.json_functions();
    // The interaction's own requirements (`attached_at` 0), then those its enabled extensions
    // added, in the order of attachment, but a definition or schema it requires on its own.
    const OWN_AND_ADDED: &str = "SELECT interaction_id, credential_definition_id, role, \
         prefill_from_qr, external_verification, only_last, position, \
         CAST(NULL AS TEXT) AS added_by, 0 AS attached_at FROM interaction_credentials \
         UNION ALL SELECT er.interaction_id, er.credential_definition_id, 'required', \
         er.prefill_from_qr, 0, \
         er.only_last, er.position, er.installation_id, ea.created_at \
         FROM extension_requirements er \
         JOIN extension_installations ei ON ei.id = er.installation_id AND ei.enabled = 1 \
         JOIN extension_attachments ea ON ea.installation_id = er.installation_id \
         AND ea.interaction_id = er.interaction_id \
         WHERE er.credential_definition_id IS NOT NULL AND NOT EXISTS (SELECT 1 \
         FROM interaction_credentials o WHERE o.interaction_id = er.interaction_id \
         AND o.role = 'required' AND o.credential_definition_id = er.credential_definition_id)";
    const OWN_AND_ADDED_SCHEMAS: &str = "SELECT interaction_id, schema_id, trusted_issuers, \
         only_last, position, CAST(NULL AS TEXT) AS added_by, 0 AS attached_at \
         FROM interaction_schemas \
         UNION ALL SELECT er.interaction_id, er.schema_id, er.trusted_issuers, er.only_last, \
         er.position, er.installation_id, ea.created_at FROM extension_requirements er \
         JOIN extension_installations ei ON ei.id = er.installation_id AND ei.enabled = 1 \
         JOIN extension_attachments ea ON ea.installation_id = er.installation_id \
         AND ea.interaction_id = er.interaction_id \
         WHERE er.schema_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM interaction_schemas o \
         WHERE o.interaction_id = er.interaction_id AND o.schema_id = er.schema_id)";
    format!(
        "SELECT i.id, i.name, i.description, i.active, i.media, i.webhook_url, \
         k.name AS webhook_key, i.webhook_auth, i.webhook_timeout_ms, i.completion_url, \
         i.waiting_deadline_secs, i.created_at, i.updated_at, \
         (SELECT COUNT(*) FROM extension_attachments x JOIN extension_installations xi \
          ON xi.id = x.installation_id WHERE x.interaction_id = i.id AND xi.enabled = 1) \
          AS extensions, \
         CAST((SELECT {array}({object}('credential_definition_id', ic.credential_definition_id, \
                 'issuer_did', sv.did, 'seq', c.seq, 'tag', c.tag, 'role', ic.role, \
                 'prefill_from_qr', ic.prefill_from_qr, \
                 'external_verification', ic.external_verification, 'only_last', ic.only_last, \
                 'attestation', c.attestation, 'attributes', s.attributes, \
                 'added_by', ic.added_by) \
               ORDER BY ic.role, ic.attached_at, ic.added_by, ic.position) \
               FROM ({OWN_AND_ADDED}) ic \
               JOIN credential_definitions c ON c.id = ic.credential_definition_id \
               JOIN services sv ON sv.id = c.service_id \
               JOIN schemas s ON s.id = c.schema_id \
               WHERE ic.interaction_id = i.id) AS TEXT) AS credentials, \
         CAST((SELECT {array}({object}('id', n.id, 'interaction_id', n.interaction_id, \
                 'parameters', n.parameters, 'is_default', n.is_default, \
                 'created_at', n.created_at, 'updated_at', n.updated_at) \
               ORDER BY n.is_default DESC, n.created_at, n.id) \
               FROM instances n WHERE n.interaction_id = i.id) AS TEXT) AS instances, \
         CAST((SELECT {array}({object}('schema', r.schema_id, 'did', sd.did, 'name', rs.name, \
                 'version', rs.version, 'attributes', rs.attributes, \
                 'trusted_issuers', r.trusted_issuers, 'only_last', r.only_last, \
                 'added_by', r.added_by) \
               ORDER BY r.attached_at, r.added_by, r.position) \
               FROM ({OWN_AND_ADDED_SCHEMAS}) r JOIN schemas rs ON rs.id = r.schema_id \
               JOIN services sd ON sd.id = rs.service_id \
               WHERE r.interaction_id = i.id) AS TEXT) AS schemas_required \
         FROM interactions i LEFT JOIN keys k ON k.id = i.webhook_key_id \
         WHERE i.service_id = $1 {condition}"
    )
}

/// Loads interactions (all of the service's, or the one `id`) with their parts, in one query.
async fn load(
    db: &Db,
    scope: &ServiceScope,
    id: Option<&InteractionId>,
) -> sqlx::Result<Vec<Interaction>> {
    let condition = if id.is_some() {
        "AND i.id = $2"
    } else {
        "ORDER BY i.created_at, i.id"
    };
    let sql = interaction_query(db.backend(), condition);
    let mut rows = sqlx::query_as::<_, InteractionRow>(&sql).bind(scope.service_id());
    if let Some(id) = id {
        rows = rows.bind(id);
    }
    rows.fetch_all(db.pool())
        .await?
        .into_iter()
        .map(into_interaction)
        .collect()
}

/// A row with its credentials and instances.
fn into_interaction(row: InteractionRow) -> sqlx::Result<Interaction> {
    let mut required = Vec::new();
    let mut issued = Vec::new();
    for credential in json_elements::<CredentialRow>(row.credentials.as_deref())? {
        let credential_id = super::credential_definitions::wire_id_of(
            &credential.issuer_did,
            credential.seq,
            &credential.tag,
        )?;
        match credential.role.as_str() {
            // Two extensions may add the same definition: it is required once.
            "required"
                if required.iter().any(|r: &RequiredCredential| {
                    r.definition_id == credential.credential_definition_id
                }) => {}
            "required" => required.push(RequiredCredential {
                definition_id: credential.credential_definition_id,
                credential_id,
                prefill_from_qr: credential.prefill_from_qr != 0,
                external_verification: credential.external_verification != 0,
                only_last: credential.only_last != 0,
                attestation: Attestation::from_db(&credential.attestation)?,
                attributes: super::schemas::parse_attributes(&credential.attributes)?,
                added_by: credential.added_by,
            }),
            "issued" => issued.push(IssuedCredential {
                definition_id: credential.credential_definition_id,
                credential_id,
            }),
            other => {
                return Err(sqlx::Error::Decode(
                    format!("unknown credential role {other:?}").into(),
                ));
            }
        }
    }
    let mut required_schemas: Vec<SchemaRequirement> = Vec::new();
    for row in json_elements::<SchemaRequirementRow>(row.schemas_required.as_deref())? {
        // Two extensions may add the same schema: it is required once, as the first added it.
        if !required_schemas.iter().any(|r| r.schema == row.schema) {
            required_schemas.push(row.try_into()?);
        }
    }
    let instances = json_elements::<InstanceRow>(row.instances.as_deref())?
        .into_iter()
        .map(Instance::try_from)
        .collect::<sqlx::Result<_>>()?;
    Ok(Interaction {
        media: serde_json::from_str(&row.media).map_err(|e| sqlx::Error::Decode(e.into()))?,
        webhook: webhooks::from_columns(
            row.webhook_url,
            row.webhook_key,
            row.webhook_auth,
            row.webhook_timeout_ms,
        )?,
        required,
        required_schemas,
        issued,
        instances,
        active: row.active != 0,
        id: row.id,
        name: row.name,
        description: row.description,
        completion_url: row.completion_url,
        waiting_deadline_secs: row.waiting_deadline_secs,
        extensions: row.extensions,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The scoped service's interactions, oldest first, paused ones included.
pub async fn list(db: &Db, scope: &ServiceScope) -> sqlx::Result<Vec<Interaction>> {
    load(db, scope, None).await
}

/// The scoped service's interactions offered as a QR code (`media` has `QR`), oldest first, as
/// `(id, name, active)`: for pickers, without the parts [`list`] aggregates.
pub async fn with_qr(db: &Db, scope: &ServiceScope) -> sqlx::Result<Vec<(String, String, bool)>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT id, name, active FROM interactions WHERE service_id = $1 \
         AND media LIKE '%\"QR\"%' ORDER BY created_at, id",
    )
    .bind(scope.service_id())
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, active)| (id, name, active != 0))
        .collect())
}

super::positioned!(Interaction, created_at, id);

/// A page of the scoped service's interactions (only the active or the paused ones when
/// `active` says), oldest first.
pub async fn page(
    db: &Db,
    scope: &ServiceScope,
    active: Option<bool>,
    paging: &Paging,
) -> sqlx::Result<Vec<Interaction>> {
    let page = Paging::filtered_sql("i.active", "i.created_at", "i.id", Order::Oldest);
    let sql = interaction_query(db.backend(), &page);
    let rows: Vec<InteractionRow> = paging.read(db, &sql, scope, active.map(i64::from)).await?;
    rows.into_iter().map(into_interaction).collect()
}

/// The names of the scoped service's interactions `ids`, in one query.
pub async fn names_of(
    db: &Db,
    scope: &ServiceScope,
    ids: &[&str],
) -> sqlx::Result<HashMap<String, String>> {
    let mut ids: Vec<&str> = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders: Vec<String> = (2..ids.len() + 2).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT id, name FROM interactions WHERE service_id = $1 AND id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql).bind(scope.service_id());
    for id in ids {
        query = query.bind(id);
    }
    Ok(query.fetch_all(db.pool()).await?.into_iter().collect())
}

/// Every interaction of the scoped service as `(id, name)`, paused ones included, by name: for
/// the Overview, which orders them by what happened to them.
pub async fn names(db: &Db, scope: &ServiceScope) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as("SELECT id, name FROM interactions WHERE service_id = $1 ORDER BY name, id")
        .bind(scope.service_id())
        .fetch_all(db.pool())
        .await
}

/// The name of the scoped service's interaction `id`, in the caller's transaction.
pub async fn name_of(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT name FROM interactions WHERE service_id = $1 AND id = $2")
        .bind(scope.service_id())
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Whether the scoped service has the interaction with this id.
pub async fn exists(db: &Db, scope: &ServiceScope, id: &InteractionId) -> sqlx::Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM interactions WHERE service_id = $1 AND id = $2")
            .bind(scope.service_id())
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    Ok(found.is_some())
}

/// The scoped service's interaction with this id (`actionId`), as stored now: for the
/// management API, which reads what it wrote.
pub async fn get(
    db: &Db,
    scope: &ServiceScope,
    id: &InteractionId,
) -> sqlx::Result<Option<Interaction>> {
    Ok(load(db, scope, Some(id)).await?.pop())
}

/// [`get`] through the configuration cache: for events, links and pages.
pub async fn get_cached(
    db: &Db,
    scope: &ServiceScope,
    id: &InteractionId,
) -> sqlx::Result<Option<Interaction>> {
    let key = (scope.service_id().to_owned(), id.as_str().to_owned());
    db.cache()
        .interactions
        .through(key, get(db, scope, id))
        .await
}

/// An interaction to store, or the new content of one.
#[derive(Debug, Clone)]
pub struct NewInteraction {
    pub name: Name,
    pub description: Description,
    pub active: bool,
    pub media: Vec<Medium>,
    pub required: Vec<NewRequiredCredential>,
    pub required_schemas: Vec<NewSchemaRequirement>,
    /// Internal ids of credential definitions of the scoped service.
    pub issued: Vec<String>,
    pub webhook: Option<NewWebhook>,
    /// Checked: an absolute http(s) URL.
    pub completion_url: Option<String>,
    /// Checked: within the API's bounds.
    pub waiting_deadline_secs: i64,
}

/// A required credential to store; the definition is one of the scoped service's.
#[derive(Debug, Clone)]
pub struct NewRequiredCredential {
    pub definition_id: String,
    pub prefill_from_qr: bool,
    pub external_verification: bool,
    pub only_last: bool,
}

/// Stores an interaction and its default instance with `parameters`; returns the interaction's
/// id. A name already taken is a unique violation.
pub async fn insert(
    db: &Db,
    scope: &ServiceScope,
    new: &NewInteraction,
    parameters: &Parameters,
) -> sqlx::Result<InteractionId> {
    let id = InteractionId::generate();
    let now = now_ms();
    let (url, key, auth, timeout) = webhooks::columns(new.webhook.as_ref());
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO interactions (id, service_id, name, description, active, media, \
         webhook_url, webhook_key_id, webhook_auth, webhook_timeout_ms, completion_url, \
         waiting_deadline_secs, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, \
         (SELECT id FROM keys WHERE service_id = $2 AND name = $8), $9, $10, $12, $13, $11, $11)",
    )
    .bind(&id)
    .bind(scope.service_id())
    .bind(new.name.as_str())
    .bind(new.description.as_str())
    .bind(i64::from(new.active))
    .bind(media_json(&new.media))
    .bind(url)
    .bind(key)
    .bind(auth)
    .bind(timeout)
    .bind(now)
    .bind(new.completion_url.as_deref())
    .bind(new.waiting_deadline_secs)
    .execute(&mut *tx)
    .await?;
    insert_credentials(&mut tx, scope, &id, new).await?;
    instances::insert_row(&mut tx, scope, &id, parameters, true, now).await?;
    tx.commit().await?;
    db.config_changed();
    Ok(id)
}

/// Replaces the content of the scoped service's interaction (not its instances); false if there
/// is none. A name already taken is a unique violation.
pub async fn update(
    db: &Db,
    scope: &ServiceScope,
    id: &InteractionId,
    new: &NewInteraction,
) -> sqlx::Result<bool> {
    let (url, key, auth, timeout) = webhooks::columns(new.webhook.as_ref());
    let mut tx = db.begin().await?;
    let result = sqlx::query(
        "UPDATE interactions SET name = $3, description = $4, active = $5, media = $6, \
         webhook_url = $7, \
         webhook_key_id = (SELECT k.id FROM keys k WHERE k.service_id = $1 AND k.name = $8), \
         webhook_auth = $9, webhook_timeout_ms = $10, updated_at = $11, completion_url = $12, \
         waiting_deadline_secs = $13 WHERE service_id = $1 AND id = $2",
    )
    .bind(scope.service_id())
    .bind(id)
    .bind(new.name.as_str())
    .bind(new.description.as_str())
    .bind(i64::from(new.active))
    .bind(media_json(&new.media))
    .bind(url)
    .bind(key)
    .bind(auth)
    .bind(timeout)
    .bind(now_ms())
    .bind(new.completion_url.as_deref())
    .bind(new.waiting_deadline_secs)
    .execute(&mut *tx)
    .await?;
    if result.rows_affected() == 0 {
        return Ok(false);
    }
    for table in ["interaction_credentials", "interaction_schemas"] {
        let sql = format!("DELETE FROM {table} WHERE service_id = $1 AND interaction_id = $2");
        sqlx::query(&sql)
            .bind(scope.service_id())
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    insert_credentials(&mut tx, scope, id, new).await?;
    tx.commit().await?;
    db.config_changed();
    Ok(true)
}

fn media_json(media: &[Medium]) -> String {
    serde_json::to_string(media).expect("media serialise")
}

async fn insert_credentials(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
    new: &NewInteraction,
) -> sqlx::Result<()> {
    let required = new.required.iter().map(|r| {
        let flags = [r.prefill_from_qr, r.external_verification, r.only_last];
        ("required", r.definition_id.as_str(), flags)
    });
    let issued = new
        .issued
        .iter()
        .map(|definition| ("issued", definition.as_str(), [false; 3]));
    for (position, (role, definition_id, flags)) in required.chain(issued).enumerate() {
        sqlx::query(
            "INSERT INTO interaction_credentials (interaction_id, service_id, \
             credential_definition_id, role, prefill_from_qr, external_verification, only_last, \
             position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(interaction_id)
        .bind(scope.service_id())
        .bind(definition_id)
        .bind(role)
        .bind(i64::from(flags[0]))
        .bind(i64::from(flags[1]))
        .bind(i64::from(flags[2]))
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .execute(&mut **tx)
        .await?;
    }
    for (position, required) in new.required_schemas.iter().enumerate() {
        sqlx::query(
            "INSERT INTO interaction_schemas (interaction_id, service_id, position, schema_id, \
             trusted_issuers, only_last) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(interaction_id)
        .bind(scope.service_id())
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(&required.schema)
        .bind(serde_json::to_string(&required.trusted_issuers).expect("strings serialise"))
        .bind(i64::from(required.only_last))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
