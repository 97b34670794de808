//! `/api/v1/services/{did}/credential-definitions`: what a service issues or lets holders attest,
//! `<DID>:3:CL:<n>:<tag>`. Paths name a definition by that wire id (percent-encoded or not: a
//! tag is a plain token, so the id needs no escaping). The schema, tag and attestation are fixed
//! at creation; the rest may change.

use axum::extract::State;
use axum::http::StatusCode;
use psi_link::CredentialDefinitionId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::page::{Page, list_query};
use super::webhook_config::{self, WebhookInput, WebhookView, nullable};
use crate::db::credential_definitions::{
    CredentialDefinition, DefinitionSettings, NewCredentialDefinition,
};
use crate::db::{self, keys::KeyKind};
use crate::domain::{Attestation, SourceIpPrefixes, Tag};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, ResultExt};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::scope::ServiceScope;

/// A new credential definition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCredentialDefinition {
    /// A schema: the wire id (`<DID>:2:<name>:<version>`) of one of the service's own or of
    /// another service's on this server, or the internal id of one of its own.
    #[schema(example = "GbzPqgnU4XsMs7xg9mYJW8:2:Membership:1.0")]
    pub schema: String,
    /// 1 to 64 of `A-Z a-z 0-9 . _ -`; unique per schema.
    #[serde(default = "default_tag")]
    #[schema(default = "default", example = "default")]
    pub tag: String,
    pub attestation: Attestation,
    /// A holder receives it once only.
    #[serde(default)]
    pub one_off: bool,
    /// Other services on this server may require it in their interactions (they verify its
    /// credentials with this service's key); `false` keeps it to this service's own.
    #[serde(default = "default_public")]
    #[schema(default = true)]
    pub public: bool,
    /// Credential-check webhook (docs/protocol.md §4.2), for interactions that use external verification.
    pub check_webhook: Option<WebhookInput>,
    /// Names of the keys that may issue it from outside (docs/protocol.md §4.3): third parties' RSA
    /// public keys or SHA secrets.
    #[serde(default)]
    pub issuers: Vec<String>,
    /// CIDR prefixes inbound issuing calls must come from; empty: any address.
    #[serde(default)]
    #[schema(example = json!(["203.0.113.0/24"]))]
    pub source_ip_prefixes: Vec<String>,
}

fn default_public() -> bool {
    true
}

fn default_tag() -> String {
    "default".to_owned()
}

/// New settings; absent fields stay, `check_webhook: null` removes the webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCredentialDefinition {
    pub one_off: Option<bool>,
    /// `false` is refused while other services' interactions require it.
    pub public: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<WebhookInput>)]
    pub check_webhook: Option<Option<WebhookInput>>,
    pub issuers: Option<Vec<String>>,
    pub source_ip_prefixes: Option<Vec<String>>,
}

/// A credential definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialDefinitionView {
    /// Wire id, `<DID>:3:CL:<n>:<tag>`, for the paths below and interactions.
    #[schema(example = "GbzPqgnU4XsMs7xg9mYJW8:3:CL:1:default")]
    pub credential_id: String,
    /// The schema's wire id.
    pub schema_id: String,
    pub tag: String,
    pub attestation: Attestation,
    pub one_off: bool,
    /// Other services' interactions may require it.
    pub public: bool,
    pub check_webhook: Option<WebhookView>,
    pub issuers: Vec<String>,
    pub source_ip_prefixes: Vec<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl From<CredentialDefinition> for CredentialDefinitionView {
    fn from(definition: CredentialDefinition) -> Self {
        CredentialDefinitionView {
            tag: definition.credential_id.tag().to_owned(),
            credential_id: definition.credential_id.to_string(),
            schema_id: definition.schema.schema_id.to_string(),
            attestation: definition.attestation,
            one_off: definition.one_off,
            public: definition.public,
            check_webhook: definition.check_webhook.map(Into::into),
            issuers: definition.issuers,
            source_ip_prefixes: definition.source_ip_prefixes.to_strings(),
            created_at: definition.created_at,
            updated_at: definition.updated_at,
        }
    }
}

