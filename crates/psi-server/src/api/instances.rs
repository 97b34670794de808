//! `/api/v1/services/{did}/interactions/{id}/instances`: the same interaction with different
//! parameters (`actionParams`). Exactly one instance is the default (links that name no instance
//! use it); making another the default moves the mark, and the default cannot be deleted.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::page::{Page, PageQuery};
use crate::db::{self, instances::Instance};
use crate::domain::{Parameter, Parameters};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::{InstanceId, InteractionId};
use crate::scope::ServiceScope;

/// A new instance.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInstance {
    /// Unique names; no markup in names.
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// Make it the interaction's default instance.
    #[serde(default)]
    pub is_default: bool,
}

/// New content; absent fields stay. `is_default: true` makes it the default; the default stops
/// being one only when another instance becomes the default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInstance {
    pub parameters: Option<Vec<Parameter>>,
    pub is_default: Option<bool>,
}

/// An instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceView {
    /// Also the wire instance id (`id` of a link, `actionInstanceId` of a webhook).
    pub id: String,
    pub parameters: Vec<Parameter>,
    pub is_default: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl From<Instance> for InstanceView {
    fn from(instance: Instance) -> Self {
        InstanceView {
            id: instance.id.into(),
            parameters: instance.parameters,
            is_default: instance.is_default,
            created_at: instance.created_at,
            updated_at: instance.updated_at,
        }
    }
}

fn parameters(parameters: Vec<Parameter>) -> Result<Parameters, ApiError> {
    Parameters::parse(parameters).map_err(|e| ApiError::Validation(e.to_string()))
}

async fn find(
    state: &AppState,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
    id: &InstanceId,
) -> Result<Instance, ApiError> {
    db::instances::get(&state.db, scope, interaction_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("instance"))
}

/// Add an instance to an interaction.
#[utoipa::path(post, path = "/api/v1/services/{did}/interactions/{id}/instances",
    operation_id = "create_instance", tag = "interactions",
    security(("bearer" = [])), request_body = CreateInstance,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)")),
    responses(
        (status = 201, description = "Created", body = InstanceView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or interaction", body = ErrorBody),
        (status = 422, description = "Invalid parameters", body = ErrorBody)))]
pub async fn create(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, interaction_id)): Path<(String, InteractionId)>,
    Json(body): Json<CreateInstance>,
) -> Result<(StatusCode, Json<InstanceView>), ApiError> {
    let parameters = parameters(body.parameters)?;
    let instance = db::instances::insert(
        &state.db,
        &scope,
        &interaction_id,
        &parameters,
        body.is_default,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("interaction"))?;
    tracing::info!(did = %scope.did(), interaction = %interaction_id, instance = %instance.id, "instance created");
    Ok((StatusCode::CREATED, Json(instance.into())))
}

/// List an interaction's instances, oldest first (`is_default` marks the default).
#[utoipa::path(get, path = "/api/v1/services/{did}/interactions/{id}/instances",
    operation_id = "list_instances", tag = "interactions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)"),
        PageQuery),
    responses(
        (status = 200, description = "A page of instances, oldest first", body = Page<InstanceView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or interaction", body = ErrorBody),
        (status = 422, description = "`limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn list(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, interaction_id)): Path<(String, InteractionId)>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<InstanceView>>, ApiError> {
    let paging = query.paging()?;
    let instances = db::instances::list(&state.db, &scope, &interaction_id, &paging).await?;
    // Every interaction has a default instance, so an empty page is either past the end or of no
    // interaction.
    if instances.is_empty() && !db::interactions::exists(&state.db, &scope, &interaction_id).await?
    {
        return Err(ApiError::not_found("interaction"));
    }
    Ok(Json(Page::cut(&paging, instances)))
}

/// Get one instance.
#[utoipa::path(get, path = "/api/v1/services/{did}/interactions/{id}/instances/{instance_id}",
    operation_id = "get_instance", tag = "interactions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)"),
        ("instance_id" = String, Path, description = "The instance's id")),
    responses(
        (status = 200, description = "The instance", body = InstanceView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, interaction or instance", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, interaction_id, id)): Path<(String, InteractionId, InstanceId)>,
) -> Result<Json<InstanceView>, ApiError> {
    Ok(Json(
        find(&state, &scope, &interaction_id, &id).await?.into(),
    ))
}

/// Change an instance's parameters, or make it the default.
#[utoipa::path(patch, path = "/api/v1/services/{did}/interactions/{id}/instances/{instance_id}",
    operation_id = "update_instance", tag = "interactions",
    security(("bearer" = [])), request_body = UpdateInstance,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)"),
        ("instance_id" = String, Path, description = "The instance's id")),
    responses(
        (status = 200, description = "The changed instance", body = InstanceView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, interaction or instance", body = ErrorBody),
        (status = 409, description = "`is_default: false` on the default instance", body = ErrorBody),
        (status = 422, description = "Invalid parameters", body = ErrorBody)))]
pub async fn update(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, interaction_id, id)): Path<(String, InteractionId, InstanceId)>,
    Json(body): Json<UpdateInstance>,
) -> Result<Json<InstanceView>, ApiError> {
    let parameters = body.parameters.map(parameters).transpose()?;
    let current = find(&state, &scope, &interaction_id, &id).await?;
    if current.is_default && body.is_default == Some(false) {
        return Err(ApiError::Conflict(
            "an interaction always has a default instance: make another instance the default \
             instead"
                .into(),
        ));
    }
    let make_default = body.is_default == Some(true);
    let updated = db::instances::update(
        &state.db,
        &scope,
        &interaction_id,
        &id,
        parameters.as_ref(),
        make_default,
    )
    .await?;
    if !updated {
        return Err(ApiError::not_found("instance"));
    }
    tracing::info!(did = %scope.did(), interaction = %interaction_id, instance = %id, make_default, "instance changed");
    Ok(Json(
        find(&state, &scope, &interaction_id, &id).await?.into(),
    ))
}

/// Delete an instance other than the default.
#[utoipa::path(delete, path = "/api/v1/services/{did}/interactions/{id}/instances/{instance_id}",
    operation_id = "delete_instance", tag = "interactions", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction's id (`actionId`)"),
        ("instance_id" = String, Path, description = "The instance's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, interaction or instance", body = ErrorBody),
        (status = 409, description = "The default instance cannot be deleted", body = ErrorBody)))]
pub async fn delete(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, interaction_id, id)): Path<(String, InteractionId, InstanceId)>,
) -> Result<StatusCode, ApiError> {
    if !db::instances::delete_non_default(&state.db, &scope, &interaction_id, &id).await? {
        let instance = find(&state, &scope, &interaction_id, &id).await?;
        if instance.is_default {
            return Err(ApiError::Conflict(
                "the default instance cannot be deleted: make another instance the default first"
                    .into(),
            ));
        }
        return Err(ApiError::not_found("instance"));
    }
    tracing::info!(did = %scope.did(), interaction = %interaction_id, instance = %id, "instance deleted");
    Ok(StatusCode::NO_CONTENT)
}
