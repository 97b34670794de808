//! `/api/v1/services/{did}/interactions`: what a holder shares and receives in one event. Each is
//! created with its default instance. Interactions are never deleted (events refer to them): a
//! DELETE answers 409 `interaction_not_deletable`; pause one with `PATCH {"active": false}`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use psi_link::{CredentialDefinitionId, Did, SchemaId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::instances::InstanceView;
use super::page::{Page, list_query};
use super::webhook_config::{self, WebhookInput, WebhookView, nullable};
use crate::db;
use crate::db::credential_definitions::CredentialDefinition;
use crate::db::interactions::{
    Interaction, IssuedCredential, NewInteraction, NewRequiredCredential, NewSchemaRequirement,
    RequiredCredential, SchemaRequirement,
};
use crate::domain::{Attestation, Description, Medium, Name, Parameter, Parameters, WebhookUrl};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, ErrorDetail, ResultExt};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::InteractionId;
use crate::scope::ServiceScope;

/// Most credentials an interaction may require or issue (each list).
const MAX_CREDENTIALS: usize = 50;
/// How long an event waits for the service to issue later, unless the interaction says: a day.
pub const DEFAULT_WAITING_DEADLINE_SECS: i64 = 24 * 60 * 60;
/// The longest an event may wait: 30 days.
const MAX_WAITING_DEADLINE_SECS: i64 = 30 * 24 * 60 * 60;

/// A credential the holder must share.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequiredCredentialJson {
    /// A credential definition, `<DID>:3:CL:<n>:<tag>`: this service's, or another service's on
    /// this server that it keeps public.
    #[schema(example = "GbzPqgnU4XsMs7xg9mYJW8:3:CL:1:default")]
    pub credential_id: String,
    /// A QR link may pre-fill it (self-attested definitions only).
    #[serde(default)]
    pub prefill_from_qr: bool,
    /// Also ask the definition's check webhook (definitions with one only).
    #[serde(default)]
    pub external_verification: bool,
    /// Only the holder's latest credential of this definition counts.
    #[serde(default)]
    pub only_last: bool,
    /// Read only: the installation of the extension that added it (docs/extensions.md). An entry
    /// sent back with it stays the extension's: it is not stored as the interaction's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
}

/// A credential required by schema: a credential of any public definition of the schema, issued
/// by one of the trusted services on this server.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequiredSchemaJson {
    /// A schema of any service on this server, `<DID>:2:<name>:<version>`.
    #[schema(example = "GbzPqgnU4XsMs7xg9mYJW8:2:Diploma:1.0")]
    pub schema_id: String,
    /// DIDs of the services on this server whose credentials of it count: 1 to 20.
    pub trusted_issuers: Vec<String>,
    /// Only the holder's latest credential of the definition presented counts.
    #[serde(default)]
    pub only_last: bool,
    /// Read only: the installation of the extension that added it (docs/extensions.md). An entry
    /// sent back with it stays the extension's: it is not stored as the interaction's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
}

impl From<SchemaRequirement> for RequiredSchemaJson {
    fn from(required: SchemaRequirement) -> Self {
        RequiredSchemaJson {
            schema_id: required.schema_id.to_string(),
            trusted_issuers: required.trusted_issuers,
            only_last: required.only_last,
            added_by: required.added_by,
        }
    }
}

/// Most trusted issuers of one schema requirement.
const MAX_TRUSTED_ISSUERS: usize = 20;

