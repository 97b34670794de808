//! What every dashboard form does around the management API handler it calls: refuse a viewer
//! before anything runs, then either redirect (the API took it) or show the form again with the
//! API's refusal. One copy, so that every screen answers a refusal with the same status.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::session::SignedIn;
use super::{DashboardError, Nav};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::pages::render::html;

/// The frame of a page of service `did` whose form changes something: a viewer is refused.
pub(super) async fn editing(
    state: &AppState,
    signed_in: &SignedIn,
    did: &str,
    section: &'static str,
) -> Result<Nav, DashboardError> {
    let nav = Nav::of(state, signed_in, did, section).await?;
    nav.can_edit()?;
    Ok(nav)
}

/// A form's input the API refused, to show in the form: 409 for a conflict, 422 for the rest of
/// what the person can correct.
pub(super) struct Refused {
    pub(super) status: StatusCode,
    pub(super) message: String,
}

/// Anything but a refusal the form can show is not the form's fault and becomes an error page.
pub(super) fn refused(error: ApiError) -> Result<Refused, DashboardError> {
    let status = match &error {
        ApiError::Conflict(_) => StatusCode::CONFLICT,
        ApiError::Validation(_) | ApiError::BadRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => return Err(error.into()),
    };
    Ok(Refused {
        status,
        message: error.to_string(),
    })
}

/// A request body for an API handler, from JSON the form's fields make; a shape the API's types
/// refuse is refused like the API refuses a body.
pub(super) fn body<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| ApiError::Validation(format!("the form does not fit: {e}")))
}

/// What API handler `handler` answers to the request body `json` makes: a body the API's types
/// refuse is refused as the API refuses one, without a call.
pub(super) async fn call<T: DeserializeOwned, R>(
    json: Value,
    handler: impl AsyncFnOnce(T) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    handler(body(json)?).await
}

/// Where a form that worked leads (303, so that a reload does not post again).
pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A page shown with `status`: a form again, with what the API refused.
pub(super) fn again(status: StatusCode, page: &impl Template) -> Response {
    (status, html(page)).into_response()
}

/// The answer to a form: to `to` when the API took it, else the page `page` makes with the
/// API's message, under the refusal's status.
pub(super) async fn answer<P: Template>(
    result: Result<(), ApiError>,
    to: &str,
    page: impl AsyncFnOnce(String) -> Result<P, DashboardError>,
) -> Result<Response, DashboardError> {
    match result {
        Ok(()) => Ok(see_other(to)),
        Err(error) => {
            let Refused { status, message } = refused(error)?;
            Ok(again(status, &page(message).await?))
        }
    }
}
