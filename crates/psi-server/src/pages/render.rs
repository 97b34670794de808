//! Rendering pages: the shared layout and the HTML response.

use std::sync::LazyLock;

use askama::Template;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::assets;

/// What every page's layout links: the versioned stylesheet, script and icon.
#[derive(Debug, Clone)]
pub struct Layout {
    pub theme: String,
    pub css: String,
    pub script: String,
    pub icon: String,
}

/// The layout of every page (the assets' URLs are fixed for the life of the binary).
pub static LAYOUT: LazyLock<Layout> = LazyLock::new(|| Layout {
    theme: assets::THEME_CSS.url(),
    css: assets::CSS.url(),
    script: assets::PAGE_JS.url(),
    icon: assets::ICON.url(),
});

/// A rendered page, never cached: pages carry per-visit sessions or personal data.
pub fn html(page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            [
                (
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "page template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
