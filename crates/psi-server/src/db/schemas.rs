//! Credential schemas (`schemas` table). Attributes are stored as JSON in their wire shape.

use psi_link::SchemaId;
use sqlx::FromRow;

use super::{Db, Order, Paging, new_id, now_ms};
use crate::domain::{AttributeJson, Attributes, Name};
use crate::scope::ServiceScope;

/// A stored schema.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Internal id (management API paths, credential definitions).
    pub id: String,
    /// Wire id, `<DID>:2:<name>:<version>`.
    pub schema_id: SchemaId,
    pub name: String,
    pub version: String,
    pub attributes: Attributes,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A schema to store or the new content of one. `schema_id` must be the service's
/// `<DID>:2:<name>:<version>` (build it with [`wire_id`]).
#[derive(Debug, Clone)]
pub struct NewSchema {
    pub name: Name,
    pub schema_id: SchemaId,
    pub attributes: Attributes,
}

#[derive(FromRow)]
pub(super) struct SchemaRow {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) version: String,
    pub(super) attributes: String,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    /// The DID of the schema's service, whose id names it (a definition may use another
    /// service's schema).
    pub(super) schema_did: String,
}

/// The columns of [`SchemaRow`], for queries that alias `schemas` as `s`.
pub(super) const SCHEMA_COLUMNS: &str = "s.id, s.name, s.version, s.attributes, s.created_at, s.updated_at, \
     (SELECT sd.did FROM services sd WHERE sd.id = s.service_id) AS schema_did";

