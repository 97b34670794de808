//! `/api/v1/services/{did}/installations`: extensions a service installed, at a pinned version,
//! with its service-level settings; upgrades; `/interactions/{id}/extensions`: attaching them to
//! interactions with interaction-level settings and the credentials they require. Secret settings
//! are sealed with the master key (the installation's id, or the installation's and the
//! interaction's, as associated data) and never answered. docs/extensions.md is the contract.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::interactions::{RequiredSchemaJson, required_definition, schema_requirement};
use super::notifications::endpoints::EndpointState;
use super::page::{Page, PageQuery};
use crate::db::credential_definitions::{
    CredentialDefinition, DefinitionSettings, NewCredentialDefinition,
};
use crate::db::extensions::{
    AttachedTo, Attachment, Installation, InstallationChange, NewAttachment, NewInstallation,
    NewRequirement, TriggerHealth, Uninstalled,
};
use crate::db::schemas::NewSchema;
use crate::db::{self, new_id};
use crate::domain::WebhookUrl;
use crate::domain::attribute::{AttributeJson, AttributeKind};
use crate::domain::extension::{
    Builtin, DataFlow, Manifest, RequiredByExtension, SettingField, SettingType, SettingValues,
    TriggerName, check_values, trigger_endpoints,
};
use crate::domain::oauth::{self, OAuthSettings};
use crate::domain::{Attestation, Attributes, Name, SourceIpPrefixes, Tag};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, ResultExt};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::InteractionId;
use crate::scope::ServiceScope;

/// Installing an extension.
// No `Debug`: it would print secret settings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Install {
    /// The service's own extension or a public one.
    pub extension_id: String,
    /// Default: the latest version.
    pub version: Option<String>,
    /// The service-level settings, by name.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

/// Changes to an installation: given settings replace the stored ones (a secret not given is
/// kept); `enabled` turns all its triggers and requirements on or off.
// No `Debug`: it would print secret settings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInstallation {
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Map<String, Value>>,
    pub enabled: Option<bool>,
}

/// Moving an installation to another version.
// No `Debug`: it would print secret settings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Upgrade {
    pub version: String,
    /// Settings to add or change; the others are kept where the new version still has them.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// Interaction-level settings to add or change, by the id of an interaction the installation
    /// is attached to, then by name (a secret not given is kept); what the new version requires
    /// of each attachment.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, Object>)]
    pub attachments: BTreeMap<String, Map<String, Value>>,
}

/// An installation; secrets are never shown, only which are set.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstallationView {
    pub id: String,
    pub extension_id: String,
    pub extension_name: String,
    pub version: String,
    /// psi runs it in-process.
    pub built_in: bool,
    /// Service-level settings but secrets.
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// The secret settings that have a value.
    pub secrets_set: Vec<String>,
    pub enabled: bool,
    /// What each trigger sends where.
    pub data_flows: Vec<DataFlow>,
    /// The durable triggers (`on_issue`, `on_finish`) and whether psi delivers to them.
    pub triggers: Vec<TriggerView>,
    /// SSI OAuth only: what a web page configures `ssi-auth-lib` with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthView>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a web page gives `ssi-auth-lib` for an SSI OAuth attachment (docs/ssi-oauth.md).
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthView {
    /// The service's "SSI Authentication" definition (`SSIAuthenticationCredDefId`), which the
    /// library pre-fills with the user code; `null` on an installation not attached yet.
    pub credential_definition_id: Option<String>,
    /// The attachment's client id (`clientId`); absent on an installation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// A durable trigger's outbox endpoint. psi disables one whose every attempt failed for
/// `[delivery] disable_after` and holds its messages; enabling the installation (`PATCH` with
/// `enabled: true`) resumes it and delivers them.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerView {
    pub trigger: TriggerName,
    pub url: String,
    #[serde(flatten)]
    pub state: EndpointState,
}

impl From<TriggerHealth> for TriggerView {
    fn from(health: TriggerHealth) -> Self {
        TriggerView {
            trigger: health.trigger,
            url: health.url,
            state: EndpointState {
                enabled: health.enabled,
                disabled_reason: health.disabled_reason,
                disabled_at: health.disabled_at,
                failing_since: health.failing_since,
            },
        }
    }
}

/// What an upgrade changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Upgraded {
    pub installation: InstallationView,
    /// Settings (of either level) the new version has and the old one did not.
    pub added_settings: Vec<String>,
    /// Settings the new version no longer has: their values are dropped.
    pub removed_settings: Vec<String>,
}