/// Checks the mutable settings against the service's keys.
async fn settings(
    state: &AppState,
    scope: &ServiceScope,
    one_off: bool,
    public: bool,
    check_webhook: Option<WebhookInput>,
    issuers: Vec<String>,
    source_ip_prefixes: &[String],
) -> Result<DefinitionSettings, ApiError> {
    let check_webhook = match check_webhook {
        Some(input) => Some(webhook_config::resolve(state, scope, "check_webhook", input).await?),
        None => None,
    };
    let source_ip_prefixes = SourceIpPrefixes::parse(source_ip_prefixes)
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    let mut unique_issuers: Vec<String> = Vec::with_capacity(issuers.len());
    for (index, name) in issuers.into_iter().enumerate() {
        let field = format!("issuers[{index}]");
        let kind = webhook_config::key_kind(state, scope, &field, &name).await?;
        if kind == KeyKind::RsaKeyPair {
            return Err(ApiError::BadRequest(format!(
                "`{field}`: key {name:?} is one of the service's key pairs; inbound calls are \
                 verified with a third party's RSA public key or a SHA secret"
            )));
        }
        if !unique_issuers.contains(&name) {
            unique_issuers.push(name);
        }
    }
    Ok(DefinitionSettings {
        one_off,
        public,
        check_webhook,
        issuers: unique_issuers,
        source_ip_prefixes,
    })
}

/// Names the interactions found by `requiring_interactions`: the service's own by name.
fn requirers(own: &[String], others: usize) -> String {
    match (own.is_empty(), others) {
        (false, 0) => format!("interactions {own:?}"),
        (true, n) => format!("{n} interaction(s) of other services"),
        (false, n) => format!("interactions {own:?} and {n} of other services"),
    }
}

/// The scoped service's definition named by a path's wire id.
async fn find(
    state: &AppState,
    scope: &ServiceScope,
    credential_id: &str,
) -> Result<CredentialDefinition, ApiError> {
    let not_found = || ApiError::not_found("credential definition");
    let credential_id: CredentialDefinitionId = credential_id.parse().map_err(|_| not_found())?;
    db::credential_definitions::get_by_wire_id(&state.db, scope, &credential_id)
        .await?
        .ok_or_else(not_found)
}

/// Create a credential definition.
#[utoipa::path(post, path = "/api/v1/services/{did}/credential-definitions",
    operation_id = "create_credential_definition", tag = "credential definitions",
    security(("bearer" = [])), request_body = CreateCredentialDefinition,
    params(("did" = String, Path, description = "The service's public DID")),
    responses(
        (status = 201, description = "Created", body = CredentialDefinitionView),
        (status = 400, description = "Unknown schema or key, or a key that cannot serve", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 409, description = "The schema already has a definition with this tag", body = ErrorBody),
        (status = 422, description = "Invalid tag, webhook (a SHA secret needs `bearer` or `standard_webhooks` auth, `standard_webhooks` a SHA secret) or prefixes", body = ErrorBody)))]
pub async fn create(
    scope: ServiceScope,
    State(state): State<AppState>,
    Json(body): Json<CreateCredentialDefinition>,
) -> Result<(StatusCode, Json<CredentialDefinitionView>), ApiError> {
    let tag = Tag::parse(&body.tag).map_err(|e| ApiError::Validation(e.to_string()))?;
    // A service may define credentials of its own schemas or of another service's on this
    // server, so that several issuers vouch for one kind of credential.
    let schema = match body.schema.parse::<psi_link::SchemaId>() {
        Ok(schema_id) => match schema_id.issuer().parse::<psi_link::Did>() {
            Ok(did) => match db::services::by_did(&state.db, &did).await? {
                Some((owner, _)) => {
                    db::schemas::get_by_wire_id(&state.db, &owner, &schema_id).await?
                }
                None => None,
            },
            Err(_) => None,
        },
        Err(_) => db::schemas::get(&state.db, &scope, &body.schema).await?,
    }
    .ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`schema`: neither this service nor another on this server has a schema {:?}",
            body.schema
        ))
    })?;
    let settings = settings(
        &state,
        &scope,
        body.one_off,
        body.public,
        body.check_webhook,
        body.issuers,
        &body.source_ip_prefixes,
    )
    .await?;
    let new = NewCredentialDefinition {
        schema_id: schema.id,
        tag,
        attestation: body.attestation,
        settings,
    };
    let id = db::credential_definitions::insert(&state.db, &scope, &new)
        .await
        .on_unique(|| {
            ApiError::Conflict(format!(
                "schema {} already has a definition tagged {:?}",
                schema.schema_id,
                new.tag.as_str()
            ))
        })?;
    let definition = db::credential_definitions::get(&state.db, &scope, &id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("credential definition {id} vanished after insert"))?;
    tracing::info!(did = %scope.did(), credential = %definition.credential_id, "credential definition created");
    Ok((StatusCode::CREATED, Json(definition.into())))
}

list_query! {
    /// Filters of the credential definition list.
    pub struct DefinitionQuery {
        /// Only definitions of this schema, `<DID>:2:<name>:<version>`.
        pub schema: Option<String>,
    }
}

/// List a service's credential definitions.
#[utoipa::path(get, path = "/api/v1/services/{did}/credential-definitions",
    operation_id = "list_credential_definitions", tag = "credential definitions",
    security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), DefinitionQuery),
    responses(
        (status = 200, description = "A page of definitions, by number", body = Page<CredentialDefinitionView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "A filter, `limit` or `cursor` is invalid, or `schema` names no schema of the service", body = ErrorBody)))]
