//! `Path`: axum's path-parameter extractor with rejections in our error shape, and [`param`] for
//! extractors that read one parameter by name.
//!
//! A parameter that does not decode (`%FF`, `%C3%28`: not UTF-8) is the client's mistake: 400.
//! A route without the parameter an extractor needs is a bug: 500.

#![allow(clippy::disallowed_types)] // the one place that wraps axum's extractors

use axum::extract::rejection::{PathRejection, RawPathParamsRejection};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use super::error::ApiError;

/// Path parameters, like `axum::extract::Path`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        rejection_error(rejection.status(), rejection.body_text())
    }
}

impl From<RawPathParamsRejection> for ApiError {
    fn from(rejection: RawPathParamsRejection) -> Self {
        rejection_error(rejection.status(), rejection.body_text())
    }
}

fn rejection_error(status: axum::http::StatusCode, text: String) -> ApiError {
    if status.is_client_error() {
        ApiError::BadRequest(text)
    } else {
        ApiError::Internal(anyhow::anyhow!("path parameters: {text}"))
    }
}

/// The decoded value of the path parameter `name`.
pub async fn param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state).await?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("route without {{{name}}}")))
}