/// A new interaction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInteraction {
    /// Unique per service; 1 to 200 characters, no markup (web pages show it as HTML).
    #[schema(example = "Join the club")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Paused interactions are not listed publicly and do not start.
    #[serde(default = "default_active")]
    #[schema(default = true)]
    pub active: bool,
    /// How holders start it.
    #[serde(default = "default_media")]
    #[schema(default = json!(["QR"]))]
    pub media: Vec<Medium>,
    #[serde(default)]
    pub required_credentials: Vec<RequiredCredentialJson>,
    /// Credentials required by schema and trusted issuers, presented after
    /// `required_credentials`.
    #[serde(default)]
    pub required_schemas: Vec<RequiredSchemaJson>,
    /// Credential ids (`<DID>:3:CL:<n>:<tag>`) of this service it issues.
    #[serde(default)]
    pub issued_credentials: Vec<String>,
    /// The interaction webhook (docs/protocol.md §4.1).
    pub webhook: Option<WebhookInput>,
    /// Parameters of the default instance.
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// Where the start page sends the holder when the interaction completes: an absolute
    /// http(s) URL, e.g. the service's welcome page. Absent: the page stays.
    #[schema(example = "https://shop.example.org/welcome")]
    pub completion_url: Option<String>,
    /// How long an event waits, once the webhook said the service issues later, for
    /// `credentials-issued` or `credentials-issuing-failed`: 1 to 2592000 seconds (30 days).
    /// Then it fails, the holder is told the service did not issue in time, and `event.failed`
    /// is notified. Default 86400 (a day).
    #[schema(default = 86400, example = 86400)]
    pub waiting_deadline_secs: Option<i64>,
}

fn default_active() -> bool {
    true
}

fn default_media() -> Vec<Medium> {
    vec![Medium::Qr]
}

/// New content; absent fields stay, `webhook: null` removes the webhook. Instances change under
/// `/instances`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInteraction {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `false` pauses, `true` activates.
    pub active: Option<bool>,
    pub media: Option<Vec<Medium>>,
    pub required_credentials: Option<Vec<RequiredCredentialJson>>,
    pub required_schemas: Option<Vec<RequiredSchemaJson>>,
    pub issued_credentials: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<WebhookInput>)]
    pub webhook: Option<Option<WebhookInput>>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub completion_url: Option<Option<String>>,
    /// 1 to 2592000 seconds; applies to events already waiting too.
    pub waiting_deadline_secs: Option<i64>,
}

/// An interaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct InteractionView {
    /// Also the wire `actionId`.
    pub id: String,
    pub name: String,
    pub description: String,
    pub active: bool,
    pub media: Vec<Medium>,
    pub required_credentials: Vec<RequiredCredentialJson>,
    pub required_schemas: Vec<RequiredSchemaJson>,
    pub issued_credentials: Vec<String>,
    pub webhook: Option<WebhookView>,
    /// Where the start page sends the holder on completion.
    pub completion_url: Option<String>,
    /// How long an event waits for the service to issue later before it fails.
    pub waiting_deadline_secs: i64,
    /// The default instance first.
    pub instances: Vec<InstanceView>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl From<Interaction> for InteractionView {
    fn from(interaction: Interaction) -> Self {
        InteractionView {
            required_credentials: interaction.required.into_iter().map(Into::into).collect(),
            required_schemas: interaction
                .required_schemas
                .into_iter()
                .map(Into::into)
                .collect(),
            issued_credentials: issued_ids(interaction.issued),
            webhook: interaction.webhook.map(Into::into),
            instances: interaction.instances.into_iter().map(Into::into).collect(),
            id: interaction.id.into(),
            name: interaction.name,
            description: interaction.description,
            active: interaction.active,
            media: interaction.media,
            completion_url: interaction.completion_url,
            waiting_deadline_secs: interaction.waiting_deadline_secs,
            created_at: interaction.created_at,
            updated_at: interaction.updated_at,
        }
    }
}

impl From<RequiredCredential> for RequiredCredentialJson {
    fn from(required: RequiredCredential) -> Self {
        RequiredCredentialJson {
            credential_id: required.credential_id.to_string(),
            prefill_from_qr: required.prefill_from_qr,
            external_verification: required.external_verification,
            only_last: required.only_last,
            added_by: required.added_by,
        }
    }
}

fn issued_ids(issued: Vec<IssuedCredential>) -> Vec<String> {
    issued
        .into_iter()
        .map(|i| i.credential_id.to_string())
        .collect()
}

/// Every field of an interaction as given (or kept), before checking.
struct Fields {
    name: String,
    description: String,
    active: bool,
    media: Vec<Medium>,
    required: Vec<RequiredCredentialJson>,
    required_schemas: Vec<RequiredSchemaJson>,
    issued: Vec<String>,
    webhook: Option<WebhookInput>,
    completion_url: Option<String>,
    waiting_deadline_secs: i64,
}

