//! HTTP caching of public reads.
//!
//! Handlers answer `200` with a strong `ETag` (a hash of the body) and `Cache-Control`
//! ([`respond`]). Around them, [`layer`] keeps the answers in memory, keyed by path and
//! representation, and answers conditional requests (`If-None-Match` → `304`) for fresh and cached
//! answers alike. These reads are the hot paths web pages hit; a cached answer costs no database
//! query.
//!
//! Freshness: an answer is kept with the version of the data it was made from
//! ([`crate::db::ConfigVersion`]), which every write to that data through `db` advances, so this
//! process never serves an answer older than its last write. Writes through another process on
//! the same PostgreSQL database advance it when their notification arrives; [`TTL`] bounds the
//! age of an answer whatever happens to notifications.
//!
//! A hit is answered around the request-id, tracing and metrics layers (only CORS is outside
//! it), the way a cache in front of the server would answer it: no `x-request-id`, no request log
//! line, no `http_requests_total`; `psi_public_cache_hits_total` counts hits.

use std::borrow::Cow;
use std::sync::Arc;
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

use crate::db::ConfigVersion;

/// What caches may do with a public read: anyone may keep it a minute, then revalidate with the
/// `ETag` (pausing an interaction shows within that minute).
pub const PUBLIC_CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=60");

/// The `Content-Type` of JSON answers.
pub const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// How long a cached answer is served without asking the database again, when no write in this
/// process made it stale before.
pub const TTL: Duration = Duration::from_secs(1);

/// Bytes of answers kept, paths included: a bound however many paths (percent-encoded variants
/// included) clients ask for.
const CAPACITY_BYTES: u64 = 16 * 1024 * 1024;
/// About how many answers that is (they are small: a service's interactions, one definition, one
/// key), to size the table.
const ESTIMATED_ANSWERS: usize = 4096;
/// Larger answers are served but not kept.
const MAX_CACHED_BODY: usize = 256 * 1024;
/// Counter of answers served from the cache. They are answered outside the request-id, tracing
/// and per-route metrics layers, so this is where they show.
const HITS: &str = "psi_public_cache_hits_total";
/// The header naming a request (set by the request-id layer inside this one).
const REQUEST_ID: &str = "x-request-id";
/// Bytes an answer's headers and bookkeeping take, roughly.
const ANSWER_OVERHEAD: u64 = 512;

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

/// Recent public answers, each with the version of the data it was made from.
pub struct PublicCache {
    answers: quick_cache::sync::Cache<String, Arc<Cached>, AnswerWeight>,
    version: ConfigVersion,
}

impl std::fmt::Debug for PublicCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicCache")
            .field("answers", &self.answers.len())
            .field("version", &self.version.current())
            .finish()
    }
}

impl PublicCache {
    /// An empty cache of answers made from data at `version`.
    pub fn new(version: ConfigVersion) -> Self {
        PublicCache {
            answers: quick_cache::sync::Cache::with_weighter(
                ESTIMATED_ANSWERS,
                CAPACITY_BYTES,
                AnswerWeight,
            ),
            version,
        }
    }

    fn fresh(&self, key: &str, generation: u64) -> Option<Arc<Cached>> {
        self.answers
            .get(key)
            .filter(|c| c.generation == generation && c.stored.elapsed() < TTL)
    }
}

/// Weighs an answer by its bytes, so the cache holds [`CAPACITY_BYTES`].
#[derive(Clone)]
struct AnswerWeight;

