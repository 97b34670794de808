//! `/api/v1/services/{did}/extensions`: extensions a service authors ("My Extensions") and their
//! immutable versions; `/api/v1/catalogue/extensions`: the public ones ("Public Extensions"),
//! read without a token. Installing and attaching are in [`super::installations`].
//! docs/extensions.md is the contract.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::{Any, Transaction};
use utoipa::ToSchema;

use super::page::{Page, PageQuery};
use super::services::DEFAULT_KEY_NAME;
use super::webhook_config::key_kind;
use crate::db::keys::KeyKind;
use crate::db::{self, extensions::Extension, extensions::ExtensionFields, extensions::Visibility};
use crate::domain::extension::{Manifest, Version};
use crate::domain::{self, AuthScheme};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, ResultExt};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::scope::ServiceScope;

/// A new extension.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExtension {
    /// Unique among the service's extensions; 1 to 200 characters.
    #[schema(example = "CRM")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `private` (default): the author only; `public`: in the catalogue.
    #[serde(default = "private")]
    pub visibility: Visibility,
    /// The service's key that signs the triggers' calls (default: `default`).
    #[serde(default = "default_key")]
    pub key: String,
    /// How the calls are authenticated (default `signature`).
    #[serde(default = "signature")]
    pub auth: AuthScheme,
    /// The service's key (an RSA public key or a SHA secret of the third party) that
    /// authenticates the third party's calls into psi on the extension's behalf
    /// (`credentials-issued` naming an installation).
    pub inbound_key: Option<String>,
}

pub(crate) fn private() -> Visibility {
    Visibility::Private
}

pub(crate) fn default_key() -> String {
    DEFAULT_KEY_NAME.to_owned()
}

pub(crate) fn signature() -> AuthScheme {
    AuthScheme::Signature
}

/// Changes to an extension: absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateExtension {
    pub name: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<Visibility>,
    pub key: Option<String>,
    pub auth: Option<AuthScheme>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "super::webhook_config::nullable")]
    #[schema(value_type = Option<String>)]
    pub inbound_key: Option<Option<String>>,
}

/// An extension as its author sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    /// The author's key that signs the triggers' calls (null for a built-in extension: the
    /// installing service's `default` key signs).
    pub key: Option<String>,
    pub auth: AuthScheme,
    pub inbound_key: Option<String>,
    /// Null for a built-in extension.
    pub author_did: Option<String>,
    /// psi runs it in-process.
    pub built_in: bool,
    pub latest_version: Option<String>,
    /// Every published version, oldest first (in the answer about one extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<String>>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<Extension> for ExtensionView {
    fn from(extension: Extension) -> Self {
        ExtensionView {
            latest_version: extension.latest.map(|(version, _)| version),
            versions: None,
            id: extension.id,
            name: extension.name,
            description: extension.description,
            visibility: extension.visibility,
            key: extension.key_name,
            auth: extension.auth,
            inbound_key: extension.inbound_key_name,
            author_did: extension.author_did,
            built_in: extension.builtin.is_some(),
            created_at: extension.created_at,
            updated_at: extension.updated_at,
        }
    }
}

/// A published version: its manifest and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    #[serde(flatten)]
    pub manifest: Manifest,
    pub created_at: i64,
}

/// An extension of the public catalogue, with its latest version.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueEntry {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Null for a built-in extension.
    pub author_did: Option<String>,
    /// psi runs it in-process.
    pub built_in: bool,
    pub latest_version: String,
    pub manifest: Manifest,
    /// What each trigger sends where.
    pub data_flows: Vec<domain::extension::DataFlow>,
}

impl From<Extension> for CatalogueEntry {
    fn from(extension: Extension) -> Self {
        // The catalogue lists only extensions with a version.
        let (latest_version, manifest) = extension.latest.unwrap_or_default();
        CatalogueEntry {
            data_flows: manifest.data_flows(),
            id: extension.id,
            name: extension.name,
            description: extension.description,
            author_did: extension.author_did,
            built_in: extension.builtin.is_some(),
            latest_version,
            manifest,
        }
    }
}

/// Checks an extension's fields: the name, and that the key can sign with the scheme.
pub(crate) async fn check_fields(
    state: &AppState,
    scope: &ServiceScope,
    fields: ExtensionFields,
) -> Result<ExtensionFields, ApiError> {
    let name = super::validate_name("name", &fields.name)?;
    let description = domain::Description::parse(&fields.description)
        .map_err(|e| ApiError::Validation(format!("`description` {e}")))?;
    let kind = key_kind(state, scope, "key", &fields.key_name).await?;
    domain::check_outgoing_key(&fields.key_name, kind, fields.auth)
        .map_err(|e| ApiError::Validation(format!("`key`: {e}")))?;
    if let Some(inbound) = &fields.inbound_key_name {
        let kind = key_kind(state, scope, "inbound_key", inbound).await?;
        if kind == KeyKind::RsaKeyPair {
            return Err(ApiError::Validation(format!(
                "`inbound_key`: {inbound:?} is the service's own key pair; give the third \
                 party's RSA public key or a SHA secret shared with it"
            )));
        }
    }
    Ok(ExtensionFields {
        name,
        description: description.as_str().to_owned(),
        ..fields
    })
}