/// Checks all fields: names and lists (422); credentials of this service that allow what is asked
/// of them, and the webhook's key (400).
async fn check(
    state: &AppState,
    scope: &ServiceScope,
    mut fields: Fields,
) -> Result<NewInteraction, ApiError> {
    // What extensions added is theirs, whoever sends it back.
    fields.required.retain(|r| r.added_by.is_none());
    fields.required_schemas.retain(|r| r.added_by.is_none());
    let name =
        Name::parse(&fields.name).map_err(|e| ApiError::Validation(format!("`name` {e}")))?;
    let description = Description::parse(&fields.description)
        .map_err(|e| ApiError::Validation(format!("`description` {e}")))?;
    crate::domain::check_media(&fields.media).map_err(|e| ApiError::Validation(e.to_string()))?;
    if fields.required.len() + fields.required_schemas.len() > MAX_CREDENTIALS
        || fields.issued.len() > MAX_CREDENTIALS
    {
        return Err(ApiError::Validation(format!(
            "an interaction requires and issues at most {MAX_CREDENTIALS} credentials each"
        )));
    }
    let definitions: HashMap<String, CredentialDefinition> =
        db::credential_definitions::list(&state.db, scope)
            .await?
            .into_iter()
            .map(|d| (d.credential_id.to_string(), d))
            .collect();
    // Other services' public definitions, which an interaction may require (not issue).
    let mut foreign: HashMap<String, CredentialDefinition> = HashMap::new();
    for (index, item) in fields.required.iter().enumerate() {
        let field = format!("required_credentials[{index}]");
        if let Some(found) = foreign_definition(state, scope, &field, &item.credential_id).await? {
            foreign.insert(item.credential_id.clone(), found);
        }
    }
    let mut required: Vec<NewRequiredCredential> = Vec::with_capacity(fields.required.len());
    for (index, item) in fields.required.iter().enumerate() {
        let field = format!("required_credentials[{index}]");
        let definition = match foreign.get(&item.credential_id) {
            Some(found) => found,
            None => definition(scope, &definitions, &field, &item.credential_id)?,
        };
        if required.iter().any(|r| r.definition_id == definition.id) {
            return Err(listed_twice(&field, &item.credential_id));
        }
        if item.prefill_from_qr && definition.attestation != Attestation::SelfAttested {
            return Err(ApiError::BadRequest(format!(
                "`{field}.prefill_from_qr`: only self-attested credentials can be pre-filled, \
                 and {} is service-attested",
                item.credential_id
            )));
        }
        if item.external_verification && definition.check_webhook.is_none() {
            return Err(ApiError::BadRequest(format!(
                "`{field}.external_verification`: credential definition {} has no check webhook",
                item.credential_id
            )));
        }
        required.push(NewRequiredCredential {
            definition_id: definition.id.clone(),
            prefill_from_qr: item.prefill_from_qr,
            external_verification: item.external_verification,
            only_last: item.only_last,
        });
    }
    let mut required_schemas = Vec::with_capacity(fields.required_schemas.len());
    for (index, item) in fields.required_schemas.iter().enumerate() {
        let field = format!("required_schemas[{index}]");
        required_schemas.push(schema_requirement(state, &field, item).await?);
    }
    let mut issued: Vec<String> = Vec::with_capacity(fields.issued.len());
    for (index, credential_id) in fields.issued.iter().enumerate() {
        let field = format!("issued_credentials[{index}]");
        let definition = definition(scope, &definitions, &field, credential_id)?;
        if issued.contains(&definition.id) {
            return Err(listed_twice(&field, credential_id));
        }
        issued.push(definition.id.clone());
    }
    let completion_url = fields
        .completion_url
        .map(|url| {
            WebhookUrl::parse(&url)
                .map(|url| url.as_str().to_owned())
                .map_err(|_| {
                    ApiError::Validation(
                        "`completion_url` must be an absolute http or https URL without a user \
                         name or password"
                            .into(),
                    )
                })
        })
        .transpose()?;
    if !(1..=MAX_WAITING_DEADLINE_SECS).contains(&fields.waiting_deadline_secs) {
        return Err(ApiError::Validation(format!(
            "`waiting_deadline_secs` must be 1 to {MAX_WAITING_DEADLINE_SECS} (30 days)"
        )));
    }
    let webhook = match fields.webhook {
        Some(input) => Some(webhook_config::resolve(state, scope, "webhook", input).await?),
        None => None,
    };
    Ok(NewInteraction {
        name,
        description,
        active: fields.active,
        media: fields.media,
        required,
        required_schemas,
        issued,
        webhook,
        completion_url,
        waiting_deadline_secs: fields.waiting_deadline_secs,
    })
}

