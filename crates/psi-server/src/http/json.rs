//! `Json`: axum's JSON extractor and response, with rejections in our error shape.

use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;

/// A JSON request body or response. Bodies that are not JSON, do not parse, do not fit the type or
/// are too large answer 415, 400, 422 and 413 as [`ApiError`]s.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                "the body must be JSON, with `Content-Type: application/json`".into(),
            ),
            JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest(format!(
                "the body is not valid JSON: {}",
                serde_error(&e).unwrap_or_else(|| e.body_text())
            )),
            JsonRejection::JsonDataError(e) => ApiError::Validation(format!(
                "the body does not fit: {}",
                serde_error(&e).unwrap_or_else(|| e.body_text())
            )),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

/// What serde found, in the body's terms: "`attributes[0].type`: unknown variant `texte`, expected
/// one of ..." without the position in the text (a body is one line more often than not), or
/// `None` when the rejection carries no serde error.
fn serde_error(rejection: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = rejection.source();
    while let Some(error) = source {
        if let Some(found) = error.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>() {
            let inner = found.inner();
            let text = inner.to_string();
            // serde_json appends " at line L column C" whenever it knows the position.
            let text = match text.rfind(" at line ") {
                Some(at) if inner.line() > 0 => text[..at].to_owned(),
                _ => text,
            };
            let path = found.path().to_string();
            return Some(if path == "." {
                text
            } else {
                format!("`{path}`: {text}")
            });
        }
        source = error.source();
    }
    None
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
