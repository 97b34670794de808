//! HTTP caching of public reads.
//!
//! Handlers answer `200` with a strong `ETag` (a hash of the body) and `Cache-Control`
//! ([`respond`]). Around them, [`serve`] keeps the answers in memory, keyed by path and
//! representation, and answers conditional requests (`If-None-Match` → `304`) for fresh and cached
//! answers alike. These reads are the hot paths web pages hit; a cached answer costs no database
//! query.
//!
//! Freshness: every successful management write that can change a public read (schemas,
//! credential definitions, interactions, instances, keys) makes all cached answers stale at once
//! ([`invalidate_on_write`]), so this process never serves an answer older than its last write.
//! Writes through another process on the same PostgreSQL database show after at most [`TTL`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
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

/// How long a cached answer is served without asking the database again, when no write in this
/// process made it stale before.
pub const TTL: Duration = Duration::from_secs(1);

/// Most answers kept (they are small: a service's interactions, one definition, one key).
const CAPACITY: usize = 10_000;
/// Larger answers are served but not kept.
const MAX_CACHED_BODY: usize = 256 * 1024;

/// A `200` with `body`, its `ETag` and [`PUBLIC_CACHE_CONTROL`].
pub fn respond(content_type: HeaderValue, body: Vec<u8>) -> Response {
    let digest = Sha256::digest(&body);
    let etag: ETag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]))
        .parse()
        .expect("base64url in quotes is a valid entity tag");
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.typed_insert(etag);
    headers.insert(CACHE_CONTROL, PUBLIC_CACHE_CONTROL);
    headers.insert(CONTENT_TYPE, content_type);
    response
}

/// Whether `Accept` names `application/json` (any parameters, any position in the list).
pub fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            let media = range.split(';').next().unwrap_or_default().trim();
            media.eq_ignore_ascii_case("application/json")
        })
}

/// Recent public answers, and the generation of the data they were made from.
pub struct PublicCache {
    answers: quick_cache::sync::Cache<String, Arc<Cached>>,
    generation: AtomicU64,
}

impl std::fmt::Debug for PublicCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicCache")
            .field("answers", &self.answers.len())
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish()
    }
}

impl Default for PublicCache {
    fn default() -> Self {
        PublicCache {
            answers: quick_cache::sync::Cache::new(CAPACITY),
            generation: AtomicU64::new(0),
        }
    }
}

impl PublicCache {
    /// Makes every cached answer stale (after a write that may change public reads).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn fresh(&self, key: &str, generation: u64) -> Option<Arc<Cached>> {
        self.answers
            .get(key)
            .filter(|c| c.generation == generation && c.stored.elapsed() < TTL)
    }
}

/// One answer: its headers (content type, `ETag`, `Cache-Control`, `Vary`) and body.
struct Cached {
    generation: u64,
    stored: Instant,
    headers: HeaderMap,
    etag: Option<ETag>,
    body: Bytes,
}

impl Cached {
    /// The answer to a request holding `request` headers: `304` when its `If-None-Match` names
    /// this `ETag`.
    fn respond(&self, request: &HeaderMap) -> Response {
        let not_modified = self.etag.as_ref().is_some_and(|etag| {
            request
                .typed_get::<IfNoneMatch>()
                .is_some_and(|condition| !condition.precondition_passes(etag))
        });
        let mut response = if not_modified {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            Response::new(Body::from(self.body.clone()))
        };
        *response.headers_mut() = self.headers.clone();
        if not_modified {
            response.headers_mut().remove(CONTENT_TYPE);
        }
        response
    }
}

/// Middleware around the public reads (GET and HEAD under the public base paths): serves fresh
/// cached answers, keeps new answers made by [`respond`], and answers `If-None-Match`.
pub async fn serve(
    State(cache): State<Arc<PublicCache>>,
    mut request: Request,
    next: Next,
) -> Response {
    let cacheable = matches!(*request.method(), Method::GET | Method::HEAD)
        && super::is_public(request.uri().path())
        && !request.uri().path().starts_with("/r/");
    if !cacheable {
        return next.run(request).await;
    }
    let mut key = request.uri().path().to_owned();
    if accepts_json(request.headers()) {
        key.push_str(" json");
    }
    // Read before the data is, so a write during this request leaves the answer stale.
    let generation = cache.generation.load(Ordering::Acquire);
    if let Some(cached) = cache.fresh(&key, generation) {
        return cached.respond(request.headers());
    }
    // The handler answers in full; the condition is checked here, for the answer kept.
    let conditions = request.headers_mut().remove(IF_NONE_MATCH);
    let response = next.run(request).await;
    // Only what `respond` made: a 200 with an `ETag`, public.
    let public = response.headers().get(CACHE_CONTROL) == Some(&PUBLIC_CACHE_CONTROL);
    if response.status() != StatusCode::OK || !public {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_CACHED_BODY).await {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "public answer too large to cache or unreadable");
            let mut response = Response::new(Body::from("internal server error"));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return response;
        }
    };
    let cached = Arc::new(Cached {
        generation,
        stored: Instant::now(),
        etag: parts.headers.typed_get::<ETag>(),
        headers: parts.headers,
        body,
    });
    cache.answers.insert(key, Arc::clone(&cached));
    let mut request_headers = HeaderMap::new();
    if let Some(conditions) = conditions {
        request_headers.insert(IF_NONE_MATCH, conditions);
    }
    cached.respond(&request_headers)
}