/// Checks a requirement by schema given as `field`: a schema of a service on this server, and 1
/// to [`MAX_TRUSTED_ISSUERS`] DIDs of services on this server (400 otherwise).
pub(crate) async fn schema_requirement(
    state: &AppState,
    field: &str,
    item: &RequiredSchemaJson,
) -> Result<NewSchemaRequirement, ApiError> {
    let bad = |message: String| ApiError::BadRequest(format!("`{field}`: {message}"));
    let schema_id: SchemaId = item
        .schema_id
        .parse()
        .map_err(|e| bad(format!("{:?} is not a schema id: {e}", item.schema_id)))?;
    let schema = match service_of(state, schema_id.issuer()).await? {
        Some(owner) => db::schemas::get_by_wire_id(&state.db, &owner, &schema_id).await?,
        None => None,
    }
    .ok_or_else(|| {
        bad(format!(
            "no service on this server has a schema {schema_id}"
        ))
    })?;
    if item.trusted_issuers.is_empty() || item.trusted_issuers.len() > MAX_TRUSTED_ISSUERS {
        return Err(bad(format!(
            "`trusted_issuers` lists 1 to {MAX_TRUSTED_ISSUERS} service DIDs"
        )));
    }
    let mut trusted_issuers: Vec<String> = Vec::with_capacity(item.trusted_issuers.len());
    for did in &item.trusted_issuers {
        if service_of(state, did).await?.is_none() {
            return Err(bad(format!(
                "`trusted_issuers`: {did:?} is not a service on this server, whose credentials \
                 psi could verify"
            )));
        }
        if !trusted_issuers.contains(did) {
            trusted_issuers.push(did.clone());
        }
    }
    Ok(NewSchemaRequirement {
        schema: schema.id,
        trusted_issuers,
        only_last: item.only_last,
    })
}

/// The service whose DID is `did`, when there is one on this server.
async fn service_of(state: &AppState, did: &str) -> Result<Option<ServiceScope>, ApiError> {
    let Ok(did) = did.parse::<Did>() else {
        return Ok(None);
    };
    Ok(db::services::by_did(&state.db, &did)
        .await?
        .map(|(scope, _)| scope))
}

/// The definition `credential_id` of another service on this server, given as `field`, when it
/// names another service's: it must exist and be public (400 otherwise). `None` for the scoped
/// service's own ids and for ids that do not parse, which [`definition`] answers.
async fn foreign_definition(
    state: &AppState,
    scope: &ServiceScope,
    field: &str,
    credential_id: &str,
) -> Result<Option<CredentialDefinition>, ApiError> {
    let Ok(parsed) = credential_id.parse::<CredentialDefinitionId>() else {
        return Ok(None);
    };
    if parsed.issuer() == scope.did().as_str() {
        return Ok(None);
    }
    let unknown = || {
        ApiError::BadRequest(format!(
            "`{field}`: no service on this server publishes a credential definition \
             {credential_id}"
        ))
    };
    let Some(owner) = service_of(state, parsed.issuer()).await? else {
        return Err(unknown());
    };
    match db::credential_definitions::get_by_wire_id(&state.db, &owner, &parsed).await? {
        Some(found) if found.public => Ok(Some(found)),
        Some(_) => Err(ApiError::BadRequest(format!(
            "`{field}`: {credential_id} is a private credential definition of service {}: \
             only its own interactions may require it",
            parsed.issuer()
        ))),
        None => Err(unknown()),
    }
}

