//! `/api/v1/services/{did}/tokens`: API tokens that reach one service. Admin only; a token is
//! shown once, when created, and stored as a hash.

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::page::{Page, PageQuery};
use super::validate_name;
use crate::db;
use crate::http::AppState;
use crate::http::auth::{AdminAuth, NewServiceToken};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::scope::ServiceScope;

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What the token is for, 1 to 200 characters.
    #[schema(example = "billing backend")]
    pub name: String,
}

/// A token as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; absent while the token is valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

/// A token just created: the only time its text is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: String,
    pub name: String,
    /// The bearer token. Store it now: it cannot be shown again.
    pub token: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<db::tokens::TokenInfo> for TokenView {
    fn from(token: db::tokens::TokenInfo) -> Self {
        TokenView {
            id: token.id,
            name: token.name,
            created_at: token.created_at,
            revoked_at: token.revoked_at,
        }
    }
}

/// Create an API token for a service.
#[utoipa::path(post, path = "/api/v1/services/{did}/tokens", operation_id = "create_token", tag = "tokens",
    security(("bearer" = [])), request_body = CreateToken,
    params(("did" = String, Path, description = "The service's public DID")),
    responses(
        (status = 201, description = "Created; the token is in the answer, once", body = CreatedToken),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin token", body = ErrorBody),
        (status = 404, description = "No such service", body = ErrorBody),
        (status = 422, description = "Invalid name", body = ErrorBody)))]
pub async fn create(
    _: AdminAuth,
    scope: ServiceScope,
    State(state): State<AppState>,
    Json(body): Json<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let name = validate_name("name", &body.name)?;
    let new = NewServiceToken::generate();
    let info = db::tokens::insert(&state.db, &scope, &new.id, &name, &new.secret_sha256).await?;
    tracing::info!(did = %scope.did(), token_id = %info.id, "service token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id: info.id,
            name: info.name,
            token: new.token.expose_secret().to_owned(),
            created_at: info.created_at,
        }),
    ))
}

/// List a service's tokens, revoked ones included.
#[utoipa::path(get, path = "/api/v1/services/{did}/tokens", operation_id = "list_tokens", tag = "tokens",
    security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), PageQuery),
    responses(
        (status = 200, description = "A page of tokens, oldest first", body = Page<TokenView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin token", body = ErrorBody),
        (status = 404, description = "No such service", body = ErrorBody),
        (status = 422, description = "`limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<TokenView>>, ApiError> {
    let paging = query.paging()?;
    let tokens = db::tokens::list(&state.db, &scope, &paging).await?;
    Ok(Json(Page::cut(&paging, tokens)))
}

/// Revoke a token: it stops working at once. Revoking twice is harmless.
#[utoipa::path(delete, path = "/api/v1/services/{did}/tokens/{id}", operation_id = "revoke_token", tag = "tokens",
    security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin token", body = ErrorBody),
        (status = 404, description = "No such service or token", body = ErrorBody)))]
pub async fn revoke(
    _: AdminAuth,
    scope: ServiceScope,
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (_did, id) = path;
    if !db::tokens::revoke(&state.db, &scope, &id).await? {
        return Err(ApiError::not_found("token"));
    }
    tracing::info!(did = %scope.did(), token_id = %id, "service token revoked");
    Ok(StatusCode::NO_CONTENT)
}