impl quick_cache::Weighter<String, Arc<Cached>> for AnswerWeight {
    fn weight(&self, key: &String, answer: &Arc<Cached>) -> u64 {
        (key.len() + answer.body.len()) as u64 + ANSWER_OVERHEAD
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

/// Middleware around every route (its state is the cache alone, one reference count per
/// request): serves the public reads (GET and HEAD under the public base paths, except the
/// one-time `/r/...`) from the cache.
pub async fn layer(
    State(cache): State<Arc<PublicCache>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    match *request.method() {
        Method::GET | Method::HEAD if super::is_public(path) && !path.starts_with("/r/") => {
            serve(&cache, request, next).await
        }
        _ => next.run(request).await,
    }
}

/// `path` with the escapes of unreserved characters decoded and the others' hex in upper case
/// (RFC 3986 §6.2.2): the routes decode escapes, so `/x/%41` and `/x/A` are one answer and must
/// be one key, or a client could make every request a miss by escaping letters differently.
fn normalise(path: &str) -> Cow<'_, str> {
    if !path.contains('%') {
        return Cow::Borrowed(path);
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| path.get(i + 1..i + 3))
            .flatten()
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) => {
                out.push(char::from(byte));
                i += 3;
            }
            Some(byte) => {
                out.push_str(&format!("%{byte:02X}"));
                i += 3;
            }
            None => {
                // `path` is a valid `&str` and `%` is ASCII, so this is a char boundary.
                let c = path[i..].chars().next().unwrap_or_default();
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    Cow::Owned(out)
}

/// A public read: a fresh cached answer, or the handler's, kept when [`respond`] made it; either
/// way `If-None-Match` is answered here.
async fn serve(cache: &PublicCache, mut request: Request, next: Next) -> Response {
    // The normalised path, and the representation for keys that have two; no allocation for a
    // hit on a path without escapes.
    let path = normalise(request.uri().path());
    let key: Cow<'_, str> = if accepts_json(request.headers()) {
        format!("{path} json").into()
    } else {
        path
    };
    // Read before the data is, so a write during this request leaves the answer stale.
    let generation = cache.version.current();
    if let Some(cached) = cache.fresh(&key, generation) {
        metrics::counter!(HITS).increment(1);
        return cached.respond(request.headers());
    }
    let key = key.into_owned();
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
    let mut headers = parts.headers;
    // An id names this request, not the answers served again from the cache.
    let request_id = headers.remove(REQUEST_ID);
    let cached = Arc::new(Cached {
        generation,
        stored: Instant::now(),
        etag: headers.typed_get::<ETag>(),
        headers,
        body,
    });
    cache.answers.insert(key, Arc::clone(&cached));
    let mut request_headers = HeaderMap::new();
    if let Some(conditions) = conditions {
        request_headers.insert(IF_NONE_MATCH, conditions);
    }
    let mut response = cached.respond(&request_headers);
    if let Some(id) = request_id {
        response.headers_mut().insert(REQUEST_ID, id);
    }
    response
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
    fn answers_go_stale_with_a_newer_version_and_with_age() {
        let cache = PublicCache::new(ConfigVersion::default());
        cache.answers.insert("/a".into(), Arc::new(cached(b"[]")));
        assert!(cache.fresh("/a", 0).is_some());
        assert!(cache.fresh("/a", 1).is_none(), "made before a write");
        let mut old = cached(b"[]");
        old.generation = 1;
        old.stored = Instant::now() - TTL;
        cache.answers.insert("/a".into(), Arc::new(old));
        assert!(cache.fresh("/a", 1).is_none(), "older than the TTL");
    }

    #[test]
    fn the_cache_holds_a_bounded_number_of_bytes_whatever_the_paths() {
        let cache = PublicCache::new(ConfigVersion::default());
        let body = Bytes::from(vec![b'x'; MAX_CACHED_BODY]);
        for n in 0..200 {
            let mut answer = cached(b"[]");
            answer.body = body.clone();
            cache.answers.insert(format!("/p%{n:04}"), Arc::new(answer));
        }
        assert!(
            cache.answers.weight() <= CAPACITY_BYTES,
            "{}",
            cache.answers.weight()
        );
        assert!(cache.answers.len() < 200);
    }

    #[test]
    fn escaped_letters_and_hex_case_make_one_key() {
        assert_eq!(normalise("/s/ABC/x"), "/s/ABC/x");
        assert!(matches!(normalise("/s/ABC/x"), Cow::Borrowed(_)));
        assert_eq!(normalise("/s/%41%42C/x"), "/s/ABC/x");
        assert_eq!(normalise("/s/%61b%2d"), "/s/ab-");
        assert_eq!(normalise("/s/a%2fb"), "/s/a%2Fb", "a slash stays escaped");
        assert_eq!(normalise("/s/%e2%82%ac"), "/s/%E2%82%AC");
        assert_eq!(normalise("/s/100%"), "/s/100%");
        assert_eq!(normalise("/s/%zz/é"), "/s/%zz/é");
        assert_eq!(normalise("/s/%+1"), "/s/%+1");
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
