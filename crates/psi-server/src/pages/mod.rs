//! The web pages around links (docs/protocol.md §2–3): the start-interaction page, the app-link landing
//! page, the app-site association files, the embed library and the files they use.
//!
//! Pages are askama templates under `templates/` (checked at compile time, HTML-escaped by
//! default); styles and scripts are files under `assets/`, embedded in the binary, so the
//! Content-Security-Policy ([`security`]) forbids inline scripts. Errors are pages too
//! ([`problem`]): a status, a title and a message, never an internal error text.
//!
//! The embed (`/embed/psi.js`) renders in the host page's DOM from `link.json`, which answers
//! CORS for `pages.embed_origins` (any origin when empty); no page may be framed.

pub mod assets;
pub mod callback;
pub mod config;
mod landing;
pub(crate) mod problem;
mod qr;
pub(crate) mod render;
pub mod security;
pub mod session;
pub(crate) mod start;
pub mod status;
mod well_known;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::http::AppState;
pub use start::StartQuery;

/// The pages' routes, with their security headers.
pub fn routes(pages: &config::PagesConfig) -> Router<AppState> {
    let embed = Router::new()
        .route(
            "/s/{serviceDid}/{interactionId}/link.json",
            get(start::link_json),
        )
        .route(
            "/s/{serviceDid}/{interactionId}/status/{session}",
            get(status::stream),
        )
        .layer(embed_cors(pages));
    Router::new()
        .route(
            "/s/{serviceDid}/{interactionId}/start.html",
            get(start::page),
        )
        .merge(embed)
        .route("/native/execute/{*payload}", get(landing::page))
        .route(
            "/.well-known/apple-app-site-association",
            get(well_known::apple_app_site_association),
        )
        .route("/.well-known/assetlinks.json", get(well_known::assetlinks))
        .route("/assets/{name}", get(assets::get))
        .route("/embed/psi.js", get(assets::embed))
        .layer(axum::middleware::from_fn(security::headers))
}

/// The embed's reads answer CORS for the configured origins (any when none is configured),
/// without credentials: they need no cookie.
fn embed_cors(pages: &config::PagesConfig) -> CorsLayer {
    let origins = if pages.embed_origins.is_empty() {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            pages
                .embed_origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET])
        .max_age(Duration::from_secs(24 * 60 * 60))
}
