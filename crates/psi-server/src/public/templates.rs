//! `GET .../info/action-templates` (the service's active interactions) and
//! `GET /service-dashboard-backend/{serviceDid}/info/action-instances/{interactionId}` (one
//! interaction's instances), in the shapes existing web pages read (docs/protocol.md §2.1): every id a
//! JSON string, every entry with `media`, `predicates` and at least one `actionInstances` entry.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::PublicService;
use super::cache::{self, JSON};
use crate::db::public_reads::{self, ActiveInteraction, Instance, Issuing, SchemaRequired};
use crate::domain::Medium;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::path::Path;
use crate::ids::InteractionId;

/// An interaction as web pages read it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionTemplate {
    /// The interaction id.
    pub action_id: String,
    pub action_name: String,
    pub description: String,
    /// How holders start it: `{"type":"QR"}` (links and QR codes), `{"type":"PUSH"}`.
    pub media: Vec<MediaEntry>,
    /// Credential ids the holder shares, in order.
    pub credentials_required: Vec<String>,
    /// Credential ids the holder receives, in order.
    pub credentials_issued: Vec<String>,
    /// One per required credential.
    pub predicates: Vec<Predicate>,
    /// Credentials required by schema from trusted services (psi); absent when none are, so the
    /// shape pages read is unchanged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schemas_required: Vec<SchemaPredicate>,
    /// The default instance first; never empty.
    pub action_instances: Vec<ActionInstance>,
}

/// One medium.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaEntry {
    #[serde(rename = "type")]
    pub kind: Medium,
}

/// A required credential and how it is asked for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Predicate {
    pub credential_id: String,
    /// A link's `preparedCredentials` may pre-fill it (self-attested definitions only).
    #[serde(rename = "fromActionQRCode")]
    pub from_action_qr_code: bool,
    /// Only the holder's latest credential of this definition counts.
    pub only_last: bool,
    /// The attribute names the holder shares (all of the schema's).
    pub fields: Vec<String>,
    /// The active interactions, of this service or another, that issue it: where a holder who
    /// lacks it gets one. Absent when none does, so the shape pages read is unchanged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issued_by: Vec<IssuingAction>,
}

/// A credential required by schema: one of the schema's public definitions, issued by one of
/// the trusted services.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaPredicate {
    pub schema_id: String,
    pub trusted_issuers: Vec<String>,
    pub only_last: bool,
    /// The attribute names the holder shares.
    pub fields: Vec<String>,
    /// The active interactions that issue such a credential.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issued_by: Vec<IssuingAction>,
}

/// An interaction that issues a credential.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuingAction {
    pub service_did: String,
    pub service_name: String,
    pub action_id: String,
    pub action_name: String,
    /// Its default instance (a link's `id`).
    pub action_instance_id: String,
}

impl IssuingAction {
    /// Those of `issuing` that issue the definition `definition_id`.
    pub fn all_of(issuing: &[Issuing], definition_id: &str) -> Vec<IssuingAction> {
        issuing
            .iter()
            .filter(|i| i.definition_id == definition_id)
            .cloned()
            .map(Into::into)
            .collect()
    }
}

impl From<Issuing> for IssuingAction {
    fn from(issuing: Issuing) -> Self {
        IssuingAction {
            service_did: issuing.service_did,
            service_name: issuing.service_name,
            action_id: issuing.interaction_id.into(),
            action_name: issuing.interaction_name,
            action_instance_id: issuing.instance_id.into(),
        }
    }
}

/// An interaction instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionInstance {
    /// The instance id (a link's `id`).
    pub id: String,
    /// `[{name, value}]`.
    #[schema(value_type = Vec<crate::domain::Parameter>)]
    pub parameters: Box<RawValue>,
}

/// The service's active interactions.
#[utoipa::path(get, path = "/service-dashboard-backend/service/{serviceDid}/info/action-templates",
    operation_id = "action_templates", tag = "public",
    description = "No authentication; CORS; `ETag` and `Cache-Control`. Paused interactions are \
        not listed. Also served under `/service-backend/v1/service/{serviceDid}/...`.",
    params(("serviceDid" = String, Path, description = "The service's public DID")),
    responses(
        (status = 200, description = "Active interactions, oldest first", body = Vec<ActionTemplate>),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 404, description = "No such service", body = ErrorBody)))]
