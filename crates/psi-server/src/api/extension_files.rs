//! Manifest files (docs/extensions.md, "Manifest files"): a version of an extension exported as
//! a portable document, and imported into another service, on this psi or another, as a new
//! extension or a new version of the service's extension of that name.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extensions::{
    CheckedManifest, ExtensionView, VersionView, check_fields, find, name_taken, publish_checked,
};
use crate::db::{self, extensions::ExtensionFields, extensions::Visibility};
use crate::domain::AuthScheme;
use crate::domain::manifest_file::ManifestFile;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, ResultExt};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::scope::ServiceScope;

/// A manifest file to import, and what the importing service chooses: these apply when the
/// import creates the extension; an existing one keeps its own.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportExtension {
    /// The document an export answers (docs/extension-manifest.schema.json).
    pub manifest: ManifestFile,
    /// `private` (default): the service only; `public`: in the catalogue.
    #[serde(default = "super::extensions::private")]
    pub visibility: Visibility,
    /// The service's key that signs the triggers' calls (default: `default`).
    #[serde(default = "super::extensions::default_key")]
    pub key: String,
    /// How the calls are authenticated (default `signature`).
    #[serde(default = "super::extensions::signature")]
    pub auth: AuthScheme,
    /// The service's key that authenticates the third party's calls on the extension's behalf.
    pub inbound_key: Option<String>,
}

/// What an import made: the extension and the version it published.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedExtension {
    /// As `GET /extensions/{id}` answers it.
    pub extension: ExtensionView,
    pub version: VersionView,
}

/// Export a version of an extension the service authored or may install, as a manifest file.
#[utoipa::path(get, path = "/api/v1/services/{did}/extensions/{id}/versions/{version}/manifest",
    operation_id = "export_extension_version", tag = "extensions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The extension's id"),
        ("version" = String, Path, description = "MAJOR.MINOR.PATCH")),
    responses(
        (status = 200, description = "The manifest file", body = ManifestFile),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, extension or version", body = ErrorBody),
        (status = 409, description = "A built-in extension: it runs only inside psi", body = ErrorBody)))]
pub async fn export(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id, version)): Path<(String, String, String)>,
) -> Result<Json<ManifestFile>, ApiError> {
    let extension = db::extensions::get_installable(&state.db, &scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("extension"))?;
    if extension.builtin.is_some() {
        return Err(ApiError::Conflict(
            "built-in extensions run only inside psi: they have no manifest file to export".into(),
        ));
    }
    let found = db::extensions::version(&state.db, &extension.id, &version)
        .await?
        .ok_or_else(|| ApiError::not_found("version"))?;
    Ok(Json(ManifestFile::new(
        extension.name,
        extension.description,
        found.manifest,
    )))
}

/// Import a manifest file: publish its version to the service's extension of its name, or
/// create that extension (private unless asked) and publish it.
#[utoipa::path(post, path = "/api/v1/services/{did}/extensions/import",
    operation_id = "import_extension", tag = "extensions", security(("bearer" = [])),
    request_body = ImportExtension,
    params(("did" = String, Path, description = "The service's public DID")),
    responses(
        (status = 201, description = "Published", body = ImportedExtension),
        (status = 400, description = "No such key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 409, description = "The version exists, or is not above the latest", body = ErrorBody),
        (status = 422, description = "An unknown `format`, a manifest that does not fit, invalid fields", body = ErrorBody)))]
pub async fn import(
    scope: ServiceScope,
    State(state): State<AppState>,
    Json(body): Json<ImportExtension>,
) -> Result<(StatusCode, Json<ImportedExtension>), ApiError> {
    let ManifestFile {
        name,
        description,
        manifest,
        ..
    } = body.manifest;
    // Checked before the transaction, so a refused manifest costs no write.
    let checked = CheckedManifest::check(&state, manifest)?;
    let name = name.trim().to_owned();
    let existing = {
        let mut conn = state.db.pool().acquire().await?;
        db::extensions::id_by_name(&mut conn, &scope, &name).await?
    };
    // An existing extension keeps its own fields, so they are checked only for a new one.
    let fields = match existing {
        Some(_) => None,
        None => Some(
            check_fields(
                &state,
                &scope,
                ExtensionFields {
                    name: name.clone(),
                    description,
                    visibility: body.visibility,
                    key_name: body.key,
                    auth: body.auth,
                    inbound_key_name: body.inbound_key,
                },
            )
            .await?,
        ),
    };
    // The extension and its first version are made together: a refused version leaves nothing.
    let mut tx = state.db.begin().await?;
    let (id, created) = match (
        db::extensions::id_by_name(&mut tx, &scope, &name).await?,
        &fields,
    ) {
        (Some(id), _) => (id, false),
        (None, Some(fields)) => {
            let id = db::extensions::insert_in(&mut tx, &scope, fields)
                .await
                .on_unique(|| name_taken(&name))?;
            (id, true)
        }
        // It existed a moment ago, so its fields were not checked.
        (None, None) => {
            return Err(ApiError::Conflict(format!(
                "the extension {name:?} was deleted while importing: import again"
            )));
        }
    };
    let version = publish_checked(&mut tx, &scope, &id, checked).await?;
    tx.commit().await?;
    if created {
        tracing::info!(did = %scope.did(), extension = %id, "extension authored");
    }
    let extension = find(&state, &scope, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(ImportedExtension { extension, version }),
    ))
}