/// Attaching an installation to an interaction.
// No `Debug`: it would print secret settings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attach {
    pub installation_id: String,
    /// The interaction-level settings, by name.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
}

/// New interaction-level settings (a secret not given is kept).
// No `Debug`: it would print secret settings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAttachment {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
}

/// An installation attached to an interaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub installation_id: String,
    pub extension_name: String,
    pub version: String,
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    pub secrets_set: Vec<String>,
    /// The credentials it added to the interaction (definition or schema ids), but those the
    /// interaction requires on its own.
    pub added_requirements: Vec<String>,
    /// SSI OAuth only: what a web page configures `ssi-auth-lib` with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthView>,
    pub created_at: i64,
}

fn invalid(error: impl std::fmt::Display) -> ApiError {
    ApiError::Validation(error.to_string())
}

impl InstallationView {
    async fn of(
        state: &AppState,
        scope: &ServiceScope,
        installation: Installation,
    ) -> Result<Self, ApiError> {
        let triggers =
            db::extensions::trigger_health(&state.db, scope, &[installation.id.as_str()]).await?;
        Self::with_triggers(state, scope, installation, triggers).await
    }

    /// The view of `installation`, whose triggers are `triggers`.
    async fn with_triggers(
        state: &AppState,
        scope: &ServiceScope,
        installation: Installation,
        triggers: Vec<TriggerHealth>,
    ) -> Result<Self, ApiError> {
        let secrets = state.master_key.open_json(
            installation.id.as_bytes(),
            installation.secrets_sealed.as_deref(),
        )?;
        let oauth = if installation.builtin == Some(Builtin::SsiOauth) {
            let definition = db::oauth::ssi_authentication(&state.db, scope).await?;
            Some(OAuthView {
                credential_definition_id: definition.map(|d| d.credential_id.to_string()),
                client_id: None,
            })
        } else {
            None
        };
        Ok(InstallationView {
            oauth,
            data_flows: installation.manifest.data_flows(),
            triggers: triggers.into_iter().map(TriggerView::from).collect(),
            secrets_set: secrets.keys().cloned().collect(),
            id: installation.id,
            extension_id: installation.extension_id,
            extension_name: installation.extension_name,
            built_in: installation.builtin.is_some(),
            version: installation.version,
            settings: installation.settings,
            enabled: installation.enabled,
            created_at: installation.created_at,
            updated_at: installation.updated_at,
        })
    }
}

async fn find(state: &AppState, scope: &ServiceScope, id: &str) -> Result<Installation, ApiError> {
    db::extensions::installation(&state.db, scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("installation"))
}

/// [`check_values`], and for a built-in extension, which calls or fetches every URL setting
/// itself, each URL against the outbound policy, so a refused address is refused when saved.
fn checked(
    state: &AppState,
    builtin: Option<Builtin>,
    fields: &[SettingField],
    given: &Map<String, Value>,
    kept_secrets: &Map<String, Value>,
) -> Result<SettingValues, ApiError> {
    let values = check_values(fields, given, kept_secrets).map_err(invalid)?;
    if let Some(header) = values.plain.get("api_key_header").and_then(Value::as_str)
        && builtin == Some(Builtin::ForwardHttp)
        && axum::http::HeaderName::from_bytes(header.as_bytes()).is_err()
    {
        return Err(invalid(format!(
            "setting `api_key_header`: {header:?} is not an HTTP header name"
        )));
    }
    if builtin.is_some() {
        for field in fields.iter().filter(|f| f.kind == SettingType::Url) {
            if let Some(url) = values.plain.get(&field.name).and_then(Value::as_str) {
                WebhookUrl::parse_for(url, state.outbound.policy())
                    .map_err(|e| invalid(format!("setting `{}`: {e}", field.name)))?;
            }
        }
    }
    Ok(values)
}

/// The manifest of `version` (default: the latest) of an extension the service may install, and
/// which built-in extension it is.
async fn installable(
    state: &AppState,
    scope: &ServiceScope,
    extension_id: &str,
    version: Option<&str>,
) -> Result<(Manifest, Option<Builtin>), ApiError> {
    let extension = db::extensions::get_installable(&state.db, scope, extension_id)
        .await?
        .ok_or_else(|| ApiError::not_found("extension"))?;
    let manifest = match version {
        None => extension
            .latest
            .map(|(_, manifest)| manifest)
            .ok_or_else(|| invalid("the extension has no published version yet")),
        Some(version) => db::extensions::version(&state.db, &extension.id, version)
            .await?
            .map(|v| v.manifest)
            .ok_or_else(|| ApiError::not_found("version")),
    }?;
    Ok((manifest, extension.builtin))
}