pub async fn action_templates(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let interactions = public_reads::active_interactions(&state.db, &scope).await?;
    let required: Vec<&str> = interactions
        .iter()
        .flat_map(|i| &i.credentials)
        .filter(|c| c.required)
        .map(|c| c.definition_id.as_str())
        .collect();
    let issuing = public_reads::issuing(&state.db, &required).await?;
    let mut by_schema = Vec::new();
    for wanted in public_reads::schemas_required(&state.db, &scope).await? {
        by_schema.push((
            wanted.interaction_id.clone(),
            schema_predicate(&state, wanted).await?,
        ));
    }
    let templates = interactions
        .into_iter()
        // Every interaction is created with its default instance; pages need at least one.
        .filter(|interaction| !interaction.instances.is_empty())
        .map(|interaction| {
            let id = interaction.id.clone();
            let mut template = template(interaction, &issuing)?;
            template.schemas_required = by_schema
                .iter()
                .filter(|(of, _)| *of == id)
                .map(|(_, predicate)| predicate.clone())
                .collect();
            Ok(template)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let body = serde_json::to_vec(&templates).map_err(anyhow::Error::new)?;
    Ok(cache::respond(JSON, body))
}

/// The instances of an active interaction, as in `actionInstances` of `info/action-templates`.
#[utoipa::path(get, path = "/service-dashboard-backend/{serviceDid}/info/action-instances/{interactionId}",
    operation_id = "action_instances", tag = "public",
    description = "The path the public web-link library builds. No authentication; CORS; `ETag` \
        and `Cache-Control`.",
    params(
        ("serviceDid" = String, Path, description = "The service's public DID"),
        ("interactionId" = String, Path, description = "The interaction id (`actionId`)")),
    responses(
        (status = 200, description = "The instances, default first", body = Vec<ActionInstance>),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 404, description = "No such service, or no such active interaction", body = ErrorBody)))]
pub async fn action_instances(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
    Path(path): Path<(String, InteractionId)>,
) -> Result<Response, ApiError> {
    let (_did, interaction_id) = path;
    let instances = public_reads::active_instances(&state.db, &scope, &interaction_id).await?;
    if instances.is_empty() {
        return Err(ApiError::not_found("interaction"));
    }
    let instances = instances
        .into_iter()
        .map(action_instance)
        .collect::<Result<Vec<_>, _>>()?;
    let body = serde_json::to_vec(&instances).map_err(anyhow::Error::new)?;
    Ok(cache::respond(JSON, body))
}

fn template(
    interaction: ActiveInteraction,
    issuing: &[Issuing],
) -> Result<ActionTemplate, ApiError> {
    let media: Vec<Medium> = decode(&interaction.media)?;
    let mut credentials_required = Vec::new();
    let mut credentials_issued = Vec::new();
    let mut predicates = Vec::new();
    for credential in interaction.credentials {
        let credential_id = format!(
            "{}:3:CL:{}:{}",
            credential.issuer_did, credential.seq, credential.tag
        );
        if !credential.required {
            credentials_issued.push(credential_id);
            continue;
        }
        let attributes: Vec<AttributeName> = decode(&credential.attributes)?;
        credentials_required.push(credential_id.clone());
        predicates.push(Predicate {
            credential_id,
            from_action_qr_code: credential.prefill_from_qr,
            only_last: credential.only_last,
            fields: attributes.into_iter().map(|a| a.name).collect(),
            issued_by: IssuingAction::all_of(issuing, &credential.definition_id),
        });
    }
    Ok(ActionTemplate {
        action_id: interaction.id.into(),
        action_name: interaction.name,
        description: interaction.description,
        media: media.into_iter().map(|kind| MediaEntry { kind }).collect(),
        credentials_required,
        credentials_issued,
        predicates,
        schemas_required: Vec::new(),
        action_instances: interaction
            .instances
            .into_iter()
            .map(action_instance)
            .collect::<Result<_, _>>()?,
    })
}

/// A requirement by schema as pages read it, with the interactions that issue what it accepts.
async fn schema_predicate(
    state: &AppState,
    wanted: SchemaRequired,
) -> Result<SchemaPredicate, ApiError> {
    let trusted_issuers: Vec<String> = decode(&wanted.trusted_issuers)?;
    let attributes: Vec<AttributeName> = decode(&wanted.attributes)?;
    let accepted =
        public_reads::definitions_of_schema(&state.db, &wanted.schema, &trusted_issuers).await?;
    let accepted: Vec<&str> = accepted.iter().map(String::as_str).collect();
    let issuing = public_reads::issuing(&state.db, &accepted).await?;
    Ok(SchemaPredicate {
        schema_id: format!("{}:2:{}:{}", wanted.schema_did, wanted.name, wanted.version),
        trusted_issuers,
        only_last: wanted.only_last != 0,
        fields: attributes.into_iter().map(|a| a.name).collect(),
        issued_by: issuing.into_iter().map(Into::into).collect(),
    })
}

fn action_instance(instance: Instance) -> Result<ActionInstance, ApiError> {
    Ok(ActionInstance {
        id: instance.id.into(),
        parameters: RawValue::from_string(instance.parameters)
            .map_err(|e| anyhow::Error::new(e).context("stored instance parameters"))?,
    })
}

/// An attribute's name, the rest of the stored attribute skipped unread.
#[derive(serde::Deserialize)]
struct AttributeName {
    name: String,
}

/// Reads a JSON column; stored JSON that does not parse is a server error.
fn decode<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, ApiError> {
    serde_json::from_str(json)
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored JSON column")))
}