/// Middleware around everything (its state is `AppState::public_cache`, not the whole state,
/// to keep the per-request cost at one reference count): a successful write to a resource public reads show makes the
/// cached answers stale.
pub async fn invalidate_on_write(
    State(cache): State<Arc<PublicCache>>,
    request: Request,
    next: Next,
) -> Response {
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) && changes_public_reads(request.uri().path());
    let response = next.run(request).await;
    if writes && response.status().is_success() {
        cache.invalidate();
    }
    response
}

/// `/api/v1/services/{did}/{schemas|credential-definitions|interactions|keys}/...`, except links
/// (storing a sourceURL request changes no public read).
fn changes_public_reads(path: &str) -> bool {
    let mut segments = path.split('/').skip(1);
    let under_service = segments.next() == Some("api")
        && segments.next() == Some("v1")
        && segments.next() == Some("services")
        && segments.next().is_some();
    under_service
        && matches!(
            segments.next(),
            Some("schemas" | "credential-definitions" | "interactions" | "keys")
        )
        && !segments.any(|segment| segment == "link")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::ETAG;

    fn request_with(if_none_match: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, if_none_match.parse().unwrap());
        headers
    }

    fn cached(body: &'static [u8]) -> Cached {
        let (parts, _) = respond(JSON, body.to_vec()).into_parts();
        Cached {
            generation: 0,
            stored: Instant::now(),
            etag: parts.headers.typed_get::<ETag>(),
            headers: parts.headers,
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn the_tag_is_strong_and_depends_on_the_body_only() {
        let tag = |body: &'static [u8]| cached(body).headers[ETAG].clone();
        assert_eq!(tag(b"[1]"), tag(b"[1]"));
        assert_ne!(tag(b"[1]"), tag(b"[2]"));
        let text = tag(b"[1]");
        let text = text.to_str().unwrap();
        assert!(
            text.starts_with('"') && text.ends_with('"') && text.len() == 24,
            "{text}"
        );
    }

    #[test]
    fn a_matching_if_none_match_answers_304_without_a_body() {
        let answer = cached(b"{}");
        let tag = answer.headers[ETAG].to_str().unwrap().to_owned();
        for header in [
            tag.clone(),
            format!("\"x\", {tag}"),
            format!("W/{tag}"),
            "*".into(),
        ] {
            let response = answer.respond(&request_with(&header));
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{header}");
            assert_eq!(response.headers()[ETAG], tag.as_str());
            assert!(response.headers().get(CONTENT_TYPE).is_none());
        }
        let response = answer.respond(&request_with("\"other\""));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=60");
    }

    #[test]
    fn answers_go_stale_on_invalidation_and_with_age() {
        let cache = PublicCache::default();
        cache.answers.insert("/a".into(), Arc::new(cached(b"[]")));
        assert!(cache.fresh("/a", 0).is_some());
        cache.invalidate();
        assert!(cache.fresh("/a", 1).is_none(), "made before the write");
        let mut old = cached(b"[]");
        old.generation = 1;
        old.stored = Instant::now() - TTL;
        cache.answers.insert("/a".into(), Arc::new(old));
        assert!(cache.fresh("/a", 1).is_none(), "older than the TTL");
    }

    #[test]
    fn only_management_writes_to_public_resources_invalidate() {
        for path in [
            "/api/v1/services/D/schemas",
            "/api/v1/services/D/credential-definitions/x",
            "/api/v1/services/D/interactions/i/instances/n",
            "/api/v1/services/D/keys/default",
        ] {
            assert!(changes_public_reads(path), "{path}");
        }
        for path in [
            "/api/v1/services",
            "/api/v1/services/D/tokens",
            "/api/v1/services/D/interactions/i/link/source",
            "/service-backend/v1/service/D/webhook-accept/credentials-issued",
            "/r/x",
        ] {
            assert!(!changes_public_reads(path), "{path}");
        }
    }

    #[test]
    fn json_is_chosen_only_when_accept_names_it() {
        let with = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, accept.parse().unwrap());
            accepts_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("text/html, Application/JSON;q=0.9"));
        assert!(!with("*/*"));
        assert!(!with("application/x-pem-file"));
        assert!(!with("application/jsonx"));
        assert!(!accepts_json(&HeaderMap::new()));
    }
}
