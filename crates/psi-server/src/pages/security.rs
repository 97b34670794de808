//! Security headers of every page and file under [`super::routes`].
//!
//! The Content-Security-Policy allows scripts, styles and images from this server only (no
//! inline script or style, no `eval`), connections back to it (the live status), no plugins, no
//! `<base>` and no form posts; `frame-ancestors 'none'` (with `X-Frame-Options: DENY` for old
//! browsers) keeps every page out of frames, since the embed renders in the host page's own DOM
//! and needs no frame. `Referrer-Policy: no-referrer`: a start page's address may carry
//! pre-filled values, which must not leak to the app stores or the service's redirect target.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of every page.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The dashboard's: the same, with its forms posting back to this server.
pub const DASHBOARD_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Adds the headers to every response of the pages' routes (answers that set one keep theirs).
pub async fn headers(request: Request, next: Next) -> Response {
    with_policy(
        next.run(request).await,
        CONTENT_SECURITY_POLICY_VALUE,
        "no-referrer",
    )
}

/// [`headers`], with the dashboard's policy. Its referrer policy is `same-origin`: under
/// `no-referrer` a browser sends `Origin: null` with a form's POST, and the dashboard's forms
/// are refused unless their origin is psi's; other sites still learn nothing.
pub async fn dashboard_headers(request: Request, next: Next) -> Response {
    with_policy(
        next.run(request).await,
        DASHBOARD_CONTENT_SECURITY_POLICY,
        "same-origin",
    )
}

fn with_policy(mut response: Response, policy: &'static str, referrer: &'static str) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (CONTENT_SECURITY_POLICY, policy),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, referrer),
        (X_FRAME_OPTIONS, "DENY"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}