/// Install an extension: the service's own or a public one.
#[utoipa::path(post, path = "/api/v1/services/{did}/installations", operation_id = "install_extension",
    tag = "extensions", security(("bearer" = [])), request_body = Install,
    params(("did" = String, Path, description = "The service's public DID")),
    responses(
        (status = 201, description = "Installed", body = InstallationView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, extension or version", body = ErrorBody),
        (status = 409, description = "Installed already", body = ErrorBody),
        (status = 422, description = "A setting is missing or does not fit", body = ErrorBody)))]
pub async fn install(
    scope: ServiceScope,
    State(state): State<AppState>,
    Json(body): Json<Install>,
) -> Result<(StatusCode, Json<InstallationView>), ApiError> {
    let (manifest, builtin) =
        installable(&state, &scope, &body.extension_id, body.version.as_deref()).await?;
    let values = checked(
        &state,
        builtin,
        &manifest.service_settings,
        &body.settings,
        &Map::new(),
    )?;
    let id = new_id();
    let sealed = state.master_key.seal_json(id.as_bytes(), &values.secrets);
    let endpoints = trigger_endpoints(&manifest, &values.plain);
    let new = NewInstallation {
        id: &id,
        extension_id: &body.extension_id,
        version: &manifest.version,
        endpoints: &endpoints,
        settings: &values.plain,
        secrets_sealed: sealed.as_deref(),
        enabled: body.enabled,
    };
    db::extensions::install(&state.db, &scope, &new)
        .await
        .on_unique(|| {
            ApiError::Conflict("the service has installed this extension already".into())
        })?;
    tracing::info!(did = %scope.did(), installation = %id, extension = %body.extension_id,
        version = %manifest.version, "extension installed");
    let installation = find(&state, &scope, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(InstallationView::of(&state, &scope, installation).await?),
    ))
}

/// List the service's installations.
#[utoipa::path(get, path = "/api/v1/services/{did}/installations", operation_id = "list_installations",
    tag = "extensions", security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), PageQuery),
    responses(
        (status = 200, description = "A page of installations, oldest first", body = Page<InstallationView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "`limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn list(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<InstallationView>>, ApiError> {
    let paging = query.paging()?;
    let rows = db::extensions::installations(&state.db, &scope, &paging).await?;
    let (rows, next) = paging.cut(rows);
    // One read for the whole page's triggers.
    let mut triggers: BTreeMap<String, Vec<TriggerHealth>> = BTreeMap::new();
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    for health in db::extensions::trigger_health(&state.db, &scope, &ids).await? {
        triggers
            .entry(health.installation_id.clone())
            .or_default()
            .push(health);
    }
    Ok(Json(Page {
        data: {
            let mut views = Vec::with_capacity(rows.len());
            for row in rows {
                let of_row = triggers.remove(&row.id).unwrap_or_default();
                views.push(InstallationView::with_triggers(&state, &scope, row, of_row).await?);
            }
            views
        },
        next_cursor: next.as_ref().map(db::Cursor::encode),
    }))
}

/// Get one installation.
#[utoipa::path(get, path = "/api/v1/services/{did}/installations/{id}", operation_id = "get_installation",
    tag = "extensions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The installation's id")),
    responses(
        (status = 200, description = "The installation", body = InstallationView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or installation", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, String)>,
) -> Result<Json<InstallationView>, ApiError> {
    let installation = find(&state, &scope, &id).await?;
    Ok(Json(
        InstallationView::of(&state, &scope, installation).await?,
    ))
}

/// The service-level values `given` against `fields`, with the stored ones (that `fields` still
/// has) kept where not given.
fn next_values(
    state: &AppState,
    installation: &Installation,
    fields: &[SettingField],
    given: &Map<String, Value>,
) -> Result<SettingValues, ApiError> {
    let kept_secrets = state.master_key.open_json(
        installation.id.as_bytes(),
        installation.secrets_sealed.as_deref(),
    )?;
    let mut merged = installation.settings.clone();
    merged.retain(|name, _| fields.iter().any(|f| &f.name == name));
    merged.extend(given.clone());
    let kept_secrets = kept_secrets
        .into_iter()
        .filter(|(name, _)| !given.contains_key(name))
        .collect();
    checked(state, installation.builtin, fields, &merged, &kept_secrets)
}

/// Change an installation's settings, or enable or disable it.
#[utoipa::path(patch, path = "/api/v1/services/{did}/installations/{id}", operation_id = "update_installation",
    tag = "extensions", security(("bearer" = [])), request_body = UpdateInstallation,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The installation's id")),
    responses(
        (status = 200, description = "The installation", body = InstallationView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or installation", body = ErrorBody),
        (status = 422, description = "A setting is missing or does not fit", body = ErrorBody)))]
