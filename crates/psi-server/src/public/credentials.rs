//! `GET .../credential/id-extended/{credentialId}`: a credential definition with its schema, the
//! shape the pre-filled-credentials page reads (docs/protocol.md §2.1).

use axum::extract::State;
use axum::response::Response;
use psi_link::CredentialDefinitionId;
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::PublicService;
use super::cache::{self, JSON};
use crate::db::public_reads;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::path::Path;

/// A credential definition and its schema.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialExtended {
    pub credential: CredentialInfo,
    pub schema: SchemaInfo,
}

/// The definition.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialInfo {
    /// `<DID>:3:CL:<n>:<tag>`.
    pub credential_id: String,
    /// `<DID>:2:<name>:<version>`.
    pub schema_id: String,
    pub issuer_did: String,
    pub tag: String,
    /// `service` (the service issues it) or `self` (the holder fills it in).
    pub attestation: String,
    /// A holder receives it once only.
    pub one_off: bool,
}

/// The schema.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaInfo {
    pub name: String,
    pub version: String,
    /// `[{name, type, enumValues?: [{name, value}]}]`; type is `text`, `date`, `number`,
    /// `enumeration` or `image`.
    #[schema(value_type = Vec<crate::domain::AttributeJson>)]
    pub attributes: Box<RawValue>,
}

/// A credential definition with its schema.
#[utoipa::path(get, path = "/service-dashboard-backend/service/{serviceDid}/credential/id-extended/{credentialId}",
    operation_id = "credential_id_extended", tag = "public",
    description = "No authentication; CORS; `ETag` and `Cache-Control`. Also served under \
        `/service-backend/v1/service/{serviceDid}/...`.",
    params(
        ("serviceDid" = String, Path, description = "The service's public DID"),
        ("credentialId" = String, Path, description = "`<DID>:3:CL:<n>:<tag>`, issued by this service")),
    responses(
        (status = 200, description = "The definition and its schema", body = CredentialExtended),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 404, description = "No such service or credential definition", body = ErrorBody)))]
pub async fn id_extended(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (_did, credential_id) = path;
    let not_found = || ApiError::not_found("credential definition");
    let credential_id: CredentialDefinitionId = credential_id.parse().map_err(|_| not_found())?;
    let found = public_reads::credential_with_schema(&state.db, &scope, &credential_id)
        .await?
        .ok_or_else(not_found)?;
    let did = scope.did().as_str();
    let extended = CredentialExtended {
        credential: CredentialInfo {
            credential_id: credential_id.as_str().to_owned(),
            schema_id: format!("{did}:2:{}:{}", found.schema_name, found.schema_version),
            issuer_did: did.to_owned(),
            tag: credential_id.tag().to_owned(),
            attestation: found.attestation,
            one_off: found.one_off != 0,
        },
        schema: SchemaInfo {
            name: found.schema_name,
            version: found.schema_version,
            attributes: RawValue::from_string(found.attributes)
                .map_err(|e| anyhow::Error::new(e).context("stored schema attributes"))?,
        },
    };
    let body = serde_json::to_vec(&extended).map_err(anyhow::Error::new)?;
    Ok(cache::respond(JSON, body))
}
