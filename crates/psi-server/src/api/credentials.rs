//! `/api/v1/services/{did}/credentials`: the credentials the service issued (VC-JWTs), and their
//! revocation.

use axum::extract::State;
use psi_link::CredentialDefinitionId;
use serde::Serialize;
use utoipa::ToSchema;

use super::page::{Page, list_query};
use crate::credentials::Field;
use crate::db::{self, credentials::StoredCredential, now_ms};
use crate::delivery;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::Jti;
use crate::scope::ServiceScope;

list_query! {
    /// Filters of the credential list.
    pub struct CredentialFilter {
        /// Only credentials of this holder (pairwise DID).
        pub holder: Option<String>,
        /// Only credentials of this definition, `<DID>:3:CL:<n>:<tag>`.
        pub definition: Option<String>,
    }
}

/// An issued credential.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    /// The credential's id and revocation handle (its JWT's `jti`).
    pub jti: String,
    /// The definition, `<DID>:3:CL:<n>:<tag>`.
    pub credential_id: String,
    /// The schema, `<DID>:2:<name>:<version>`.
    pub schema_id: String,
    /// The holder's pairwise DID (the JWT's `sub`).
    pub holder_did: String,
    /// The values, in schema order.
    pub attributes: Vec<Field>,
    /// Unix milliseconds.
    pub issued_at: i64,
    /// Unix milliseconds, once revoked.
    pub revoked_at: Option<i64>,
    /// The event that issued it.
    pub event_id: Option<String>,
    /// Unix milliseconds, once the wallet received it.
    pub collected_at: Option<i64>,
}

impl From<StoredCredential> for CredentialView {
    fn from(stored: StoredCredential) -> Self {
        CredentialView {
            jti: stored.jti.into(),
            credential_id: stored.credential_id,
            schema_id: stored.schema_id,
            holder_did: stored.holder_did.into(),
            attributes: stored.attributes,
            issued_at: stored.issued_at,
            revoked_at: stored.revoked_at,
            event_id: stored.event_id.map(Into::into),
            collected_at: stored.collected_at,
        }
    }
}

/// List the credentials the service issued, newest first.
#[utoipa::path(get, path = "/api/v1/services/{did}/credentials", operation_id = "list_credentials",
    tag = "credentials", security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), CredentialFilter),
    responses(
        (status = 200, description = "A page of credentials, newest first", body = Page<CredentialView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "A filter is invalid, or names no definition of the service", body = ErrorBody)))]
pub async fn list(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(filter): Query<CredentialFilter>,
) -> Result<Json<Page<CredentialView>>, ApiError> {
    let paging = filter.paging()?;
    let definition_id = match &filter.definition {
        None => None,
        Some(text) => {
            let unknown = || {
                ApiError::Validation(format!(
                    "`definition`: {text:?} is not a credential definition of this service"
                ))
            };
            let id: CredentialDefinitionId = text.parse().map_err(|_| unknown())?;
            let definition = db::credential_definitions::get_by_wire_id(&state.db, &scope, &id)
                .await?
                .ok_or_else(unknown)?;
            Some(definition.id)
        }
    };
    let found = db::credentials::list(
        &state.db,
        &scope,
        &db::credentials::Filter {
            holder_did: filter.holder.as_deref(),
            definition_id: definition_id.as_deref(),
        },
        &paging,
    )
    .await?;
    Ok(Json(Page::cut(&paging, found)))
}

/// Revoke a credential. Revoking a revoked credential changes nothing.
#[utoipa::path(post, path = "/api/v1/services/{did}/credentials/{jti}/revoke", operation_id = "revoke_credential",
    tag = "credentials", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("jti" = String, Path, description = "The credential's id")),
    responses(
        (status = 200, description = "The credential, revoked", body = CredentialView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or credential", body = ErrorBody)))]
pub async fn revoke(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path(path): Path<(String, Jti)>,
) -> Result<Json<CredentialView>, ApiError> {
    let (_did, jti) = path;
    // The revocation and its notification are stored together.
    let mut tx = state.db.begin().await?;
    let mut due = delivery::Due::default();
    if db::credentials::revoke(&mut *tx, &scope, &jti, now_ms()).await? {
        due = delivery::notify::credentials_revoked(
            &mut tx,
            &scope,
            std::slice::from_ref(&jti),
            None,
        )
        .await?;
        tracing::info!(did = %scope.did(), %jti, "credential revoked");
    }
    tx.commit().await?;
    due.announce();
    let credential = db::credentials::get(&state.db, &scope, &jti)
        .await?
        .ok_or_else(|| ApiError::not_found("credential"))?;
    Ok(Json(credential.into()))
}