pub async fn update(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, String)>,
    Json(body): Json<UpdateInstallation>,
) -> Result<Json<InstallationView>, ApiError> {
    let installation = find(&state, &scope, &id).await?;
    let given = body.settings.unwrap_or_default();
    let values = next_values(
        &state,
        &installation,
        &installation.manifest.service_settings,
        &given,
    )?;
    let sealed = state.master_key.seal_json(id.as_bytes(), &values.secrets);
    let endpoints = trigger_endpoints(&installation.manifest, &values.plain);
    let change = InstallationChange {
        version: &installation.version,
        endpoints: &endpoints,
        settings: &values.plain,
        secrets_sealed: sealed.as_deref(),
        enabled: body.enabled.unwrap_or(installation.enabled),
    };
    db::extensions::change_installation(&state.db, &scope, &id, &change, &[]).await?;
    // Enabling resumes the triggers' held deliveries.
    crate::delivery::outbox::announce();
    let installation = find(&state, &scope, &id).await?;
    Ok(Json(
        InstallationView::of(&state, &scope, installation).await?,
    ))
}

/// Query of an uninstall.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UninstallQuery {
    /// Detach it from every interaction first (default false: refused while attached).
    #[serde(default)]
    pub detach: bool,
}

/// Uninstall an extension; refused while attached to interactions unless `detach=true`.
#[utoipa::path(delete, path = "/api/v1/services/{did}/installations/{id}", operation_id = "uninstall_extension",
    tag = "extensions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The installation's id"), UninstallQuery),
    responses(
        (status = 204, description = "Uninstalled"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or installation", body = ErrorBody),
        (status = 409, description = "Attached to interactions", body = ErrorBody)))]
pub async fn uninstall(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, String)>,
    Query(query): Query<UninstallQuery>,
) -> Result<StatusCode, ApiError> {
    match db::extensions::uninstall(&state.db, &scope, &id, query.detach).await? {
        Uninstalled::Done => {
            tracing::info!(did = %scope.did(), installation = %id, "extension uninstalled");
            Ok(StatusCode::NO_CONTENT)
        }
        Uninstalled::NotFound => Err(ApiError::not_found("installation")),
        Uninstalled::Attached(n) => Err(ApiError::Conflict(format!(
            "the extension is attached to {n} interaction(s): detach it first, or uninstall \
             with ?detach=true"
        ))),
    }
}

/// Move an installation to another version of its extension.
#[utoipa::path(post, path = "/api/v1/services/{did}/installations/{id}/upgrade",
    operation_id = "upgrade_installation", tag = "extensions", security(("bearer" = [])),
    request_body = Upgrade,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The installation's id")),
    responses(
        (status = 200, description = "Upgraded, with the settings added and removed", body = Upgraded),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, installation or version", body = ErrorBody),
        (status = 422, description = "A new required setting (of the installation, or of an attachment in `attachments`) has no value, a setting does not fit, or `attachments` names an interaction the installation is not attached to", body = ErrorBody)))]
