//! Extensions (docs/extensions.md): `extensions` and their immutable `extension_versions`,
//! authored by a service; `extension_installations` in a service, each with the outbox endpoints
//! of its durable triggers (`delivery_endpoints.installation_id`); `extension_attachments` to the
//! service's interactions with the credentials they added (`extension_requirements`, merged into
//! the interaction's by `db::interactions`).
//!
//! Sealed secrets are stored as given; `api::extensions` seals and opens them.

use serde_json::{Map, Value};
use sqlx::{Any, AnyConnection, FromRow, Transaction};

use super::delivery_endpoints::DisabledReason;
use super::{Db, Order, Paging, new_id, now_ms};
use crate::domain::AuthScheme;
pub use crate::domain::extension::TriggerEndpoint;
use crate::domain::extension::{Builtin, Manifest, TriggerName};
use crate::ids::EndpointId;
use crate::scope::ServiceScope;

/// Who may see an extension.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// The author only.
    Private,
    /// Every service, through the catalogue.
    Public,
}

impl Visibility {
    fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
        }
    }

    fn from_db(text: &str) -> sqlx::Result<Self> {
        match text {
            "private" => Ok(Visibility::Private),
            "public" => Ok(Visibility::Public),
            other => Err(decode(format!("unknown visibility {other:?}"))),
        }
    }
}

