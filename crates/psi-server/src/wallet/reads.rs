//! Unsigned wallet reads: a service's verkey, a credential's revocation status, and what the
//! wallet needs to run an interaction.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::db::credential_definitions::CredentialDefinition;
use crate::domain::{Attestation, AttributeJson, Parameter};
use crate::event;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::{InstanceId, InteractionId, Jti};
use crate::public::PublicService;
use crate::public::templates::IssuingAction;

/// A service's DID and the key its credentials are signed with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceKey {
    #[schema(example = "GbzPqgnU4XsMs7xg9mYJW8")]
    pub did: String,
    /// Base58 Ed25519 public key: verifies the service's VC-JWTs.
    pub verkey: String,
}

/// The key that verifies a service's credentials.
#[utoipa::path(get, path = "/wallet/v1/services/{serviceDid}/verkey", operation_id = "wallet_service_verkey",
    tag = "wallet",
    params(("serviceDid" = String, Path, description = "The service's public DID")),
    responses(
        (status = 200, description = "The service's verkey", body = ServiceKey),
        (status = 404, description = "No such service", body = ErrorBody)))]
pub async fn verkey(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
) -> Result<Json<ServiceKey>, ApiError> {
    let service = db::services::get(&state.db, &scope).await?;
    Ok(Json(ServiceKey {
        did: service.did,
        verkey: service.verkey,
    }))
}

/// A credential's revocation state.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialStatus {
    pub jti: String,
    pub revoked: bool,
    /// Unix milliseconds, when revoked.
    pub revoked_at: Option<i64>,
}

/// Whether a credential issued by this server is revoked.
#[utoipa::path(get, path = "/wallet/v1/credentials/{jti}/status", operation_id = "wallet_credential_status",
    tag = "wallet",
    params(("jti" = String, Path, description = "The credential's id (its JWT's `jti`)")),
    responses(
        (status = 200, description = "Its revocation state", body = CredentialStatus),
        (status = 404, description = "Not a credential of this server", body = ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Path(jti): Path<Jti>,
) -> Result<Json<CredentialStatus>, ApiError> {
    let revoked_at = db::credentials::status(&state.db, &jti)
        .await?
        .ok_or_else(|| ApiError::not_found("credential"))?;
    Ok(Json(CredentialStatus {
        jti: jti.into(),
        revoked: revoked_at.is_some(),
        revoked_at,
    }))
}

/// Which instance to run.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstanceQuery {
    /// The instance (a link's `id`); absent: the interaction's default instance.
    #[param(value_type = Option<String>)]
    pub instance: Option<InstanceId>,
}

/// What a wallet needs to run an interaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletInteraction {
    pub service: ServiceInfo,
    pub interaction: InteractionInfo,
    pub instance: InstanceInfo,
    /// What the holder presents, in order.
    pub required: Vec<RequiredInfo>,
    /// What the holder presents after `required`: a credential of each schema from one of its
    /// trusted issuers.
    pub required_schemas: Vec<RequiredSchemaInfo>,
    /// What the interaction may issue.
    pub issued: Vec<IssuedInfo>,
}

/// The service running the interaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceInfo {
    pub did: String,
    pub name: String,
    pub verkey: String,
}

/// The interaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct InteractionInfo {
    #[serde(rename = "actionId")]
    pub action_id: String,
    pub name: String,
    pub description: String,
    pub active: bool,
}

/// The instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceInfo {
    pub id: String,
    pub parameters: Vec<Parameter>,
}

/// A credential the holder must present.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequiredInfo {
    pub credential_id: String,
    pub schema_id: String,
    /// `self`: the holder presents `attributes`; `service`: the holder presents the `jwt` the
    /// service issued.
    pub attestation: Attestation,
    /// A link may pre-fill it; pre-filled values cannot be changed.
    pub prefill_from_qr: bool,
    /// Only the holder's most recent credential of this definition is accepted.
    pub only_last: bool,
    /// The service's credential-check webhook is asked too.
    pub external_verification: bool,
    pub attributes: Vec<AttributeJson>,
    /// The active interactions, of this service or another, that issue it: where a holder who
    /// lacks it gets one.
    pub issued_by: Vec<IssuingAction>,
}