pub async fn upgrade(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, String)>,
    Json(body): Json<Upgrade>,
) -> Result<Json<Upgraded>, ApiError> {
    let installation = find(&state, &scope, &id).await?;
    let (manifest, _) = installable(
        &state,
        &scope,
        &installation.extension_id,
        Some(&body.version),
    )
    .await?;
    let names =
        |m: &Manifest| -> BTreeSet<String> { m.settings().map(|f| f.name.clone()).collect() };
    let (old, new) = (names(&installation.manifest), names(&manifest));
    let values = next_values(
        &state,
        &installation,
        &manifest.service_settings,
        &body.settings,
    )
    .map_err(|e| match e {
        ApiError::Validation(message) => ApiError::Validation(format!(
            "version {} cannot be installed as it is: {message}",
            manifest.version
        )),
        other => other,
    })?;
    // Every attachment must fit the new version before anything changes.
    let attachments =
        db::extensions::attachments_of(&state.db, &scope, AttachedTo::Installation(&id)).await?;
    if let Some(unknown) = body
        .attachments
        .keys()
        .find(|given| !attachments.iter().any(|a| &a.interaction_id == *given))
    {
        return Err(ApiError::Validation(format!(
            "`attachments`: the installation is not attached to interaction {unknown:?}"
        )));
    }
    let none = Map::new();
    let mut reattached = Vec::with_capacity(attachments.len());
    for attachment in &attachments {
        let given = body
            .attachments
            .get(&attachment.interaction_id)
            .unwrap_or(&none);
        let interaction_values =
            attachment_values(&state, attachment, &manifest, given).map_err(|e| match e {
                ApiError::Validation(message) => ApiError::Validation(format!(
                    "its attachment to interaction {}: {message} (interaction-level settings \
                     go in `attachments`)",
                    attachment.interaction_id
                )),
                other => other,
            })?;
        let requirements = resolve_requirements(
            &state,
            &scope,
            (&installation, &manifest),
            &values,
            (&attachment.interaction_id, &interaction_values),
        )
        .await?;
        reattached.push((attachment, interaction_values, requirements));
    }
    let sealed = state.master_key.seal_json(id.as_bytes(), &values.secrets);
    let endpoints = trigger_endpoints(&manifest, &values.plain);
    let change = InstallationChange {
        version: &manifest.version,
        endpoints: &endpoints,
        settings: &values.plain,
        secrets_sealed: sealed.as_deref(),
        enabled: installation.enabled,
    };
    let sealed: Vec<Option<Vec<u8>>> = reattached
        .iter()
        .map(|(attachment, values, _)| {
            let aad = Attachment::aad(&id, &attachment.interaction_id);
            state.master_key.seal_json(&aad, &values.secrets)
        })
        .collect();
    let rewritten: Vec<NewAttachment> = reattached
        .iter()
        .zip(&sealed)
        .map(|((attachment, values, resolved), sealed)| {
            new_attachment(&id, &attachment.interaction_id, values, sealed, resolved)
        })
        .collect();
    // The installation and its attachments move to the new version together.
    db::extensions::change_installation(&state.db, &scope, &id, &change, &rewritten)
        .await
        .on_unique(attached_already)?;
    crate::delivery::outbox::announce();
    tracing::info!(did = %scope.did(), installation = %id, from = %installation.version,
        to = %manifest.version, "extension upgraded");
    let installation = find(&state, &scope, &id).await?;
    Ok(Json(Upgraded {
        installation: InstallationView::of(&state, &scope, installation).await?,
        added_settings: new.difference(&old).cloned().collect(),
        removed_settings: old.difference(&new).cloned().collect(),
    }))
}

/// The interaction-level values of an attachment under `manifest`: the stored ones it still has,
/// then `given`.
fn attachment_values(
    state: &AppState,
    attachment: &Attachment,
    manifest: &Manifest,
    given: &Map<String, Value>,
) -> Result<SettingValues, ApiError> {
    let aad = Attachment::aad(&attachment.installation.id, &attachment.interaction_id);
    let kept_secrets: Map<String, Value> = state
        .master_key
        .open_json(&aad, attachment.secrets_sealed.as_deref())?
        .into_iter()
        .filter(|(name, _)| !given.contains_key(name))
        .collect();
    let mut merged = attachment.settings.clone();
    merged.retain(|name, _| {
        manifest
            .interaction_settings
            .iter()
            .any(|f| &f.name == name)
    });
    merged.extend(given.clone());
    let builtin = attachment.installation.builtin;
    checked(
        state,
        builtin,
        &manifest.interaction_settings,
        &merged,
        &kept_secrets,
    )
}

/// What an attachment stores besides its settings.
struct Resolved {
    requirements: Vec<NewRequirement>,
    /// SSI OAuth's client id.
    oauth_client_id: Option<String>,
}