fn decode(message: String) -> sqlx::Error {
    sqlx::Error::Decode(message.into())
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> sqlx::Result<T> {
    serde_json::from_str(text).map_err(|e| decode(e.to_string()))
}

/// A stored extension.
#[derive(Debug, Clone)]
pub struct Extension {
    pub id: String,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    /// The author's key that signs the triggers' calls (`None`: built in, the installing
    /// service's default key signs).
    pub key_name: Option<String>,
    pub auth: AuthScheme,
    /// The author's key (an RSA public key or SHA secret) that authenticates the third party's
    /// calls on the extension's behalf.
    pub inbound_key_name: Option<String>,
    /// `None`: built in.
    pub author_did: Option<String>,
    pub builtin: Option<Builtin>,
    /// The latest version and its manifest, if one is published.
    pub latest: Option<(String, Manifest)>,
    pub created_at: i64,
    pub updated_at: i64,
}

super::positioned!(Extension, created_at, id);

#[derive(FromRow)]
struct ExtensionRow {
    id: String,
    name: String,
    description: String,
    visibility: String,
    key_name: Option<String>,
    auth: String,
    inbound_key_name: Option<String>,
    author_did: Option<String>,
    builtin: Option<String>,
    latest_version: Option<String>,
    latest_manifest: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ExtensionRow> for Extension {
    type Error = sqlx::Error;

    fn try_from(row: ExtensionRow) -> sqlx::Result<Self> {
        let latest = match (row.latest_version, row.latest_manifest) {
            (Some(version), Some(manifest)) => Some((version, json(&manifest)?)),
            _ => None,
        };
        Ok(Extension {
            visibility: Visibility::from_db(&row.visibility)?,
            auth: AuthScheme::from_db(&row.auth)?,
            builtin: row.builtin.as_deref().map(Builtin::from_db).transpose()?,
            inbound_key_name: row.inbound_key_name,
            latest,
            id: row.id,
            name: row.name,
            description: row.description,
            key_name: row.key_name,
            author_did: row.author_did,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The latest version of extension `e`, by its sort key.
const LATEST: &str = "FROM extension_versions v WHERE v.extension_id = e.id \
                      ORDER BY v.sort_key DESC LIMIT 1";

fn select_extensions(condition: &str) -> String {
    format!(
        "SELECT e.id, e.name, e.description, e.visibility, k.name AS key_name, e.auth, \
         ik.name AS inbound_key_name, s.did AS author_did, e.builtin, \
         (SELECT v.version {LATEST}) AS latest_version, \
         (SELECT v.manifest {LATEST}) AS latest_manifest, e.created_at, e.updated_at \
         FROM extensions e LEFT JOIN keys k ON k.id = e.key_id \
         LEFT JOIN keys ik ON ik.id = e.inbound_key_id \
         LEFT JOIN services s ON s.id = e.service_id WHERE {condition}"
    )
}

/// An extension's editable fields; the key is the author's, by name (checked by the caller).
#[derive(Debug, Clone)]
pub struct ExtensionFields {
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    pub key_name: String,
    pub auth: AuthScheme,
    pub inbound_key_name: Option<String>,
}

/// Authors an extension; a name the author already uses is a unique violation.
pub async fn insert(
    db: &Db,
    scope: &ServiceScope,
    fields: &ExtensionFields,
) -> sqlx::Result<String> {
    let mut tx = db.begin().await?;
    let id = insert_in(&mut tx, scope, fields).await?;
    tx.commit().await?;
    Ok(id)
}

/// [`insert`] in the caller's transaction.
pub async fn insert_in(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    fields: &ExtensionFields,
) -> sqlx::Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO extensions (id, service_id, name, description, visibility, key_id, auth, \
         inbound_key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, \
         (SELECT id FROM keys WHERE service_id = $2 AND name = $6), $7, \
         (SELECT id FROM keys WHERE service_id = $2 AND name = $9), $8, $8)",
    )
    .bind(&id)
    .bind(scope.service_id())
    .bind(&fields.name)
    .bind(&fields.description)
    .bind(fields.visibility.as_str())
    .bind(&fields.key_name)
    .bind(fields.auth.as_str())
    .bind(now_ms())
    .bind(fields.inbound_key_name.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Replaces the fields of the scoped service's extension; false if it has none such.
pub async fn update(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
    fields: &ExtensionFields,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE extensions SET name = $3, description = $4, visibility = $5, \
         key_id = (SELECT id FROM keys WHERE service_id = $1 AND name = $6), auth = $7, \
         updated_at = $8, \
         inbound_key_id = (SELECT id FROM keys WHERE service_id = $1 AND name = $9) \
         WHERE service_id = $1 AND id = $2",
    )
    .bind(scope.service_id())
    .bind(id)
    .bind(&fields.name)
    .bind(&fields.description)
    .bind(fields.visibility.as_str())
    .bind(&fields.key_name)
    .bind(fields.auth.as_str())
    .bind(now_ms())
    .bind(fields.inbound_key_name.as_deref())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    // The triggers' outbox endpoints sign with the extension's key.
    sqlx::query(
        "UPDATE delivery_endpoints SET key_id = (SELECT key_id FROM extensions WHERE id = $1), \
         auth = (SELECT auth FROM extensions WHERE id = $1) WHERE installation_id IN \
         (SELECT id FROM extension_installations WHERE extension_id = $1)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    db.config_changed();
    Ok(done)
}

/// What deleting an extension did.
#[derive(Debug, PartialEq, Eq)]
pub enum Deleted {
    Done,
    NotFound,
    /// Installed in this many services.
    Installed(i64),
}

/// Deletes the scoped service's extension unless it is installed somewhere.
pub async fn delete(db: &Db, scope: &ServiceScope, id: &str) -> sqlx::Result<Deleted> {
    let mut tx = db.begin().await?;
    let installed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM extension_installations i JOIN extensions e \
         ON e.id = i.extension_id WHERE e.service_id = $1 AND e.id = $2",
    )
    .bind(scope.service_id())
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if installed > 0 {
        return Ok(Deleted::Installed(installed));
    }
    let done = sqlx::query("DELETE FROM extensions WHERE service_id = $1 AND id = $2")
        .bind(scope.service_id())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    tx.commit().await?;
    Ok(if done {
        Deleted::Done
    } else {
        Deleted::NotFound
    })
}

/// The scoped service's own extension.
pub async fn get(db: &Db, scope: &ServiceScope, id: &str) -> sqlx::Result<Option<Extension>> {
    one(db, scope, id, "e.service_id = $1 AND e.id = $2").await
}

/// The extension `id` (`$2`) if `condition` holds for the scoped service (`$1`).
async fn one(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
    condition: &str,
) -> sqlx::Result<Option<Extension>> {
    let sql = select_extensions(condition);
    let row: Option<ExtensionRow> = sqlx::query_as(&sql)
        .bind(scope.service_id())
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(Extension::try_from).transpose()
}

/// The id of the scoped service's own extension named `name`.
pub async fn id_by_name(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    name: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT id FROM extensions WHERE service_id = $1 AND name = $2")
        .bind(scope.service_id())
        .bind(name)
        .fetch_optional(conn)
        .await
}

/// An extension the scoped service may install: its own, or a public one.
pub async fn get_installable(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
) -> sqlx::Result<Option<Extension>> {
    let condition = "(e.service_id = $1 OR e.visibility = 'public') AND e.id = $2";
    one(db, scope, id, condition).await
}

/// A page of the scoped service's own extensions, oldest first.
pub async fn page(db: &Db, scope: &ServiceScope, paging: &Paging) -> sqlx::Result<Vec<Extension>> {
    let page = Paging::filtered_sql("e.visibility", "e.created_at", "e.id", Order::Oldest);
    let sql = select_extensions(&format!("e.service_id = $1{page}"));
    let rows: Vec<ExtensionRow> = paging.read(db, &sql, scope, None::<String>).await?;
    rows.into_iter().map(Extension::try_from).collect()
}

/// A page of the public catalogue: public extensions with a published version, oldest first.
pub async fn catalogue(db: &Db, paging: &Paging) -> sqlx::Result<Vec<Extension>> {
    let page = Paging::sql("e.created_at", "e.id", 1, Order::Oldest);
    let sql = select_extensions(&format!(
        "e.visibility = 'public' AND EXISTS (SELECT 1 FROM extension_versions v \
         WHERE v.extension_id = e.id){page}"
    ));
    let rows: Vec<ExtensionRow> = paging
        .bind(sqlx::query_as(&sql))
        .fetch_all(db.pool())
        .await?;
    rows.into_iter().map(Extension::try_from).collect()
}

/// One extension of the public catalogue.
pub async fn catalogue_get(db: &Db, id: &str) -> sqlx::Result<Option<Extension>> {
    let sql = select_extensions("e.visibility = 'public' AND e.id = $1");
    let row: Option<ExtensionRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(Extension::try_from).transpose()
}

/// An extension's versions, oldest first.
pub async fn versions(db: &Db, extension_id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT version FROM extension_versions WHERE extension_id = $1 ORDER BY sort_key",
    )
    .bind(extension_id)
    .fetch_all(db.pool())
    .await
}

/// A published version.
#[derive(Debug, Clone)]
pub struct Version {
    pub version: String,
    pub manifest: Manifest,
    pub created_at: i64,
}

/// Version `version` of an extension (the caller checked it may see the extension).
pub async fn version(db: &Db, extension_id: &str, version: &str) -> sqlx::Result<Option<Version>> {
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT version, manifest, created_at FROM extension_versions \
         WHERE extension_id = $1 AND version = $2",
    )
    .bind(extension_id)
    .bind(version)
    .fetch_optional(db.pool())
    .await?;
    row.map(|(version, manifest, created_at)| {
        Ok(Version {
            version,
            manifest: json(&manifest)?,
            created_at,
        })
    })
    .transpose()
}

/// What publishing a version did.
#[derive(Debug)]
pub enum Published {
    Done(i64),
    /// The latest version is this one or above it.
    NotAbove(String),
}

/// Publishes a version of an extension (the caller checked it is the scoped service's own);
/// refused unless above every published one. In the caller's transaction, which the caller rolls
/// back on [`Published::NotAbove`].
pub async fn publish(
    tx: &mut Transaction<'_, Any>,
    extension_id: &str,
    version: &str,
    sort_key: &str,
    manifest: &Manifest,
) -> sqlx::Result<Published> {
    let now = now_ms();
    // Taking the extension's row first makes concurrent publishes queue (PostgreSQL's READ
    // COMMITTED would let two read the same latest version).
    sqlx::query("UPDATE extensions SET updated_at = $2 WHERE id = $1")
        .bind(extension_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let latest: Option<(String, String)> = sqlx::query_as(
        "SELECT version, sort_key FROM extension_versions WHERE extension_id = $1 \
         ORDER BY sort_key DESC LIMIT 1",
    )
    .bind(extension_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((latest, key)) = latest
        && key.as_str() >= sort_key
    {
        return Ok(Published::NotAbove(latest));
    }
    sqlx::query(
        "INSERT INTO extension_versions (extension_id, version, sort_key, manifest, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(extension_id)
    .bind(version)
    .bind(sort_key)
    .bind(serde_json::to_string(manifest).expect("a manifest serialises"))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Published::Done(now))
}

/// An installation, with what it runs.
#[derive(Debug, Clone)]
pub struct Installation {
    pub id: String,
    pub extension_id: String,
    pub extension_name: String,
    pub version: String,
    pub manifest: Manifest,
    /// Service-level settings but secrets.
    pub settings: Map<String, Value>,
    pub secrets_sealed: Option<Vec<u8>>,
    pub enabled: bool,
    /// Whose key signs the triggers' calls: the author's, or for a built-in extension the
    /// installing service's; the key's name and the scheme.
    pub signer: ServiceScope,
    pub key_name: String,
    pub builtin: Option<Builtin>,
    pub auth: AuthScheme,
    /// The outbox endpoints of its durable triggers.
    pub on_issue_endpoint: Option<EndpointId>,
    pub on_finish_endpoint: Option<EndpointId>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Installation {
    /// The outbox endpoint of its durable `trigger`, if the version has that trigger.
    pub fn endpoint(&self, trigger: TriggerName) -> Option<&EndpointId> {
        match trigger {
            TriggerName::OnIssue => self.on_issue_endpoint.as_ref(),
            TriggerName::OnFinish => self.on_finish_endpoint.as_ref(),
            TriggerName::OnReceive => None,
        }
    }
}

super::positioned!(Installation, created_at, id);

#[derive(FromRow)]
struct InstallationRow {
    id: String,
    extension_id: String,
    extension_name: String,
    version: String,
    manifest: String,
    settings: String,
    secrets_sealed: Option<Vec<u8>>,
    enabled: i64,
    signer_id: String,
    signer_did: String,
    key_name: String,
    auth: String,
    builtin: Option<String>,
    created_at: i64,
    updated_at: i64,
    on_issue_endpoint: Option<EndpointId>,
    on_finish_endpoint: Option<EndpointId>,
}

impl TryFrom<InstallationRow> for Installation {
    type Error = sqlx::Error;

    fn try_from(row: InstallationRow) -> sqlx::Result<Self> {
        let did = row
            .signer_did
            .parse()
            .map_err(|e: psi_link::IdError| decode(e.to_string()))?;
        Ok(Installation {
            manifest: json(&row.manifest)?,
            settings: json(&row.settings)?,
            enabled: row.enabled != 0,
            signer: ServiceScope::new(row.signer_id, did),
            builtin: row.builtin.as_deref().map(Builtin::from_db).transpose()?,
            auth: AuthScheme::from_db(&row.auth)?,
            id: row.id,
            extension_id: row.extension_id,
            extension_name: row.extension_name,
            version: row.version,
            secrets_sealed: row.secrets_sealed,
            key_name: row.key_name,
            on_issue_endpoint: row.on_issue_endpoint,
            on_finish_endpoint: row.on_finish_endpoint,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const INSTALLATION_COLUMNS: &str = "i.id, i.extension_id, e.name AS extension_name, i.version, \
     v.manifest, i.settings, i.secrets_sealed, i.enabled, \
     COALESCE(e.service_id, i.service_id) AS signer_id, s.did AS signer_did, \
     COALESCE(k.name, 'default') AS key_name, e.auth, e.builtin, i.created_at, i.updated_at, \
     (SELECT d.id FROM delivery_endpoints d WHERE d.installation_id = i.id \
      AND d.trigger_name = 'on_issue') AS on_issue_endpoint, \
     (SELECT d.id FROM delivery_endpoints d WHERE d.installation_id = i.id \
      AND d.trigger_name = 'on_finish') AS on_finish_endpoint";

const INSTALLATION_JOINS: &str = "JOIN extensions e ON e.id = i.extension_id \
     JOIN extension_versions v ON v.extension_id = i.extension_id AND v.version = i.version \
     JOIN services s ON s.id = COALESCE(e.service_id, i.service_id) \
     LEFT JOIN keys k ON k.id = e.key_id";

fn select_installations(condition: &str) -> String {
    format!(
        "SELECT {INSTALLATION_COLUMNS} FROM extension_installations i {INSTALLATION_JOINS} \
         WHERE i.service_id = $1 {condition}"
    )
}

/// The scoped service's installation.
pub async fn installation(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
) -> sqlx::Result<Option<Installation>> {
    let sql = select_installations("AND i.id = $2");
    let row: Option<InstallationRow> = sqlx::query_as(&sql)
        .bind(scope.service_id())
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(Installation::try_from).transpose()
}

/// A page of the scoped service's installations, oldest first.
pub async fn installations(
    db: &Db,
    scope: &ServiceScope,
    paging: &Paging,
) -> sqlx::Result<Vec<Installation>> {
    let page = Paging::filtered_sql("i.extension_id", "i.created_at", "i.id", Order::Oldest);
    let sql = select_installations(&page);
    let rows: Vec<InstallationRow> = paging.read(db, &sql, scope, None::<String>).await?;
    rows.into_iter().map(Installation::try_from).collect()
}

/// A durable trigger's outbox endpoint as it stands: psi disables one that keeps failing
/// (`delivery::claims`), and enabling the installation resumes it ([`sync_endpoints`]).
#[derive(Debug, Clone)]
pub struct TriggerHealth {
    pub installation_id: String,
    pub trigger: TriggerName,
    pub url: String,
    pub enabled: bool,
    pub disabled_reason: Option<DisabledReason>,
    pub disabled_at: Option<i64>,
    pub failing_since: Option<i64>,
}

#[derive(FromRow)]
struct TriggerHealthRow {
    installation_id: String,
    trigger_name: String,
    url: String,
    enabled: i64,
    disabled_reason: Option<String>,
    disabled_at: Option<i64>,
    failing_since: Option<i64>,
}

/// A stored name of one of the snake_case enums this table shares with others.
fn named<T: serde::de::DeserializeOwned>(text: String) -> sqlx::Result<T> {
    serde_json::from_value(Value::String(text)).map_err(|e| decode(e.to_string()))
}

impl TryFrom<TriggerHealthRow> for TriggerHealth {
    type Error = sqlx::Error;

    fn try_from(row: TriggerHealthRow) -> sqlx::Result<Self> {
        Ok(TriggerHealth {
            trigger: named(row.trigger_name)?,
            disabled_reason: row.disabled_reason.map(named).transpose()?,
            enabled: row.enabled != 0,
            installation_id: row.installation_id,
            url: row.url,
            disabled_at: row.disabled_at,
            failing_since: row.failing_since,
        })
    }
}

/// The triggers' endpoints of the scoped service's `installations` (a page's, at most), by
/// installation, in the order the triggers fire.
pub async fn trigger_health(
    db: &Db,
    scope: &ServiceScope,
    installations: &[&str],
) -> sqlx::Result<Vec<TriggerHealth>> {
    if installations.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT installation_id, trigger_name, url, enabled, disabled_reason, disabled_at, \
         failing_since FROM delivery_endpoints WHERE service_id = $1 AND installation_id IN ({}) \
         ORDER BY installation_id, CASE trigger_name WHEN 'on_issue' THEN 0 ELSE 1 END",
        super::placeholders(2, installations.len())
    );
    let mut query = sqlx::query_as(&sql).bind(scope.service_id());
    for id in installations {
        query = query.bind(*id);
    }
    let rows: Vec<TriggerHealthRow> = query.fetch_all(db.pool()).await?;
    rows.into_iter().map(TriggerHealth::try_from).collect()
}

/// An installation to store: its id is chosen by the caller, which sealed the secrets with it.
#[derive(Debug)]
pub struct NewInstallation<'a> {
    pub id: &'a str,
    pub extension_id: &'a str,
    pub version: &'a str,
    pub settings: &'a Map<String, Value>,
    pub secrets_sealed: Option<&'a [u8]>,
    pub enabled: bool,
    pub endpoints: &'a [TriggerEndpoint],
}

/// Installs; the service having it already is a unique violation.
pub async fn install(db: &Db, scope: &ServiceScope, new: &NewInstallation<'_>) -> sqlx::Result<()> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO extension_installations (id, service_id, extension_id, version, settings, \
         secrets_sealed, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(new.id)
    .bind(scope.service_id())
    .bind(new.extension_id)
    .bind(new.version)
    .bind(Value::Object(new.settings.clone()).to_string())
    .bind(new.secrets_sealed)
    .bind(i64::from(new.enabled))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sync_endpoints(&mut tx, scope, new.id, new.endpoints, new.enabled, now).await?;
    tx.commit().await?;
    db.config_changed();
    Ok(())
}

/// The new state of an installation.
#[derive(Debug)]
pub struct InstallationChange<'a> {
    pub version: &'a str,
    pub settings: &'a Map<String, Value>,
    pub secrets_sealed: Option<&'a [u8]>,
    pub enabled: bool,
    pub endpoints: &'a [TriggerEndpoint],
}

/// Changes the scoped service's installation (settings, enabled, version) and its triggers'
/// endpoints, and replaces the attachments given (an upgrade's, resolved for the new version),
/// in one transaction; false if there is no such installation.
pub async fn change_installation(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
    change: &InstallationChange<'_>,
    attachments: &[NewAttachment<'_>],
) -> sqlx::Result<bool> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE extension_installations SET version = $3, settings = $4, secrets_sealed = $5, \
         enabled = $6, updated_at = $7 WHERE service_id = $1 AND id = $2",
    )
    .bind(scope.service_id())
    .bind(id)
    .bind(change.version)
    .bind(Value::Object(change.settings.clone()).to_string())
    .bind(change.secrets_sealed)
    .bind(i64::from(change.enabled))
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if !done {
        return Ok(false);
    }
    sync_endpoints(&mut tx, scope, id, change.endpoints, change.enabled, now).await?;
    for attachment in attachments {
        write_attachment(&mut tx, scope, attachment, true, now).await?;
    }
    tx.commit().await?;
    db.config_changed();
    Ok(true)
}

/// Makes the outbox endpoints of the installation's durable triggers match `endpoints`: one per
/// trigger that has a URL, signing with the extension's key (a built-in's: the service's default
/// key), enabled with the installation.
async fn sync_endpoints(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    installation_id: &str,
    endpoints: &[TriggerEndpoint],
    enabled: bool,
    now: i64,
) -> sqlx::Result<()> {
    for endpoint in endpoints {
        let name = endpoint.trigger.as_str();
        let Some((url, timeout)) = &endpoint.target else {
            sqlx::query(
                "DELETE FROM delivery_endpoints WHERE installation_id = $1 AND trigger_name = $2",
            )
            .bind(installation_id)
            .bind(name)
            .execute(&mut **tx)
            .await?;
            continue;
        };
        let (disabled_reason, disabled_at) = if enabled {
            (None, None)
        } else {
            (Some("manual"), Some(now))
        };
        // Enabling starts afresh: deliveries held while psi had disabled a failing endpoint
        // resume now, and its failures so far no longer count.
        let updated = sqlx::query(
            "UPDATE delivery_endpoints SET url = $3, timeout_ms = $4, enabled = $5, \
             disabled_reason = $6, disabled_at = $7, updated_at = $8, \
             failing_since = CASE WHEN $5 = 1 THEN NULL ELSE failing_since END \
             WHERE installation_id = $1 AND trigger_name = $2",
        )
        .bind(installation_id)
        .bind(name)
        .bind(url)
        .bind(timeout)
        .bind(i64::from(enabled))
        .bind(disabled_reason)
        .bind(disabled_at)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated > 0 {
            let id: EndpointId = sqlx::query_scalar(
                "SELECT id FROM delivery_endpoints WHERE installation_id = $1 AND trigger_name = $2",
            )
            .bind(installation_id)
            .bind(name)
            .fetch_one(&mut **tx)
            .await?;
            if enabled {
                super::deliveries::resume(tx, &id, now).await?;
            } else {
                super::deliveries::hold(tx, &id, now).await?;
            }
            continue;
        }
        sqlx::query(
            "INSERT INTO delivery_endpoints (id, service_id, url, description, event_types, \
             key_id, auth, timeout_ms, enabled, disabled_reason, disabled_at, created_at, \
             updated_at, installation_id, trigger_name) \
             SELECT $1, $2, $3, 'extension ' || e.name || ' ' || CAST($4 AS TEXT), '[]', \
             COALESCE(e.key_id, (SELECT id FROM keys WHERE service_id = $2 AND name = 'default')), \
             e.auth, $5, $6, $7, $8, $9, $9, i.id, CAST($4 AS TEXT) \
             FROM extension_installations i JOIN extensions e ON e.id = i.extension_id \
             WHERE i.id = $10",
        )
        .bind(new_id())
        .bind(scope.service_id())
        .bind(url)
        .bind(name)
        .bind(timeout)
        .bind(i64::from(enabled))
        .bind(disabled_reason)
        .bind(disabled_at)
        .bind(now)
        .bind(installation_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// What uninstalling did.
#[derive(Debug, PartialEq, Eq)]
pub enum Uninstalled {
    Done,
    NotFound,
    /// Attached to this many interactions, and not asked to detach.
    Attached(i64),
}

/// Uninstalls the scoped service's installation, detaching it everywhere first when `detach`.
pub async fn uninstall(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
    detach: bool,
) -> sqlx::Result<Uninstalled> {
    let mut tx = db.begin().await?;
    let attached: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM extension_attachments WHERE service_id = $1 AND installation_id = $2",
    )
    .bind(scope.service_id())
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if attached > 0 && !detach {
        return Ok(Uninstalled::Attached(attached));
    }
    let done = sqlx::query("DELETE FROM extension_installations WHERE service_id = $1 AND id = $2")
        .bind(scope.service_id())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    tx.commit().await?;
    db.config_changed();
    Ok(if done {
        Uninstalled::Done
    } else {
        Uninstalled::NotFound
    })
}

/// An installation attached to an interaction.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub installation: Installation,
    pub interaction_id: String,
    /// Interaction-level settings but secrets.
    pub settings: Map<String, Value>,
    pub secrets_sealed: Option<Vec<u8>>,
    pub created_at: i64,
}

#[derive(FromRow)]
struct AttachmentRow {
    #[sqlx(flatten)]
    installation: InstallationRow,
    interaction_id: String,
    attachment_settings: String,
    attachment_secrets: Option<Vec<u8>>,
    attached_at: i64,
}

impl TryFrom<AttachmentRow> for Attachment {
    type Error = sqlx::Error;

    fn try_from(row: AttachmentRow) -> sqlx::Result<Self> {
        Ok(Attachment {
            installation: row.installation.try_into()?,
            interaction_id: row.interaction_id,
            settings: json(&row.attachment_settings)?,
            secrets_sealed: row.attachment_secrets,
            created_at: row.attached_at,
        })
    }
}

impl Attachment {
    /// The associated data that binds an attachment's sealed secrets to it.
    pub fn aad(installation_id: &str, interaction_id: &str) -> Vec<u8> {
        format!("{installation_id}/{interaction_id}").into_bytes()
    }
}

/// Whose attachments to read.
#[derive(Debug, Clone, Copy)]
pub enum AttachedTo<'a> {
    /// An interaction's, by id.
    Interaction(&'a str),
    /// An installation's, by id.
    Installation(&'a str),
}

/// The scoped service's attachments (only of enabled installations when `enabled_only`), in the
/// order they were attached.
pub async fn attachments(
    conn: &mut AnyConnection,
    scope: &ServiceScope,
    to: AttachedTo<'_>,
    enabled_only: bool,
) -> sqlx::Result<Vec<Attachment>> {
    let (column, id) = match to {
        AttachedTo::Interaction(id) => ("a.interaction_id", id),
        AttachedTo::Installation(id) => ("a.installation_id", id),
    };
    let sql = format!(
        "SELECT {INSTALLATION_COLUMNS}, a.interaction_id, a.settings AS attachment_settings, \
         a.secrets_sealed AS attachment_secrets, a.created_at AS attached_at \
         FROM extension_attachments a JOIN extension_installations i ON i.id = a.installation_id \
         {INSTALLATION_JOINS} WHERE a.service_id = $1 AND {column} = $2 {} \
         ORDER BY a.created_at, a.installation_id",
        if enabled_only {
            "AND i.enabled = 1"
        } else {
            ""
        }
    );
    let rows: Vec<AttachmentRow> = sqlx::query_as(&sql)
        .bind(scope.service_id())
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(Attachment::try_from).collect()
}

/// [`attachments`], all of them, on a pooled connection.
pub async fn attachments_of(
    db: &Db,
    scope: &ServiceScope,
    to: AttachedTo<'_>,
) -> sqlx::Result<Vec<Attachment>> {
    let mut conn = db.pool().acquire().await?;
    attachments(&mut conn, scope, to, false).await
}

/// A credential an attachment adds to its interaction, resolved to stored ids.
#[derive(Debug, Clone)]
pub enum NewRequirement {
    Definition {
        /// Internal id of a credential definition.
        id: String,
        /// The link may pre-fill its attributes (SSI OAuth's user code).
        prefill_from_qr: bool,
    },
    Schema {
        /// Internal id of a schema.
        schema: String,
        trusted_issuers: Vec<String>,
        only_last: bool,
    },
}

/// An attachment to store or replace.
#[derive(Debug)]
pub struct NewAttachment<'a> {
    pub installation_id: &'a str,
    pub interaction_id: &'a str,
    pub settings: &'a Map<String, Value>,
    pub secrets_sealed: Option<&'a [u8]>,
    pub requirements: &'a [NewRequirement],
    /// SSI OAuth's client id (unique on the server).
    pub oauth_client_id: Option<&'a str>,
}

/// Attaches (`replace`: changes an attachment's settings and requirements); an attachment that
/// exists already is a unique violation; false when replacing one that does not exist.
pub async fn attach(
    db: &Db,
    scope: &ServiceScope,
    new: &NewAttachment<'_>,
    replace: bool,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    if !write_attachment(&mut tx, scope, new, replace, now_ms()).await? {
        return Ok(false);
    }
    tx.commit().await?;
    db.config_changed();
    Ok(true)
}

/// [`attach`] in the caller's transaction.
async fn write_attachment(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    new: &NewAttachment<'_>,
    replace: bool,
    now: i64,
) -> sqlx::Result<bool> {
    if replace {
        let done = sqlx::query(
            "UPDATE extension_attachments SET settings = $4, secrets_sealed = $5, \
             oauth_client_id = $6 \
             WHERE service_id = $1 AND installation_id = $2 AND interaction_id = $3",
        )
        .bind(scope.service_id())
        .bind(new.installation_id)
        .bind(new.interaction_id)
        .bind(Value::Object(new.settings.clone()).to_string())
        .bind(new.secrets_sealed)
        .bind(new.oauth_client_id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            > 0;
        if !done {
            return Ok(false);
        }
        sqlx::query(
            "DELETE FROM extension_requirements WHERE installation_id = $1 AND interaction_id = $2",
        )
        .bind(new.installation_id)
        .bind(new.interaction_id)
        .execute(&mut **tx)
        .await?;
    } else {
        sqlx::query(
            "INSERT INTO extension_attachments (installation_id, interaction_id, service_id, \
             settings, secrets_sealed, created_at, oauth_client_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new.installation_id)
        .bind(new.interaction_id)
        .bind(scope.service_id())
        .bind(Value::Object(new.settings.clone()).to_string())
        .bind(new.secrets_sealed)
        .bind(now)
        .bind(new.oauth_client_id)
        .execute(&mut **tx)
        .await?;
    }
    for (position, requirement) in new.requirements.iter().enumerate() {
        let (definition, schema, issuers, only_last, prefill) = match requirement {
            NewRequirement::Definition {
                id,
                prefill_from_qr,
            } => (Some(id.as_str()), None, Vec::new(), false, *prefill_from_qr),
            NewRequirement::Schema {
                schema,
                trusted_issuers,
                only_last,
            } => (
                None,
                Some(schema.as_str()),
                trusted_issuers.clone(),
                *only_last,
                false,
            ),
        };
        sqlx::query(
            "INSERT INTO extension_requirements (installation_id, interaction_id, service_id, \
             position, credential_definition_id, schema_id, trusted_issuers, only_last, \
             prefill_from_qr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new.installation_id)
        .bind(new.interaction_id)
        .bind(scope.service_id())
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(definition)
        .bind(schema)
        .bind(serde_json::to_string(&issuers).expect("strings serialise"))
        .bind(i64::from(only_last))
        .bind(i64::from(prefill))
        .execute(&mut **tx)
        .await?;
    }
    Ok(true)
}

/// Detaches; false if it was not attached.
pub async fn detach(
    db: &Db,
    scope: &ServiceScope,
    installation_id: &str,
    interaction_id: &str,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "DELETE FROM extension_attachments WHERE service_id = $1 AND installation_id = $2 \
         AND interaction_id = $3",
    )
    .bind(scope.service_id())
    .bind(installation_id)
    .bind(interaction_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    tx.commit().await?;
    db.config_changed();
    Ok(done)
}

/// Stores the built-in extensions and their versions, if missing (at every start).
pub async fn seed_builtins(db: &Db) -> sqlx::Result<()> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    for builtin in Builtin::ALL {
        let manifest = builtin.manifest();
        let version = crate::domain::extension::Version::parse(&manifest.version)
            .map_err(|e| decode(e.to_string()))?;
        sqlx::query(
            "INSERT INTO extensions (id, service_id, builtin, name, description, visibility, \
             key_id, auth, created_at, updated_at) \
             VALUES ($1, NULL, $2, $3, $4, 'public', NULL, 'signature', $5, $5) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(builtin.id())
        .bind(builtin.as_str())
        .bind(builtin.name())
        .bind(builtin.description())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO extension_versions (extension_id, version, sort_key, manifest, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (extension_id, version) DO NOTHING",
        )
        .bind(builtin.id())
        .bind(&manifest.version)
        .bind(version.sort_key())
        .bind(serde_json::to_string(&manifest).expect("a manifest serialises"))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Where the scoped service's installations are attached, for the dashboard's list in one query:
/// `(installation id, interaction id, interaction name)`, by installation and name.
pub async fn attached_interactions(
    db: &Db,
    scope: &ServiceScope,
) -> sqlx::Result<Vec<(String, String, String)>> {
    sqlx::query_as(
        "SELECT a.installation_id, a.interaction_id, n.name FROM extension_attachments a \
         JOIN interactions n ON n.id = a.interaction_id WHERE a.service_id = $1 \
         ORDER BY a.installation_id, n.name, n.id",
    )
    .bind(scope.service_id())
    .fetch_all(db.pool())
    .await
}
