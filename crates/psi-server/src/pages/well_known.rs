//! `/.well-known/apple-app-site-association` and `/.well-known/assetlinks.json`, generated from
//! the `[pages]` configuration, so a deployment on its own links domain can claim
//! `/native/execute/*` for its app: the OS then opens app links in the app, and only falls back
//! to the landing page when the app is missing. Unconfigured: 404.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::error::ApiError;

/// The paths the app claims.
const CLAIMED_PATH: &str = "/native/execute/*";

/// Operating systems fetch these rarely and cache them themselves; an hour keeps proxies light.
const CACHE: HeaderValue = HeaderValue::from_static("public, max-age=3600");

/// `GET /.well-known/apple-app-site-association` (`application/json`, no file extension, as
/// Apple requires).
pub async fn apple_app_site_association(State(state): State<AppState>) -> Response {
    let app_ids = &state.config.pages.ios_app_ids;
    if app_ids.is_empty() {
        return ApiError::NotFound(
            "no iOS app is configured (pages.ios_team_id, pages.ios_bundle_ids)".into(),
        )
        .into_response();
    }
    cached(json!({
        "applinks": {
            "details": [{
                "appIDs": app_ids,
                "components": [{ "/": CLAIMED_PATH, "comment": "interaction links" }],
            }],
        },
    }))
}

/// `GET /.well-known/assetlinks.json`.
pub async fn assetlinks(State(state): State<AppState>) -> Response {
    let Some(app) = &state.config.pages.android else {
        return ApiError::NotFound(
            "no Android app is configured (pages.android_package, pages.android_cert_fingerprints)"
                .into(),
        )
        .into_response();
    };
    cached(json!([{
        "relation": ["delegate_permission/common.handle_all_urls"],
        "target": {
            "namespace": "android_app",
            "package_name": app.package,
            "sha256_cert_fingerprints": app.cert_fingerprints,
        },
    }]))
}

fn cached(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(CACHE_CONTROL, CACHE);
    response
}