/// The manifest's required credentials, with values taken from the settings, as stored ids; for
/// SSI OAuth, its checked client id and the "SSI Authentication" requirement with pre-fill.
async fn resolve_requirements(
    state: &AppState,
    scope: &ServiceScope,
    (installation, manifest): (&Installation, &Manifest),
    installation_values: &SettingValues,
    (interaction_id, attachment): (&str, &SettingValues),
) -> Result<Resolved, ApiError> {
    let settings = crate::domain::extension::merged(manifest, installation_values, attachment);
    let mut resolved = Vec::with_capacity(manifest.required_credentials.len());
    for (index, required) in manifest.required_credentials.iter().enumerate() {
        let field = format!("the extension's required_credentials[{index}]");
        resolved.push(match required {
            RequiredByExtension::Definition {
                credential_definition_id,
            } => {
                let id = credential_definition_id
                    .resolve(&settings)
                    .map_err(invalid)?;
                let definition = required_definition(state, scope, &field, &id).await?;
                NewRequirement::Definition {
                    id: definition.id,
                    prefill_from_qr: false,
                }
            }
            RequiredByExtension::Schema {
                schema_id,
                trusted_issuers,
                only_last,
            } => {
                let json = RequiredSchemaJson {
                    schema_id: schema_id.resolve(&settings).map_err(invalid)?,
                    trusted_issuers: trusted_issuers
                        .iter()
                        .map(|issuer| issuer.resolve(&settings))
                        .collect::<Result<_, _>>()
                        .map_err(invalid)?,
                    only_last: *only_last,
                    added_by: None,
                };
                let requirement = schema_requirement(state, &field, &json).await?;
                NewRequirement::Schema {
                    schema: requirement.schema,
                    trusted_issuers: requirement.trusted_issuers,
                    only_last: requirement.only_last,
                }
            }
        });
    }
    let mut oauth_client_id = None;
    if installation.builtin == Some(Builtin::SsiOauth) {
        let oauth = OAuthSettings::read(&settings).map_err(invalid)?;
        let taken = db::oauth::client_taken(
            &state.db,
            &oauth.client_id,
            &installation.id,
            interaction_id,
        )
        .await?;
        if taken {
            return Err(ApiError::Conflict(format!(
                "the client id {:?} is in use on this server",
                oauth.client_id
            )));
        }
        let mut key = db::keys::get(&state.db, scope, &oauth.signing_key).await?;
        if key.is_none() && oauth.signing_key == oauth::DEFAULT_SIGNING_KEY {
            let new = super::keys::generate_rsa_key_pair(state, oauth.signing_key.clone()).await?;
            match db::keys::insert(&state.db, scope, &new).await {
                // Another attach made it meanwhile: that one is as good.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {}
                result => {
                    result?;
                }
            }
            key = db::keys::get(&state.db, scope, &oauth.signing_key).await?;
        }
        let signs = key.is_some_and(|key| key.kind == db::keys::KeyKind::RsaKeyPair);
        if !signs {
            return Err(ApiError::Validation(format!(
                "setting `signing_key`: the service has no RSA key pair named {:?}",
                oauth.signing_key
            )));
        }
        let definition = match db::oauth::ssi_authentication(&state.db, scope).await? {
            Some(definition) => definition,
            None => create_ssi_authentication(state, scope).await?,
        };
        resolved.push(NewRequirement::Definition {
            id: definition.id,
            prefill_from_qr: true,
        });
        oauth_client_id = Some(oauth.client_id);
    }
    Ok(Resolved {
        requirements: resolved,
        oauth_client_id,
    })
}

/// Makes the service's "SSI Authentication" schema (unless it has one by that name) and a
/// self-attested definition of it.
async fn create_ssi_authentication(
    state: &AppState,
    scope: &ServiceScope,
) -> Result<CredentialDefinition, ApiError> {
    let schema_id = db::schemas::wire_id(scope, oauth::SCHEMA_NAME, oauth::SCHEMA_VERSION)
        .map_err(anyhow::Error::new)?;
    let schema = match db::schemas::get_by_wire_id(&state.db, scope, &schema_id).await? {
        Some(schema) => schema,
        None => {
            let attributes = Attributes::parse(vec![AttributeJson {
                name: oauth::USER_CODE_ATTRIBUTE.into(),
                kind: AttributeKind::Text,
                enum_values: None,
            }])
            .map_err(anyhow::Error::new)?;
            let new = NewSchema {
                name: Name::parse(oauth::SCHEMA_NAME).map_err(anyhow::Error::new)?,
                schema_id,
                attributes,
            };
            db::schemas::insert(&state.db, scope, &new).await?
        }
    };
    let new = NewCredentialDefinition {
        schema_id: schema.id,
        tag: Tag::parse(oauth::DEFINITION_TAG).map_err(anyhow::Error::new)?,
        attestation: Attestation::SelfAttested,
        settings: DefinitionSettings {
            one_off: false,
            public: false,
            check_webhook: None,
            issuers: Vec::new(),
            source_ip_prefixes: SourceIpPrefixes::default(),
        },
    };
    let id = db::credential_definitions::insert(&state.db, scope, &new)
        .await
        .on_unique(|| {
            ApiError::Conflict(format!(
                "the schema {:?} has a definition tagged {:?} that is not a self-attested one \
                 with the attribute {:?}",
                oauth::SCHEMA_NAME,
                oauth::DEFINITION_TAG,
                oauth::USER_CODE_ATTRIBUTE
            ))
        })?;
    tracing::info!(did = %scope.did(), "SSI Authentication credential definition created");
    db::credential_definitions::get(&state.db, scope, &id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("credential definition {id} vanished after insert").into())
}

