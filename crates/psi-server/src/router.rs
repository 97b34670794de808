//! The application's router: every resource's routes, the OpenAPI document assembled from them,
//! the fallbacks, and the middleware every request passes (CORS, the public read cache, request
//! id and span, timeout, body limit, metrics).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::error::ApiError;
use crate::http::{AppState, health, metrics};
use crate::public::cache;

/// Every documented route: operations endpoints and the management API.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<crate::api::ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::render))
        .merge(crate::api::routes())
        .merge(crate::api::notifications::routes())
        .merge(crate::public::routes())
        .merge(crate::wallet::routes())
        .merge(crate::inbound::routes())
}

/// The OpenAPI document of [`routes`].
pub fn openapi() -> OpenApi {
    routes().split_for_parts().1
}

/// The application: routes, the OpenAPI document, fallbacks and middleware.
pub fn router(state: AppState) -> Router {
    let (routes, openapi) = routes().split_for_parts();
    // Kept as its JSON: the document's tree is megabytes of small allocations for the life of the
    // process, its JSON a fraction of that, and each request would otherwise clone the tree.
    let openapi = axum::body::Bytes::from(
        serde_json::to_vec(&openapi).expect("the OpenAPI document serialises to JSON"),
    );
    let config = Arc::clone(&state.config);
    let public_cache = Arc::new(cache::PublicCache::new(state.db.config_version().clone()));
    let routes = if config.demo {
        routes.merge(crate::demo::receiver::routes())
    } else {
        routes
    };
    routes
        .route(
            "/api/openapi.json",
            get(move || async move { ([(CONTENT_TYPE, "application/json")], openapi.clone()) }),
        )
        .merge(crate::pages::routes(&config.pages))
        .merge(crate::public::oauth::routes())
        .merge(crate::dashboard::routes())
        .fallback(
            |uri: Uri| async move { ApiError::NotFound(format!("no route for {}", uri.path())) },
        )
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // One `layer` call: each call wraps (and boxes) every route once more, which every
        // request then pays for. Outermost first; the public cache answers its hits before the
        // request id, tracing and metrics (it counts them itself), as a cache in front would.
        .layer(
            ServiceBuilder::new()
                .layer(crate::public::cors())
                .layer(axum::middleware::from_fn(private_answers))
                .layer(from_fn_with_state(public_cache, cache::layer))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(config.request_timeout_secs),
                ))
                .layer(DefaultBodyLimit::max(config.max_body_bytes))
                .layer(axum::middleware::from_fn(metrics::track)),
        )
        .with_state(state)
}

/// Answers of the management and wallet APIs are stored by no cache (secrets are shown once, and
/// every answer is the caller's own) and never read by a browser as another content type. The
/// public reads keep their own caching.
async fn private_answers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let private = ["/api/v1/", "/wallet/v1/"]
        .iter()
        .any(|prefix| path.starts_with(prefix));
    let mut response = next.run(request).await;
    if private {
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    }
    response
}

/// The span of one request: method, path (never the query, which may carry tokens) and id.
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = crate::public::source::redact_path(request.uri().path()),
        request_id,
    )
}