/// A credential required by schema.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequiredSchemaInfo {
    pub schema_id: String,
    /// The services whose credentials of the schema count.
    pub trusted_issuers: Vec<String>,
    /// Only the holder's most recent credential of the definition presented is accepted.
    pub only_last: bool,
    pub attributes: Vec<AttributeJson>,
    /// The active interactions that issue such a credential.
    pub issued_by: Vec<IssuingAction>,
}

/// A credential the interaction may issue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedInfo {
    pub credential_id: String,
    pub schema_id: String,
    pub attributes: Vec<AttributeJson>,
}

/// What the wallet needs to run an interaction.
#[utoipa::path(get, path = "/wallet/v1/services/{serviceDid}/interactions/{actionId}",
    operation_id = "wallet_interaction", tag = "wallet",
    params(
        ("serviceDid" = String, Path, description = "The service's public DID"),
        ("actionId" = String, Path, description = "The interaction"),
        InstanceQuery),
    responses(
        (status = 200, description = "The interaction, its instance and credentials", body = WalletInteraction),
        (status = 404, description = "No such service, interaction or instance", body = ErrorBody),
        (status = 409, description = "The interaction is paused", body = ErrorBody)))]
pub async fn interaction(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
    Path(path): Path<(String, InteractionId)>,
    Query(query): Query<InstanceQuery>,
) -> Result<Json<WalletInteraction>, ApiError> {
    let (_did, action_id) = path;
    let interaction = db::interactions::get_cached(&state.db, &scope, &action_id)
        .await?
        .ok_or_else(|| ApiError::not_found("interaction"))?;
    event::check_active(&interaction)?;
    let instance = event::instance_of(&interaction, query.instance.as_ref())?;
    let service = db::services::get(&state.db, &scope).await?;
    let definitions = event::definitions_for(&state.db, &scope, &interaction).await?;
    let definition = |id: &str| {
        definitions.get(id).ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("an interaction's definition is missing"))
        })
    };
    let required_ids: Vec<&str> = interaction
        .required
        .iter()
        .map(|r| r.definition_id.as_str())
        .collect();
    let issuing = db::public_reads::issuing(&state.db, &required_ids).await?;
    let required = interaction
        .required
        .iter()
        .map(|r| {
            let d = definition(&r.definition_id)?;
            Ok(RequiredInfo {
                credential_id: r.credential_id.to_string(),
                schema_id: d.schema.schema_id.to_string(),
                attestation: d.attestation,
                prefill_from_qr: r.prefill_from_qr,
                only_last: r.only_last,
                external_verification: r.external_verification,
                attributes: d.schema.attributes.to_json(),
                issued_by: IssuingAction::all_of(&issuing, &r.definition_id),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let mut required_schemas = Vec::with_capacity(interaction.required_schemas.len());
    for wanted in &interaction.required_schemas {
        let accepted = db::public_reads::definitions_of_schema(
            &state.db,
            &wanted.schema,
            &wanted.trusted_issuers,
        )
        .await?;
        let accepted: Vec<&str> = accepted.iter().map(String::as_str).collect();
        let issuing = db::public_reads::issuing(&state.db, &accepted).await?;
        required_schemas.push(RequiredSchemaInfo {
            schema_id: wanted.schema_id.to_string(),
            trusted_issuers: wanted.trusted_issuers.clone(),
            only_last: wanted.only_last,
            attributes: wanted.attributes.to_json(),
            issued_by: issuing.into_iter().map(Into::into).collect(),
        });
    }
    let issued = interaction
        .issued
        .iter()
        .map(|i| definition(&i.definition_id).map(issued_info))
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(WalletInteraction {
        service: ServiceInfo {
            did: service.did,
            name: service.name,
            verkey: service.verkey,
        },
        instance: InstanceInfo {
            id: instance.id.to_string(),
            parameters: instance.parameters.clone(),
        },
        interaction: InteractionInfo {
            action_id: interaction.id.into(),
            name: interaction.name,
            description: interaction.description,
            active: interaction.active,
        },
        required,
        required_schemas,
        issued,
    }))
}

fn issued_info(definition: &CredentialDefinition) -> IssuedInfo {
    IssuedInfo {
        credential_id: definition.credential_id.to_string(),
        schema_id: definition.schema.schema_id.to_string(),
        attributes: definition.schema.attributes.to_json(),
    }
}