impl SchemaRow {
    pub(super) fn into_schema(self) -> sqlx::Result<Schema> {
        Ok(Schema {
            schema_id: format!("{}:2:{}:{}", self.schema_did, self.name, self.version)
                .parse()
                .map_err(|e: psi_link::IdError| sqlx::Error::Decode(e.to_string().into()))?,
            attributes: parse_attributes(&self.attributes)?,
            id: self.id,
            name: self.name,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Attributes as stored (JSON, their wire shape).
pub(super) fn parse_attributes(stored: &str) -> sqlx::Result<Attributes> {
    let decode = |e: String| sqlx::Error::Decode(e.into());
    let json: Vec<AttributeJson> =
        serde_json::from_str(stored).map_err(|e| decode(e.to_string()))?;
    Attributes::parse(json).map_err(|e| decode(e.to_string()))
}

/// The wire id of the scoped service's schema `name` `version`; an error if the version is not
/// dot-separated numbers.
pub fn wire_id(
    scope: &ServiceScope,
    name: &str,
    version: &str,
) -> Result<SchemaId, psi_link::IdError> {
    format!("{}:2:{name}:{version}", scope.did()).parse()
}

fn attributes_json(attributes: &Attributes) -> String {
    serde_json::to_string(&attributes.to_json()).expect("attributes serialise")
}

/// Stores a schema. A name and version already taken is a unique violation.
pub async fn insert(db: &Db, scope: &ServiceScope, new: &NewSchema) -> sqlx::Result<Schema> {
    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO schemas (id, service_id, name, version, attributes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(scope.service_id())
    .bind(new.name.as_str())
    .bind(new.schema_id.version())
    .bind(attributes_json(&new.attributes))
    .bind(now)
    .execute(db.pool())
    .await?;
    db.config_changed();
    Ok(Schema {
        id,
        schema_id: new.schema_id.clone(),
        name: new.name.to_string(),
        version: new.schema_id.version().to_owned(),
        attributes: new.attributes.clone(),
        created_at: now,
        updated_at: now,
    })
}

super::positioned!(Schema, created_at, id);

/// A page of the scoped service's schemas, oldest first.
pub async fn list(db: &Db, scope: &ServiceScope, paging: &Paging) -> sqlx::Result<Vec<Schema>> {
    let sql = format!(
        "SELECT {SCHEMA_COLUMNS} FROM schemas s WHERE s.service_id = $1{}",
        Paging::sql("s.created_at", "s.id", 2, Order::Oldest)
    );
    let rows: Vec<SchemaRow> = paging
        .bind(sqlx::query_as(&sql).bind(scope.service_id()))
        .fetch_all(db.pool())
        .await?;
    rows.into_iter().map(|row| row.into_schema()).collect()
}

/// The scoped service's schema with this internal id.
pub async fn get(db: &Db, scope: &ServiceScope, id: &str) -> sqlx::Result<Option<Schema>> {
    let row: Option<SchemaRow> = sqlx::query_as(&format!(
        "SELECT {SCHEMA_COLUMNS} FROM schemas s WHERE s.service_id = $1 AND s.id = $2"
    ))
    .bind(scope.service_id())
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(|row| row.into_schema()).transpose()
}

/// The scoped service's schema with this wire id (`None` when another DID issued it).
pub async fn get_by_wire_id(
    db: &Db,
    scope: &ServiceScope,
    schema_id: &SchemaId,
) -> sqlx::Result<Option<Schema>> {
    if schema_id.issuer() != scope.did().as_str() {
        return Ok(None);
    }
    let row: Option<SchemaRow> = sqlx::query_as(&format!(
        "SELECT {SCHEMA_COLUMNS} FROM schemas s \
         WHERE s.service_id = $1 AND s.name = $2 AND s.version = $3"
    ))
    .bind(scope.service_id())
    .bind(schema_id.name())
    .bind(schema_id.version())
    .fetch_optional(db.pool())
    .await?;
    row.map(|row| row.into_schema()).transpose()
}

/// What uses the scoped service's schema, if anything: a credential definition (the service's own
/// first: other services may define credentials of it too), else an interaction requiring it
/// by schema. A schema in use cannot change.
pub async fn used_by(db: &Db, scope: &ServiceScope, id: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT sv.did, c.seq, c.tag FROM credential_definitions c \
         JOIN services sv ON sv.id = c.service_id JOIN schemas s ON s.id = c.schema_id \
         WHERE s.service_id = $1 AND c.schema_id = $2 \
         ORDER BY CASE WHEN c.service_id = $1 THEN 0 ELSE 1 END, c.seq LIMIT 1",
    )
    .bind(scope.service_id())
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    if let Some((did, seq, tag)) = row {
        let definition = super::credential_definitions::wire_id_of(&did, seq, &tag)?;
        return Ok(Some(format!("credential definition {definition}")));
    }
    let required: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM interaction_schemas WHERE schema_id = $1 \
         UNION ALL SELECT 1 FROM extension_requirements WHERE schema_id = $1 LIMIT 1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    Ok(required.map(|_| {
        "an interaction that requires credentials of it (itself, or through an extension)"
            .to_owned()
    }))
}

/// The condition, on a `schemas` row, that nothing uses it.
const UNUSED: &str = "NOT EXISTS (SELECT 1 FROM credential_definitions c \
     WHERE c.schema_id = schemas.id) \
     AND NOT EXISTS (SELECT 1 FROM interaction_schemas r WHERE r.schema_id = schemas.id) \
     AND NOT EXISTS (SELECT 1 FROM extension_requirements e WHERE e.schema_id = schemas.id)";

/// Replaces a schema's content unless a credential definition uses it; false if nothing was
/// changed (no such schema, or in use: ask [`used_by`]). A name and version taken is a unique
/// violation.
pub async fn update_unused(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
    new: &NewSchema,
) -> sqlx::Result<bool> {
    let sql = format!(
        "UPDATE schemas SET name = $3, version = $4, attributes = $5, updated_at = $6 \
         WHERE service_id = $1 AND id = $2 AND {UNUSED}"
    );
    let result = sqlx::query(&sql)
        .bind(scope.service_id())
        .bind(id)
        .bind(new.name.as_str())
        .bind(new.schema_id.version())
        .bind(attributes_json(&new.attributes))
        .bind(now_ms())
        .execute(db.pool())
        .await?;
    db.config_changed();
    Ok(result.rows_affected() > 0)
}

/// Deletes a schema no credential definition uses; false if nothing was deleted (no such
/// schema, or in use).
pub async fn delete_unused(db: &Db, scope: &ServiceScope, id: &str) -> sqlx::Result<bool> {
    let sql = format!("DELETE FROM schemas WHERE service_id = $1 AND id = $2 AND {UNUSED}");
    let result = sqlx::query(&sql)
        .bind(scope.service_id())
        .bind(id)
        .execute(db.pool())
        .await?;
    db.config_changed();
    Ok(result.rows_affected() > 0)
}