pub async fn list(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(query): Query<DefinitionQuery>,
) -> Result<Json<Page<CredentialDefinitionView>>, ApiError> {
    let paging = query.paging()?;
    let schema_id = match query.schema.as_deref() {
        Some(text) => Some(schema_named(&state, &scope, text).await?),
        None => None,
    };
    let definitions =
        db::credential_definitions::page(&state.db, &scope, schema_id.as_deref(), &paging).await?;
    Ok(Json(Page::cut(&paging, definitions)))
}

/// The internal id of the scoped service's schema whose wire id is `text`; 422 when it has none.
async fn schema_named(
    state: &AppState,
    scope: &ServiceScope,
    text: &str,
) -> Result<String, ApiError> {
    let schema = match text.parse() {
        Ok(id) => db::schemas::get_by_wire_id(&state.db, scope, &id).await?,
        Err(_) => None,
    };
    let unknown = format!("`schema`: {text:?} is not a schema of this service");
    schema.map(|s| s.id).ok_or(ApiError::Validation(unknown))
}

/// Get one credential definition.
#[utoipa::path(get, path = "/api/v1/services/{did}/credential-definitions/{credential_id}",
    operation_id = "get_credential_definition", tag = "credential definitions",
    security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("credential_id" = String, Path, description = "The wire id, `<DID>:3:CL:<n>:<tag>`")),
    responses(
        (status = 200, description = "The definition", body = CredentialDefinitionView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or definition", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, credential_id)): Path<(String, String)>,
) -> Result<Json<CredentialDefinitionView>, ApiError> {
    Ok(Json(find(&state, &scope, &credential_id).await?.into()))
}

/// Change a credential definition's settings.
#[utoipa::path(patch, path = "/api/v1/services/{did}/credential-definitions/{credential_id}",
    operation_id = "update_credential_definition", tag = "credential definitions",
    security(("bearer" = [])), request_body = UpdateCredentialDefinition,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("credential_id" = String, Path, description = "The wire id, `<DID>:3:CL:<n>:<tag>`")),
    responses(
        (status = 200, description = "The changed definition", body = CredentialDefinitionView),
        (status = 400, description = "Unknown key, or a key that cannot serve", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or definition", body = ErrorBody),
        (status = 409, description = "The check webhook is removed while interactions use it, or the definition made private while other services require it", body = ErrorBody),
        (status = 422, description = "Invalid webhook (a SHA secret needs `bearer` or `standard_webhooks` auth, `standard_webhooks` a SHA secret) or prefixes", body = ErrorBody)))]
pub async fn update(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, credential_id)): Path<(String, String)>,
    Json(body): Json<UpdateCredentialDefinition>,
) -> Result<Json<CredentialDefinitionView>, ApiError> {
    let current = find(&state, &scope, &credential_id).await?;
    let check_webhook = body
        .check_webhook
        .unwrap_or_else(|| current.check_webhook.clone().map(Into::into));
    // The interactions that require it (`true`: those that ask its check webhook).
    let requirers_of = |external_only| {
        db::credential_definitions::requiring_interactions(
            &state.db,
            &scope,
            &current.id,
            external_only,
        )
    };
    if check_webhook.is_none() && current.check_webhook.is_some() {
        let (own, others) = requirers_of(true).await?;
        if !own.is_empty() || others > 0 {
            return Err(ApiError::Conflict(format!(
                "{} verify this credential with its check webhook: turn their external \
                 verification off first",
                requirers(&own, others)
            )));
        }
    }
    let public = body.public.unwrap_or(current.public);
    if current.public && !public {
        let (_, others) = requirers_of(false).await?;
        if others > 0 {
            return Err(ApiError::Conflict(format!(
                "{others} interaction(s) of other services require this credential: it stays \
                 public while they do"
            )));
        }
    }
    let settings = settings(
        &state,
        &scope,
        body.one_off.unwrap_or(current.one_off),
        public,
        check_webhook,
        body.issuers.unwrap_or(current.issuers),
        &body
            .source_ip_prefixes
            .unwrap_or_else(|| current.source_ip_prefixes.to_strings()),
    )
    .await?;
    if !db::credential_definitions::update_settings(&state.db, &scope, &current.id, &settings)
        .await?
    {
        return Err(ApiError::not_found("credential definition"));
    }
    let definition = db::credential_definitions::get(&state.db, &scope, &current.id)
        .await?
        .ok_or_else(|| ApiError::not_found("credential definition"))?;
    tracing::info!(did = %scope.did(), credential = %definition.credential_id, "credential definition changed");
    Ok(Json(definition.into()))
}
