//! Refusals of calls from third parties, in the shape their senders read (docs/protocol.md §4.3
//! `{ok, error?: {message}}`) that is also psi's error shape: `{ok: false, error: {code, message}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::error::ApiError;

/// A call refused, for any reason [`ApiError`] names.
#[derive(Debug)]
pub struct Refusal(pub ApiError);

impl<E: Into<ApiError>> From<E> for Refusal {
    fn from(error: E) -> Self {
        Refusal(error.into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let error = self.0;
        if let ApiError::Internal(cause) = &error {
            tracing::error!(
                error = format!("{cause:#}"),
                "call from a third party failed"
            );
        }
        let status: StatusCode = error.status();
        let body = json!({
            "ok": false,
            "error": {"code": error.code(), "message": error.to_string()},
        });
        (status, axum::Json(body)).into_response()
    }
}
