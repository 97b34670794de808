//! Liveness and readiness probes.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiError;
use super::json::Json;

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The server runs", body = Status)))]
pub async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// The server can serve requests: its database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "The database answers", body = Status),
    (status = 503, description = "The database does not answer", body = super::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    match state.db.ping().await {
        Ok(()) => Ok(Json(Status { status: "ready" })),
        Err(error) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "readiness: database unreachable"
            );
            Err(ApiError::Unavailable("the database does not answer".into()))
        }
    }
}