/// The scoped service's definition with this wire id, given as `field`.
fn definition<'a>(
    scope: &ServiceScope,
    definitions: &'a HashMap<String, CredentialDefinition>,
    field: &str,
    credential_id: &str,
) -> Result<&'a CredentialDefinition, ApiError> {
    let parsed: CredentialDefinitionId = credential_id.parse().map_err(|e| {
        ApiError::BadRequest(format!(
            "`{field}.credential_id`: {credential_id:?} is not a credential definition id: {e}"
        ))
    })?;
    if parsed.issuer() != scope.did().as_str() {
        return Err(ApiError::BadRequest(format!(
            "`{field}`: {credential_id} belongs to another service; an interaction issues its \
             own service's credentials (it may require other services' public ones)"
        )));
    }
    definitions.get(credential_id).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`{field}`: the service has no credential definition {credential_id}"
        ))
    })
}

/// The credential definition a requirement names as `field`: the service's own, or another
/// service's public one.
pub(crate) async fn required_definition(
    state: &AppState,
    scope: &ServiceScope,
    field: &str,
    credential_id: &str,
) -> Result<CredentialDefinition, ApiError> {
    if let Some(found) = foreign_definition(state, scope, field, credential_id).await? {
        return Ok(found);
    }
    let own: HashMap<String, CredentialDefinition> =
        db::credential_definitions::list(&state.db, scope)
            .await?
            .into_iter()
            .map(|d| (d.credential_id.to_string(), d))
            .collect();
    definition(scope, &own, field, credential_id).cloned()
}

fn listed_twice(field: &str, credential_id: &str) -> ApiError {
    ApiError::Validation(format!("`{field}`: {credential_id} is listed twice"))
}

fn name_taken(new: &NewInteraction) -> ApiError {
    ApiError::Conflict(format!(
        "an interaction named {:?} already exists",
        new.name.as_str()
    ))
}

async fn find(
    state: &AppState,
    scope: &ServiceScope,
    id: &InteractionId,
) -> Result<Interaction, ApiError> {
    db::interactions::get(&state.db, scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("interaction"))
}

/// Create an interaction and its default instance.
#[utoipa::path(post, path = "/api/v1/services/{did}/interactions",
    operation_id = "create_interaction", tag = "interactions",
    security(("bearer" = [])), request_body = CreateInteraction,
    params(("did" = String, Path, description = "The service's public DID")),
    responses(
        (status = 201, description = "Created", body = InteractionView),
        (status = 400, description = "A credential or key that is not this service's or cannot serve", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "Invalid name, lists, webhook (a SHA secret needs `bearer` or `standard_webhooks` auth, `standard_webhooks` a SHA secret) or parameters", body = ErrorBody)))]
pub async fn create(
    scope: ServiceScope,
    State(state): State<AppState>,
    Json(body): Json<CreateInteraction>,
) -> Result<(StatusCode, Json<InteractionView>), ApiError> {
    let parameters =
        Parameters::parse(body.parameters).map_err(|e| ApiError::Validation(e.to_string()))?;
    let fields = Fields {
        name: body.name,
        description: body.description,
        active: body.active,
        media: body.media,
        required: body.required_credentials,
        required_schemas: body.required_schemas,
        issued: body.issued_credentials,
        webhook: body.webhook,
        completion_url: body.completion_url,
        waiting_deadline_secs: body
            .waiting_deadline_secs
            .unwrap_or(DEFAULT_WAITING_DEADLINE_SECS),
    };
    let new = check(&state, &scope, fields).await?;
    let id = db::interactions::insert(&state.db, &scope, &new, &parameters)
        .await
        .on_unique(|| name_taken(&new))?;
    let interaction = find(&state, &scope, &id).await?;
    tracing::info!(did = %scope.did(), interaction = %id, "interaction created");
    Ok((StatusCode::CREATED, Json(interaction.into())))
}

list_query! {
    /// Filters of the interaction list.
    pub struct InteractionQuery {
        /// Only the active (`true`) or the paused (`false`) interactions.
        pub active: Option<bool>,
    }
}

