//! Pages that say what went wrong: a status, a title and a message for people, never a stack
//! trace or an internal error text.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::render::{LAYOUT, Layout, html};
use crate::http::error::ApiError;

/// An error page.
#[derive(Debug, Template)]
#[template(path = "problem.html")]
pub struct Problem {
    status: StatusCode,
    layout: &'static Layout,
    title: &'static str,
    message: String,
    hint: Option<&'static str>,
}

impl Problem {
    fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Problem {
            status,
            layout: &LAYOUT,
            title,
            message: message.into(),
            hint: None,
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", message)
    }

    /// 409: the interaction exists but is paused.
    pub fn paused() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Not available right now",
            "This interaction is paused by the service.",
        )
        .with_hint("Try again later, or ask the service when it is available again.")
    }

    /// 400: something in the address is wrong; the message names it.
    pub fn bad_request(title: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, title, message)
    }

    /// A hint below the message.
    pub fn with_hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }
}

impl From<ApiError> for Problem {
    /// Client errors keep their message (it names the parameter at fault); server errors are
    /// logged and shown as a plain apology.
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::NotFound(message) => Self::not_found(capitalise(&message)),
            ApiError::Conflict(message) => {
                Self::new(StatusCode::CONFLICT, "Not available right now", message)
            }
            ApiError::BadRequest(message) | ApiError::Validation(message) => {
                Self::bad_request("This link is not valid", message)
            }
            ApiError::Gone(message) => Self::new(StatusCode::GONE, "No longer available", message),
            ApiError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "Please try again in a moment.",
            ),
            other => {
                if let ApiError::Internal(cause) = &other {
                    tracing::error!(error = format!("{cause:#}"), "page failed");
                }
                Self::new(
                    other.status(),
                    "Something went wrong",
                    "Please try again in a moment.",
                )
            }
        }
    }
}

/// `message` as a sentence: a capital first letter and a full stop.
pub(super) fn capitalise(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = html(&self);
        *response.status_mut() = status;
        response
    }
}
