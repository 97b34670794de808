//! Static files embedded in the binary: the pages' stylesheet, script and icon, and the embed
//! library.
//! Each has a strong `ETag` (computed once) and answers `304` to a matching `If-None-Match`.
//!
//! Pages link them as `/assets/<name>?v=<tag>`: a new build changes the URL, so the versioned URL
//! may be cached for a year. `/embed/psi.js` sits on other sites without a version, so caches
//! keep it five minutes and then revalidate.

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::RawQuery;
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use headers::{ETag, HeaderMapExt, IfNoneMatch};
use sha2::{Digest, Sha256};

use crate::http::path::Path;

use super::problem::Problem;

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// `"<base64url of the first 12 bytes of SHA-256>"`.
    etag: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        let digest = Sha256::digest(bytes);
        Asset {
            name,
            content_type,
            bytes,
            etag: format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..12])),
        }
    }

    /// The versioned URL pages link: `/assets/<name>?v=<tag>`.
    pub fn url(&self) -> String {
        format!("/assets/{}?v={}", self.name, self.etag.trim_matches('"'))
    }

    /// `200` with the bytes, or `304` when the client holds them.
    fn respond(&self, request: &HeaderMap, cache_control: &'static str) -> Response {
        let etag: ETag = self
            .etag
            .parse()
            .expect("a quoted base64url tag is an ETag");
        let fresh = request
            .typed_get::<IfNoneMatch>()
            .is_some_and(|condition| !condition.precondition_passes(&etag));
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut response = Response::new(Body::from(self.bytes));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
            response
        };
        let headers = response.headers_mut();
        headers.typed_insert(etag);
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache_control));
        response
    }
}

/// The palette and type every page shares, linked before its own stylesheet.
pub static THEME_CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "theme.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/theme.css"),
    )
});
/// The stylesheet of every page.
pub static CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "psi.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/psi.css"),
    )
});
/// The script of every page: copy buttons and the live status.
pub static PAGE_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "page.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/page.js"),
    )
});
/// The pages' icon.
pub static ICON: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icon.svg"),
    )
});
/// The dashboard's stylesheet.
pub static DASHBOARD_CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "dashboard.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/dashboard.css"),
    )
});
/// The dashboard's script: pop-ups, copy buttons.
pub static DASHBOARD_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/dashboard.js"),
    )
});
/// The embed library, `/embed/psi.js`.
pub static EMBED_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "psi.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/psi.js"),
    )
});

const VERSIONED: &str = "public, max-age=31536000, immutable";
const UNVERSIONED: &str = "public, max-age=300";

/// `GET /assets/{name}`.
pub async fn get(Path(name): Path<String>, query: RawQuery, headers: HeaderMap) -> Response {
    let Some(asset) = [
        &*THEME_CSS,
        &*CSS,
        &*PAGE_JS,
        &*ICON,
        &*EMBED_JS,
        &*DASHBOARD_CSS,
        &*DASHBOARD_JS,
    ]
    .into_iter()
    .find(|asset| asset.name == name) else {
        return Problem::not_found("There is no such file.").into_response();
    };
    let versioned = query.0.is_some_and(|q| q.starts_with("v="));
    asset.respond(&headers, if versioned { VERSIONED } else { UNVERSIONED })
}

/// `GET /embed/psi.js`: loadable from any site (`<script src>`, also with `crossorigin` and
/// subresource integrity).
pub async fn embed(headers: HeaderMap) -> Response {
    let mut response = EMBED_JS.respond(&headers, UNVERSIONED);
    response
        .headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::{ETAG, IF_NONE_MATCH};

    #[test]
    fn a_matching_tag_answers_304_and_any_other_the_bytes() {
        let first = CSS.respond(&HeaderMap::new(), VERSIONED);
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers()[ETAG].clone();
        let mut request = HeaderMap::new();
        request.insert(IF_NONE_MATCH, tag.clone());
        let again = CSS.respond(&request, VERSIONED);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[ETAG], tag);
        request.insert(IF_NONE_MATCH, HeaderValue::from_static("\"stale\""));
        assert_eq!(CSS.respond(&request, VERSIONED).status(), StatusCode::OK);
        assert_ne!(CSS.url(), PAGE_JS.url());
        assert!(CSS.url().starts_with("/assets/psi.css?v="));
    }
}