/// Writes an attachment (`replace`: an existing one) with its sealed secrets.
async fn store_attachment(
    state: &AppState,
    scope: &ServiceScope,
    installation_id: &str,
    interaction_id: &str,
    values: &SettingValues,
    resolved: &Resolved,
    replace: bool,
) -> Result<bool, ApiError> {
    let aad = Attachment::aad(installation_id, interaction_id);
    let sealed = state.master_key.seal_json(&aad, &values.secrets);
    let new = new_attachment(installation_id, interaction_id, values, &sealed, resolved);
    db::extensions::attach(&state.db, scope, &new, replace)
        .await
        .on_unique(attached_already)
}

/// An attachment to write, its secrets sealed as `sealed`.
fn new_attachment<'a>(
    installation_id: &'a str,
    interaction_id: &'a str,
    values: &'a SettingValues,
    sealed: &'a Option<Vec<u8>>,
    resolved: &'a Resolved,
) -> NewAttachment<'a> {
    NewAttachment {
        installation_id,
        interaction_id,
        settings: &values.plain,
        secrets_sealed: sealed.as_deref(),
        requirements: &resolved.requirements,
        oauth_client_id: resolved.oauth_client_id.as_deref(),
    }
}

fn attached_already() -> ApiError {
    ApiError::Conflict(
        "the extension is attached to this interaction already, or its client id is in use".into(),
    )
}

/// The installation's service-level values, opened.
fn installation_values(
    state: &AppState,
    installation: &Installation,
) -> Result<SettingValues, ApiError> {
    Ok(SettingValues {
        plain: installation.settings.clone(),
        secrets: state.master_key.open_json(
            installation.id.as_bytes(),
            installation.secrets_sealed.as_deref(),
        )?,
    })
}

/// The attachments of the scoped service's interaction, as shown.
async fn attachment_views(
    state: &AppState,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
) -> Result<Vec<AttachmentView>, ApiError> {
    let interaction = db::interactions::get(&state.db, scope, interaction_id)
        .await?
        .ok_or_else(|| ApiError::not_found("interaction"))?;
    let attachments = db::extensions::attachments_of(
        &state.db,
        scope,
        AttachedTo::Interaction(interaction_id.as_str()),
    )
    .await?;
    let is_oauth = |a: &Attachment| a.installation.builtin == Some(Builtin::SsiOauth);
    let ssi_authentication = if attachments.iter().any(is_oauth) {
        db::oauth::ssi_authentication(&state.db, scope)
            .await?
            .map(|d| d.credential_id.to_string())
    } else {
        None
    };
    attachments
        .into_iter()
        .map(|attachment| {
            let oauth = is_oauth(&attachment).then(|| OAuthView {
                credential_definition_id: ssi_authentication.clone(),
                client_id: attachment
                    .settings
                    .get("client_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
            let id = attachment.installation.id.clone();
            let added = interaction
                .required
                .iter()
                .filter(|r| r.added_by.as_deref() == Some(id.as_str()))
                .map(|r| r.credential_id.to_string())
                .chain(
                    interaction
                        .required_schemas
                        .iter()
                        .filter(|r| r.added_by.as_deref() == Some(id.as_str()))
                        .map(|r| r.schema_id.to_string()),
                )
                .collect();
            let aad = Attachment::aad(&id, &attachment.interaction_id);
            let secrets = state
                .master_key
                .open_json(&aad, attachment.secrets_sealed.as_deref())?;
            Ok(AttachmentView {
                installation_id: id,
                extension_name: attachment.installation.extension_name,
                version: attachment.installation.version,
                settings: attachment.settings,
                secrets_set: secrets.keys().cloned().collect(),
                added_requirements: added,
                oauth,
                created_at: attachment.created_at,
            })
        })
        .collect()
}

async fn attachment_view(
    state: &AppState,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
    installation_id: &str,
) -> Result<AttachmentView, ApiError> {
    attachment_views(state, scope, interaction_id)
        .await?
        .into_iter()
        .find(|a| a.installation_id == installation_id)
        .ok_or_else(|| ApiError::not_found("attachment"))
}

/// Attach an installed extension to an interaction; its required credentials are added.
#[utoipa::path(post, path = "/api/v1/services/{did}/interactions/{id}/extensions",
    operation_id = "attach_extension", tag = "extensions", security(("bearer" = [])),
    request_body = Attach,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)")),
    responses(
        (status = 201, description = "Attached", body = AttachmentView),
        (status = 400, description = "A required credential the extension names is not on this server", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, interaction or installation", body = ErrorBody),
        (status = 409, description = "Attached already", body = ErrorBody),
        (status = 422, description = "A setting is missing or does not fit", body = ErrorBody)))]
pub async fn attach(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, interaction_id)): Path<(String, InteractionId)>,
    Json(body): Json<Attach>,
) -> Result<(StatusCode, Json<AttachmentView>), ApiError> {
    if !db::interactions::exists(&state.db, &scope, &interaction_id).await? {
        return Err(ApiError::not_found("interaction"));
    }
    let installation = find(&state, &scope, &body.installation_id).await?;
    let manifest = &installation.manifest;
    let values = checked(
        &state,
        installation.builtin,
        &manifest.interaction_settings,
        &body.settings,
        &Map::new(),
    )?;
    let service_values = installation_values(&state, &installation)?;
    let requirements = resolve_requirements(
        &state,
        &scope,
        (&installation, manifest),
        &service_values,
        (interaction_id.as_str(), &values),
    )
    .await?;
    store_attachment(
        &state,
        &scope,
        &installation.id,
        interaction_id.as_str(),
        &values,
        &requirements,
        false,
    )
    .await?;
    tracing::info!(did = %scope.did(), installation = %installation.id,
        interaction = %interaction_id, "extension attached");
    let view = attachment_view(&state, &scope, &interaction_id, &installation.id).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// List the extensions attached to an interaction, in the order their triggers run.
#[utoipa::path(get, path = "/api/v1/services/{did}/interactions/{id}/extensions",
    operation_id = "list_attached_extensions", tag = "extensions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)")),
    responses(
        (status = 200, description = "The attachments", body = Page<AttachmentView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or interaction", body = ErrorBody)))]
pub async fn attached(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, interaction_id)): Path<(String, InteractionId)>,
) -> Result<Json<Page<AttachmentView>>, ApiError> {
    Ok(Json(Page {
        data: attachment_views(&state, &scope, &interaction_id).await?,
        next_cursor: None,
    }))
}

