//! `/api/v1/services`: tenants. Creating one makes its DID key and its `default` RSA key pair.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::keys::generate_rsa_key_pair;
use super::page::{Page, PageQuery};
use super::validate_name;
use crate::crypto::did::DidKey;
use crate::db::{self, services::NewService};
use crate::http::AppState;
use crate::http::auth::AdminAuth;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::Json;
use crate::http::query::Query;
use crate::scope::ServiceScope;

pub use crate::db::keys::DEFAULT_KEY_NAME;

/// A new service.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateService {
    /// Display name, 1 to 200 characters.
    #[schema(example = "Acme Bank")]
    pub name: String,
}

/// A service.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    /// Public DID: 22 base58 characters, in every path under `/services/{did}`.
    #[schema(example = "GbzPqgnU4XsMs7xg9mYJW8")]
    pub did: String,
    pub name: String,
    /// Base58 Ed25519 public key the DID derives from.
    pub verkey: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<db::services::Service> for ServiceView {
    fn from(service: db::services::Service) -> Self {
        ServiceView {
            did: service.did,
            name: service.name,
            verkey: service.verkey,
            created_at: service.created_at,
        }
    }
}

/// Create a service, with its DID and a `default` RSA key pair.
#[utoipa::path(post, path = "/api/v1/services", operation_id = "create_service", tag = "services",
    security(("bearer" = [])), request_body = CreateService,
    responses(
        (status = 201, description = "Created", body = ServiceView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin token", body = ErrorBody),
        (status = 422, description = "Invalid name", body = ErrorBody)))]
pub async fn create(
    _: AdminAuth,
    State(state): State<AppState>,
    Json(body): Json<CreateService>,
) -> Result<(StatusCode, Json<ServiceView>), ApiError> {
    let name = validate_name("name", &body.name)?;
    let created = create_service(&state, name).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Creates a service named `name` (already validated): its DID key, sealed, and its default RSA
/// key pair, stored together.
pub async fn create_service(
    state: &AppState,
    name: String,
) -> Result<db::services::Service, ApiError> {
    let did_key = DidKey::generate();
    let id = db::new_id();
    let service = NewService {
        did_seed_sealed: state.master_key.seal(id.as_bytes(), did_key.seed.as_ref()),
        id,
        did: did_key.did,
        name,
        verkey: did_key.verkey,
    };
    let default_key = generate_rsa_key_pair(state, DEFAULT_KEY_NAME.to_owned()).await?;
    let created = db::services::create(&state.db, &service, &default_key).await?;
    tracing::info!(did = %service.did, "service created");
    Ok(created)
}

/// List every service.
#[utoipa::path(get, path = "/api/v1/services", operation_id = "list_services", tag = "services",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of services, oldest first", body = Page<ServiceView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin token", body = ErrorBody),
        (status = 422, description = "`limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<ServiceView>>, ApiError> {
    let paging = query.paging()?;
    let services = db::services::list_all(&state.db, &paging).await?;
    Ok(Json(Page::cut(&paging, services)))
}

/// Get one service (admin token, or the service's own token).
#[utoipa::path(get, path = "/api/v1/services/{did}", operation_id = "get_service", tag = "services",
    security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID")),
    responses(
        (status = 200, description = "The service", body = ServiceView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
) -> Result<Json<ServiceView>, ApiError> {
    Ok(Json(db::services::get(&state.db, &scope).await?.into()))
}
