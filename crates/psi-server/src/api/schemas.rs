//! `/api/v1/services/{did}/schemas`: credential schemas, `<DID>:2:<name>:<version>`, with typed
//! attributes in the wire shape of docs/protocol.md §2.1. A schema a credential definition uses cannot
//! change or go: the 409 names the definition.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::page::{Page, PageQuery};
use crate::db::{self, schemas::NewSchema, schemas::Schema};
use crate::domain::{AttributeJson, AttributeKind, Attributes, EnumValueJson, Name};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, ResultExt};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::scope::ServiceScope;

/// An attribute as the management API reads and writes it: the wire shape of docs/protocol.md
/// §2.1 (`AttributeJson`, which public reads and the wallet keep) with snake_case names.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    /// Unique within the schema; no markup (`< > & " '`).
    #[schema(example = "Birth date")]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttributeKind,
    /// Enumerations only: the choices, in order. Also read as `enumValues`, the wire name.
    #[serde(default, alias = "enumValues", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<EnumValueJson>>,
}

impl From<Attribute> for AttributeJson {
    fn from(attribute: Attribute) -> Self {
        AttributeJson {
            name: attribute.name,
            kind: attribute.kind,
            enum_values: attribute.enum_values,
        }
    }
}

impl From<AttributeJson> for Attribute {
    fn from(attribute: AttributeJson) -> Self {
        Attribute {
            name: attribute.name,
            kind: attribute.kind,
            enum_values: attribute.enum_values,
        }
    }
}

/// A new schema.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchema {
    /// 1 to 200 characters, no markup (`< > & " '`): web pages show it as HTML.
    #[schema(example = "Membership")]
    pub name: String,
    /// Dot-separated numbers.
    #[schema(example = "1.0")]
    pub version: String,
    /// 1 to 100 attributes with unique names.
    pub attributes: Vec<Attribute>,
}

/// New content for an unused schema; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSchema {
    pub name: Option<String>,
    pub version: Option<String>,
    pub attributes: Option<Vec<Attribute>>,
}

/// A schema.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaView {
    /// Internal id, for the paths below.
    pub id: String,
    /// Wire id, `<DID>:2:<name>:<version>`.
    #[schema(example = "GbzPqgnU4XsMs7xg9mYJW8:2:Membership:1.0")]
    pub schema_id: String,
    pub name: String,
    pub version: String,
    pub attributes: Vec<Attribute>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl From<Schema> for SchemaView {
    fn from(schema: Schema) -> Self {
        SchemaView {
            attributes: schema
                .attributes
                .to_json()
                .into_iter()
                .map(Into::into)
                .collect(),
            schema_id: schema.schema_id.to_string(),
            id: schema.id,
            name: schema.name,
            version: schema.version,
            created_at: schema.created_at,
            updated_at: schema.updated_at,
        }
    }
}

/// Checks a schema's fields into what `db` stores.
fn new_schema(
    scope: &ServiceScope,
    name: &str,
    version: &str,
    attributes: Vec<Attribute>,
) -> Result<NewSchema, ApiError> {
    let name = Name::parse(name).map_err(|e| ApiError::Validation(format!("`name` {e}")))?;
    let version = version.trim();
    if version.len() > 32 {
        return Err(ApiError::Validation(
            "`version` must be at most 32 characters".into(),
        ));
    }
    let schema_id = db::schemas::wire_id(scope, name.as_str(), version).map_err(|e| {
        ApiError::Validation(format!(
            "`version` {version:?} does not form a schema id: {e}"
        ))
    })?;
    let attributes = Attributes::parse(attributes.into_iter().map(Into::into).collect())
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    Ok(NewSchema {
        name,
        schema_id,
        attributes,
    })
}

fn name_taken(new: &NewSchema) -> ApiError {
    ApiError::Conflict(format!(
        "a schema named {:?} version {} already exists",
        new.name.as_str(),
        new.schema_id.version()
    ))
}

/// The 409 for a schema in use, or the 404 if the schema is gone.
async fn in_use_or_missing(state: &AppState, scope: &ServiceScope, id: &str) -> ApiError {
    match db::schemas::used_by(&state.db, scope, id).await {
        Ok(Some(user)) => {
            ApiError::Conflict(format!("the schema is used by {user}: it cannot change"))
        }
        Ok(None) => ApiError::not_found("schema"),
        Err(e) => e.into(),
    }
}