/// Change an attachment's interaction-level settings.
#[utoipa::path(patch, path = "/api/v1/services/{did}/interactions/{id}/extensions/{installation_id}",
    operation_id = "update_attached_extension", tag = "extensions", security(("bearer" = [])),
    request_body = UpdateAttachment,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)"),
        ("installation_id" = String, Path, description = "The installation's id")),
    responses(
        (status = 200, description = "The attachment", body = AttachmentView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, interaction or attachment", body = ErrorBody),
        (status = 422, description = "A setting is missing or does not fit", body = ErrorBody)))]
pub async fn update_attached(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, interaction_id, installation_id)): Path<(String, InteractionId, String)>,
    Json(body): Json<UpdateAttachment>,
) -> Result<Json<AttachmentView>, ApiError> {
    let to = AttachedTo::Interaction(interaction_id.as_str());
    let attachment = db::extensions::attachments_of(&state.db, &scope, to)
        .await?
        .into_iter()
        .find(|a| a.installation.id == installation_id)
        .ok_or_else(|| ApiError::not_found("attachment"))?;
    let manifest = &attachment.installation.manifest;
    let values = attachment_values(&state, &attachment, manifest, &body.settings)?;
    let service_values = installation_values(&state, &attachment.installation)?;
    let requirements = resolve_requirements(
        &state,
        &scope,
        (&attachment.installation, manifest),
        &service_values,
        (interaction_id.as_str(), &values),
    )
    .await?;
    store_attachment(
        &state,
        &scope,
        &installation_id,
        interaction_id.as_str(),
        &values,
        &requirements,
        true,
    )
    .await?;
    Ok(Json(
        attachment_view(&state, &scope, &interaction_id, &installation_id).await?,
    ))
}

/// Detach an extension from an interaction: the credentials it added go, but those the
/// interaction requires on its own.
#[utoipa::path(delete, path = "/api/v1/services/{did}/interactions/{id}/extensions/{installation_id}",
    operation_id = "detach_extension", tag = "extensions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)"),
        ("installation_id" = String, Path, description = "The installation's id")),
    responses(
        (status = 204, description = "Detached"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, interaction or attachment", body = ErrorBody)))]
pub async fn detach(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, interaction_id, installation_id)): Path<(String, InteractionId, String)>,
) -> Result<StatusCode, ApiError> {
    if db::extensions::detach(&state.db, &scope, &installation_id, interaction_id.as_str()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("attachment"))
    }
}