pub(crate) fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "the service has an extension named {name:?} already"
    ))
}

/// The scoped service's own extension, with its versions.
pub(crate) async fn find(
    state: &AppState,
    scope: &ServiceScope,
    id: &str,
) -> Result<ExtensionView, ApiError> {
    let extension = db::extensions::get(&state.db, scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("extension"))?;
    let versions = db::extensions::versions(&state.db, &extension.id).await?;
    let mut view = ExtensionView::from(extension);
    view.versions = Some(versions);
    Ok(view)
}

/// Author an extension.
#[utoipa::path(post, path = "/api/v1/services/{did}/extensions", operation_id = "create_extension",
    tag = "extensions", security(("bearer" = [])), request_body = CreateExtension,
    params(("did" = String, Path, description = "The service's public DID")),
    responses(
        (status = 201, description = "Created", body = ExtensionView),
        (status = 400, description = "No such key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "Invalid name, or a key that cannot sign with the scheme", body = ErrorBody)))]
pub async fn create(
    scope: ServiceScope,
    State(state): State<AppState>,
    Json(body): Json<CreateExtension>,
) -> Result<(StatusCode, Json<ExtensionView>), ApiError> {
    let fields = ExtensionFields {
        name: body.name,
        description: body.description,
        visibility: body.visibility,
        key_name: body.key,
        auth: body.auth,
        inbound_key_name: body.inbound_key,
    };
    let id = author(&state, &scope, fields).await?;
    Ok((StatusCode::CREATED, Json(find(&state, &scope, &id).await?)))
}

/// Authors an extension of the scoped service once its fields are checked; returns its id.
async fn author(
    state: &AppState,
    scope: &ServiceScope,
    fields: ExtensionFields,
) -> Result<String, ApiError> {
    let fields = check_fields(state, scope, fields).await?;
    let id = db::extensions::insert(&state.db, scope, &fields)
        .await
        .on_unique(|| name_taken(&fields.name))?;
    tracing::info!(did = %scope.did(), extension = %id, "extension authored");
    Ok(id)
}

/// List the service's own extensions ("My Extensions").
#[utoipa::path(get, path = "/api/v1/services/{did}/extensions", operation_id = "list_extensions",
    tag = "extensions", security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), PageQuery),
    responses(
        (status = 200, description = "A page of extensions, oldest first", body = Page<ExtensionView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "`limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn list(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<ExtensionView>>, ApiError> {
    let paging = query.paging()?;
    let rows = db::extensions::page(&state.db, &scope, &paging).await?;
    Ok(Json(Page::cut(&paging, rows)))
}

/// Get one of the service's extensions, with its versions.
#[utoipa::path(get, path = "/api/v1/services/{did}/extensions/{id}", operation_id = "get_extension",
    tag = "extensions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The extension's id")),
    responses(
        (status = 200, description = "The extension", body = ExtensionView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or extension", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, String)>,
) -> Result<Json<ExtensionView>, ApiError> {
    Ok(Json(find(&state, &scope, &id).await?))
}

/// Change an extension: name, description, visibility, key or scheme.
#[utoipa::path(patch, path = "/api/v1/services/{did}/extensions/{id}", operation_id = "update_extension",
    tag = "extensions", security(("bearer" = [])), request_body = UpdateExtension,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The extension's id")),
    responses(
        (status = 200, description = "The extension", body = ExtensionView),
        (status = 400, description = "No such key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or extension", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody)))]
pub async fn update(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, String)>,
    Json(body): Json<UpdateExtension>,
) -> Result<Json<ExtensionView>, ApiError> {
    let current = find(&state, &scope, &id).await?;
    let fields = ExtensionFields {
        name: body.name.unwrap_or(current.name),
        description: body.description.unwrap_or(current.description),
        visibility: body.visibility.unwrap_or(current.visibility),
        key_name: body.key.or(current.key).unwrap_or_else(default_key),
        auth: body.auth.unwrap_or(current.auth),
        inbound_key_name: body.inbound_key.unwrap_or(current.inbound_key),
    };
    let fields = check_fields(&state, &scope, fields).await?;
    db::extensions::update(&state.db, &scope, &id, &fields)
        .await
        .on_unique(|| name_taken(&fields.name))?;
    Ok(Json(find(&state, &scope, &id).await?))
}

/// Delete an extension that no service has installed.
#[utoipa::path(delete, path = "/api/v1/services/{did}/extensions/{id}", operation_id = "delete_extension",
    tag = "extensions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The extension's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or extension", body = ErrorBody),
        (status = 409, description = "Installed in a service", body = ErrorBody)))]
