//! HTTP caching of public reads: a strong `ETag` (a hash of the body), `Cache-Control`, and
//! `304 Not Modified` when the client already holds the same bytes (`If-None-Match`).

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use headers::{ETag, HeaderMapExt, IfNoneMatch};
use sha2::{Digest, Sha256};

/// What caches may do with a public read: anyone may keep it a minute, then revalidate with the
/// `ETag` (pausing an interaction shows within that minute).
pub const PUBLIC_CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=60");

/// The `Content-Type` of JSON answers.
pub const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A `200` with `body`, its `ETag` and [`PUBLIC_CACHE_CONTROL`]; or a bodiless `304` when the
/// request's `If-None-Match` names the same `ETag`.
pub fn respond(request: &HeaderMap, content_type: HeaderValue, body: Vec<u8>) -> Response {
    let etag = strong_etag(&body);
    let not_modified = request
        .typed_get::<IfNoneMatch>()
        .is_some_and(|condition| !condition.precondition_passes(&etag));
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        (StatusCode::OK, Body::from(body))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.typed_insert(etag);
    headers.insert(CACHE_CONTROL, PUBLIC_CACHE_CONTROL);
    if !not_modified {
        headers.insert(CONTENT_TYPE, content_type);
    }
    response
}

/// `"<base64url of the first 16 bytes of SHA-256(body)>"`: equal bodies, equal tags.
fn strong_etag(body: &[u8]) -> ETag {
    let digest = Sha256::digest(body);
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]))
        .parse()
        .expect("base64url in quotes is a valid entity tag")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::ETAG;

    fn request_with(if_none_match: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("if-none-match", if_none_match.parse().unwrap());
        headers
    }

    #[test]
    fn the_tag_is_strong_and_depends_on_the_body_only() {
        let a = strong_etag(b"[1]");
        assert_eq!(a, strong_etag(b"[1]"));
        assert_ne!(a, strong_etag(b"[2]"));
        assert!(!a.is_weak());
    }

    #[test]
    fn a_matching_if_none_match_answers_304_without_a_body() {
        let response = respond(&HeaderMap::new(), JSON, b"{}".to_vec());
        let tag = response.headers()[ETAG].to_str().unwrap().to_owned();
        assert!(
            tag.starts_with('"') && tag.ends_with('"') && tag.len() == 24,
            "{tag}"
        );
        for header in [
            tag.to_owned(),
            format!("\"x\", {tag}"),
            format!("W/{tag}"),
            "*".into(),
        ] {
            let response = respond(&request_with(&header), JSON, b"{}".to_vec());
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{header}");
            assert_eq!(response.headers()[ETAG], tag);
            assert!(response.headers().get(CONTENT_TYPE).is_none());
        }
        let response = respond(&request_with("\"other\""), JSON, b"{}".to_vec());
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=60");
    }
}
