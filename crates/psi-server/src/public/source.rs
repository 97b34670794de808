//! `GET /r/{token}`: the request a sourceURL link points at (docs/protocol.md §2). The app downloads it
//! without credentials; the unguessable token is the authority. One-time links are consumed by
//! the first download.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::Response;

use super::cache::JSON;
use crate::db::link_requests::{self, Taken};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::path::Path;

/// Random bytes in a token: 128 bits.
pub const TOKEN_BYTES: usize = 16;
/// Characters of a token: base64url of [`TOKEN_BYTES`] without padding.
const TOKEN_LEN: usize = 22;

/// The path as logged: a sourceURL token reads pre-filled data, so `/r/<token>` is logged as
/// `/r/{token}`.
pub fn redact_path(path: &str) -> &str {
    if path.starts_with("/r/") {
        "/r/{token}"
    } else {
        path
    }
}

/// What a stored request starts: the interaction (`actionId`).
#[derive(serde::Deserialize)]
struct Started<'a> {
    #[serde(rename = "actionId", borrow)]
    action_id: Option<&'a str>,
}

/// The stored request of a sourceURL link.
#[utoipa::path(get, path = "/r/{token}", operation_id = "link_source", tag = "public",
    description = "No authentication; CORS; never cached. The JSON is the link request \
        (`{\"id\", \"actionId\", \"serviceDid\", \"preparedCredentials\", \"callback\"?}`).",
    params(("token" = String, Path, description = "The token of the link's `sourceURL`")),
    responses(
        (status = 200, description = "The request", content_type = "application/json", body = Object),
        (status = 404, description = "No such link", body = ErrorBody),
        (status = 410, description = "The link has expired, or was one-time and is used", body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let well_formed = token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(ApiError::not_found("link"));
    }
    match link_requests::take(&state.db, &token).await? {
        Taken::Request(json) => {
            // The wallet fetched a link: counted for the dashboard's Overview.
            if let Ok(Started {
                action_id: Some(id),
            }) = serde_json::from_str(&json)
            {
                state.interaction_counts.link_fetch(id);
            }
            let mut response = Response::new(Body::from(json));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, JSON);
            // Pre-filled personal data, and a one-time link must not be replayed from a cache.
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Taken::Expired => Err(ApiError::Gone("this link has expired".into())),
        Taken::Used => Err(ApiError::Gone(
            "this one-time link has already been used".into(),
        )),
        Taken::Unknown => Err(ApiError::not_found("link")),
    }
}