pub async fn delete(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    use db::extensions::Deleted;
    match db::extensions::delete(&state.db, &scope, &id).await? {
        Deleted::Done => Ok(StatusCode::NO_CONTENT),
        Deleted::NotFound => Err(ApiError::not_found("extension")),
        Deleted::Installed(n) => Err(ApiError::Conflict(format!(
            "the extension is installed in {n} service(s): it can be deleted once uninstalled"
        ))),
    }
}

/// Publish a new version; it is immutable from then on.
#[utoipa::path(post, path = "/api/v1/services/{did}/extensions/{id}/versions",
    operation_id = "publish_extension_version", tag = "extensions", security(("bearer" = [])),
    request_body = Manifest,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The extension's id")),
    responses(
        (status = 201, description = "Published", body = VersionView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or extension", body = ErrorBody),
        (status = 409, description = "The version exists, or is not above the latest", body = ErrorBody),
        (status = 422, description = "The manifest does not fit", body = ErrorBody)))]
pub async fn publish(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, String)>,
    Json(manifest): Json<Manifest>,
) -> Result<(StatusCode, Json<VersionView>), ApiError> {
    let extension = find(&state, &scope, &id).await?;
    let checked = CheckedManifest::check(&state, manifest)?;
    let mut tx = state.db.begin().await?;
    let version = publish_checked(&mut tx, &scope, &extension.id, checked).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(version)))
}

/// A manifest that passed the checks of publishing, its `version` written as it is stored.
pub(crate) struct CheckedManifest {
    version: Version,
    manifest: Manifest,
}

impl CheckedManifest {
    pub(crate) fn check(state: &AppState, mut manifest: Manifest) -> Result<Self, ApiError> {
        let version = manifest
            .check(state.outbound.policy())
            .map_err(|e| ApiError::Validation(e.to_string()))?;
        manifest.version = version.to_string();
        Ok(CheckedManifest { version, manifest })
    }
}

/// Publishes a new version of the scoped service's own extension `extension_id` in `tx`, which
/// the caller commits; 409 unless it is above every published one.
pub(crate) async fn publish_checked(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    extension_id: &str,
    checked: CheckedManifest,
) -> Result<VersionView, ApiError> {
    let CheckedManifest { version, manifest } = checked;
    use db::extensions::Published;
    match db::extensions::publish(
        tx,
        extension_id,
        &manifest.version,
        &version.sort_key(),
        &manifest,
    )
    .await
    .on_unique(|| ApiError::Conflict(format!("version {version} is published already")))?
    {
        Published::Done(created_at) => {
            tracing::info!(did = %scope.did(), extension = %extension_id, %version, "extension version published");
            Ok(VersionView {
                manifest,
                created_at,
            })
        }
        Published::NotAbove(latest) => Err(ApiError::Conflict(format!(
            "version {version} is not above the latest, {latest}: publish a higher version"
        ))),
    }
}

/// Get one version of an extension the service authored or may install.
#[utoipa::path(get, path = "/api/v1/services/{did}/extensions/{id}/versions/{version}",
    operation_id = "get_extension_version", tag = "extensions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The extension's id"),
        ("version" = String, Path, description = "MAJOR.MINOR.PATCH")),
    responses(
        (status = 200, description = "The version", body = VersionView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, extension or version", body = ErrorBody)))]
pub async fn get_version(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id, version)): Path<(String, String, String)>,
) -> Result<Json<VersionView>, ApiError> {
    let extension = db::extensions::get_installable(&state.db, &scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("extension"))?;
    let found = db::extensions::version(&state.db, &extension.id, &version)
        .await?
        .ok_or_else(|| ApiError::not_found("version"))?;
    Ok(Json(VersionView {
        manifest: found.manifest,
        created_at: found.created_at,
    }))
}

/// The public catalogue ("Public Extensions"): public extensions with their latest version.
#[utoipa::path(get, path = "/api/v1/catalogue/extensions", operation_id = "list_catalogue",
    tag = "extensions", params(PageQuery),
    responses(
        (status = 200, description = "A page of the catalogue, oldest first", body = Page<CatalogueEntry>),
        (status = 422, description = "`limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn catalogue(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<CatalogueEntry>>, ApiError> {
    let paging = query.paging()?;
    let rows = db::extensions::catalogue(&state.db, &paging).await?;
    Ok(Json(Page::cut(&paging, rows)))
}

/// One extension of the public catalogue.
#[utoipa::path(get, path = "/api/v1/catalogue/extensions/{id}", operation_id = "get_catalogue_entry",
    tag = "extensions",
    params(("id" = String, Path, description = "The extension's id")),
    responses(
        (status = 200, description = "The extension and its latest version", body = CatalogueEntry),
        (status = 404, description = "No public extension with this id", body = ErrorBody)))]
pub async fn catalogue_entry(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CatalogueEntry>, ApiError> {
    let extension = db::extensions::catalogue_get(&state.db, &id)
        .await?
        .filter(|e| e.latest.is_some())
        .ok_or_else(|| ApiError::not_found("extension"))?;
    Ok(Json(extension.into()))
}
