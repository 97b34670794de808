//! Public endpoints the ecosystem already calls (docs/protocol.md §2.1, §4.3): reads for web pages and
//! third parties, without authentication, with CORS and HTTP caching.
//!
//! Paths are served under both base paths in circulation, `/service-dashboard-backend/service/
//! {serviceDid}/...` (documented) and `/service-backend/v1/service/{serviceDid}/...` (the same
//! handlers). The DID in the path is the only authority: [`PublicService`] resolves it to a
//! [`ServiceScope`] and answers 404 for an unknown one. Each read costs that lookup and one query.
//!
//! CORS ([`cors`]) echoes the request's `Origin` with `Access-Control-Allow-Credentials: true` (the web-link
//! library fetches with `credentials: "include"`, which a bare `*` fails) and answers preflights.

pub mod cache;
pub mod credentials;
pub mod keys;
pub mod oauth;
pub mod source;
pub mod templates;

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::ETAG;
use axum::http::request::Parts;
use axum::http::{HeaderName, Method};
use axum::routing::{MethodRouter, get};
use tower_http::cors::{AllowCredentials, AllowHeaders, AllowOrigin, CorsLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::scope::ServiceScope;
use psi_link::Did;

/// What precedes `/service/{serviceDid}` in [`DASHBOARD_BASE`]: the `containerPrefix` the
/// interaction webhook names, after psi's public URL.
pub const CONTAINER_PREFIX: &str = "/service-dashboard-backend";
/// The documented base path of per-service public reads.
pub const DASHBOARD_BASE: &str = "/service-dashboard-backend/service/{serviceDid}";
/// The other base path in circulation; same handlers.
pub const BACKEND_BASE: &str = "/service-backend/v1/service/{serviceDid}";

/// The public routes ([`cors`] is applied around the whole application, so that it also answers
/// preflights, which reach no route).
pub fn routes() -> OpenApiRouter<AppState> {
    let aliases: [(&str, MethodRouter<AppState>); 3] = [
        ("/info/action-templates", get(templates::action_templates)),
        (
            "/credential/id-extended/{credentialId}",
            get(credentials::id_extended),
        ),
        ("/public-info/public-key/{name}", get(keys::get)),
    ];
    let mut router = OpenApiRouter::new()
        .routes(routes!(templates::action_templates))
        .routes(routes!(templates::action_instances))
        .routes(routes!(credentials::id_extended))
        .routes(routes!(keys::get))
        .routes(routes!(source::get));
    for (suffix, handler) in aliases {
        router = router.route(&format!("{BACKEND_BASE}{suffix}"), handler);
    }
    router
}

/// Whether a path is one of the public endpoints', which browsers may read cross-origin.
pub(crate) fn is_public(path: &str) -> bool {
    ["/service-dashboard-backend/", "/service-backend/", "/r/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// Whether browsers may call a path from any page: the public reads and SSI OAuth's endpoints.
fn cross_origin(path: &str) -> bool {
    is_public(path) || oauth::is_oauth(path)
}

/// CORS for the public endpoints: echo the origin and allow credentials; preflight answers are
/// cached by browsers for a day. Other paths get no `Access-Control-Allow-*` answer, so browsers
/// keep the management API to itself.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|_, request| {
            cross_origin(request.uri.path())
        }))
        .allow_credentials(AllowCredentials::predicate(|_, request| {
            cross_origin(request.uri.path())
        }))
        // POST: SSI OAuth's endpoints, which `ssi-auth-lib` calls from the page.
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS, Method::POST])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([ETAG, HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(24 * 60 * 60))
}

/// The service named by the path's `{serviceDid}`; an unknown or malformed DID answers 404.
#[derive(Debug)]
pub struct PublicService(pub ServiceScope);

impl FromRequestParts<AppState> for PublicService {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let did = crate::http::path::param(parts, state, "serviceDid").await?;
        let not_found = || ApiError::not_found("service");
        let did: Did = did.parse().map_err(|_| not_found())?;
        db::services::scope_for_did(&state.db, &did)
            .await?
            .map(PublicService)
            .ok_or_else(not_found)
    }
}