/// Create a schema.
#[utoipa::path(post, path = "/api/v1/services/{did}/schemas", operation_id = "create_schema",
    tag = "schemas", security(("bearer" = [])), request_body = CreateSchema,
    params(("did" = String, Path, description = "The service's public DID")),
    responses(
        (status = 201, description = "Created", body = SchemaView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 409, description = "The name and version are taken", body = ErrorBody),
        (status = 422, description = "Invalid name, version or attributes", body = ErrorBody)))]
pub async fn create(
    scope: ServiceScope,
    State(state): State<AppState>,
    Json(body): Json<CreateSchema>,
) -> Result<(StatusCode, Json<SchemaView>), ApiError> {
    let new = new_schema(&scope, &body.name, &body.version, body.attributes)?;
    let schema = db::schemas::insert(&state.db, &scope, &new)
        .await
        .on_unique(|| name_taken(&new))?;
    tracing::info!(did = %scope.did(), schema = %schema.schema_id, "schema created");
    Ok((StatusCode::CREATED, Json(schema.into())))
}

/// List a service's schemas.
#[utoipa::path(get, path = "/api/v1/services/{did}/schemas", operation_id = "list_schemas",
    tag = "schemas", security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), PageQuery),
    responses(
        (status = 200, description = "A page of schemas, oldest first", body = Page<SchemaView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "`limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn list(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<SchemaView>>, ApiError> {
    let paging = query.paging()?;
    let schemas = db::schemas::list(&state.db, &scope, &paging).await?;
    Ok(Json(Page::cut(&paging, schemas)))
}

/// Get one schema.
#[utoipa::path(get, path = "/api/v1/services/{did}/schemas/{id}", operation_id = "get_schema",
    tag = "schemas", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The schema's internal id")),
    responses(
        (status = 200, description = "The schema", body = SchemaView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or schema", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, String)>,
) -> Result<Json<SchemaView>, ApiError> {
    let schema = db::schemas::get(&state.db, &scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("schema"))?;
    Ok(Json(schema.into()))
}

/// Change a schema no credential definition uses.
#[utoipa::path(patch, path = "/api/v1/services/{did}/schemas/{id}", operation_id = "update_schema",
    tag = "schemas", security(("bearer" = [])), request_body = UpdateSchema,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The schema's internal id")),
    responses(
        (status = 200, description = "The changed schema", body = SchemaView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or schema", body = ErrorBody),
        (status = 409, description = "A credential definition uses it, or the name and version are taken", body = ErrorBody),
        (status = 422, description = "Invalid name, version or attributes", body = ErrorBody)))]
pub async fn update(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, String)>,
    Json(body): Json<UpdateSchema>,
) -> Result<Json<SchemaView>, ApiError> {
    let current = db::schemas::get(&state.db, &scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("schema"))?;
    let new = new_schema(
        &scope,
        body.name.as_deref().unwrap_or(&current.name),
        body.version.as_deref().unwrap_or(&current.version),
        body.attributes.unwrap_or_else(|| {
            current
                .attributes
                .to_json()
                .into_iter()
                .map(Into::into)
                .collect()
        }),
    )?;
    let updated = db::schemas::update_unused(&state.db, &scope, &id, &new)
        .await
        .on_unique(|| name_taken(&new))?;
    if !updated {
        return Err(in_use_or_missing(&state, &scope, &id).await);
    }
    let schema = db::schemas::get(&state.db, &scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("schema"))?;
    tracing::info!(did = %scope.did(), schema = %schema.schema_id, "schema changed");
    Ok(Json(schema.into()))
}

/// Delete a schema no credential definition uses.
#[utoipa::path(delete, path = "/api/v1/services/{did}/schemas/{id}", operation_id = "delete_schema",
    tag = "schemas", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The schema's internal id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or schema", body = ErrorBody),
        (status = 409, description = "A credential definition uses it", body = ErrorBody)))]
pub async fn delete(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if !db::schemas::delete_unused(&state.db, &scope, &id).await? {
        return Err(in_use_or_missing(&state, &scope, &id).await);
    }
    tracing::info!(did = %scope.did(), schema = %id, "schema deleted");
    Ok(StatusCode::NO_CONTENT)
}