/// List a service's interactions, paused ones included.
#[utoipa::path(get, path = "/api/v1/services/{did}/interactions",
    operation_id = "list_interactions", tag = "interactions", security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), InteractionQuery),
    responses(
        (status = 200, description = "A page of interactions, oldest first", body = Page<InteractionView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "A filter, `limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn list(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(query): Query<InteractionQuery>,
) -> Result<Json<Page<InteractionView>>, ApiError> {
    let paging = query.paging()?;
    let interactions = db::interactions::page(&state.db, &scope, query.active, &paging).await?;
    Ok(Json(Page::cut(&paging, interactions)))
}

/// Get one interaction.
#[utoipa::path(get, path = "/api/v1/services/{did}/interactions/{id}",
    operation_id = "get_interaction", tag = "interactions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)")),
    responses(
        (status = 200, description = "The interaction", body = InteractionView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or interaction", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, InteractionId)>,
) -> Result<Json<InteractionView>, ApiError> {
    Ok(Json(find(&state, &scope, &id).await?.into()))
}

/// Change an interaction: pause or activate it, rename it, change its credentials or webhook.
#[utoipa::path(patch, path = "/api/v1/services/{did}/interactions/{id}",
    operation_id = "update_interaction", tag = "interactions",
    security(("bearer" = [])), request_body = UpdateInteraction,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)")),
    responses(
        (status = 200, description = "The changed interaction", body = InteractionView),
        (status = 400, description = "A credential or key that is not this service's or cannot serve", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or interaction", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "Invalid name, lists or webhook (a SHA secret needs `bearer` or `standard_webhooks` auth, `standard_webhooks` a SHA secret)", body = ErrorBody)))]
pub async fn update(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, InteractionId)>,
    Json(body): Json<UpdateInteraction>,
) -> Result<Json<InteractionView>, ApiError> {
    let current = find(&state, &scope, &id).await?;
    let fields = Fields {
        name: body.name.unwrap_or(current.name),
        description: body.description.unwrap_or(current.description),
        active: body.active.unwrap_or(current.active),
        media: body.media.unwrap_or(current.media),
        required: body
            .required_credentials
            .unwrap_or_else(|| current.required.into_iter().map(Into::into).collect()),
        required_schemas: body.required_schemas.unwrap_or_else(|| {
            current
                .required_schemas
                .into_iter()
                .map(Into::into)
                .collect()
        }),
        issued: body
            .issued_credentials
            .unwrap_or_else(|| issued_ids(current.issued)),
        webhook: body
            .webhook
            .unwrap_or_else(|| current.webhook.map(Into::into)),
        completion_url: body.completion_url.unwrap_or(current.completion_url),
        waiting_deadline_secs: body
            .waiting_deadline_secs
            .unwrap_or(current.waiting_deadline_secs),
    };
    let new = check(&state, &scope, fields).await?;
    if !db::interactions::update(&state.db, &scope, &id, &new)
        .await
        .on_unique(|| name_taken(&new))?
    {
        return Err(ApiError::not_found("interaction"));
    }
    tracing::info!(did = %scope.did(), interaction = %id, active = new.active, "interaction changed");
    Ok(Json(find(&state, &scope, &id).await?.into()))
}

/// Interactions are never deleted: this answers 409 `interaction_not_deletable` (404 if there is
/// no such interaction). Pause it instead.
#[utoipa::path(delete, path = "/api/v1/services/{did}/interactions/{id}",
    operation_id = "delete_interaction", tag = "interactions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)")),
    responses(
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or interaction", body = ErrorBody),
        (status = 409, description = "Always: `interaction_not_deletable`", body = ErrorBody)))]
pub async fn delete(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, InteractionId)>,
) -> Result<Response, ApiError> {
    find(&state, &scope, &id).await?;
    let body = ErrorBody {
        error: ErrorDetail {
            code: "interaction_not_deletable".to_owned(),
            message: "interactions are never deleted; pause it instead (PATCH active=false)"
                .to_owned(),
        },
    };
    Ok((StatusCode::CONFLICT, Json(body)).into_response())
}
