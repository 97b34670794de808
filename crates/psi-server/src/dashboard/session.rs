//! Who is signed in to the dashboard: the session cookie, the operator it names, and the checks
//! every form passes (CSRF token, same origin).
//!
//! The cookie `psi_dashboard` carries 256 random bits; psi stores only their SHA-256, so a copy
//! of the database signs no one in. It is `HttpOnly`, `SameSite=Strict`, limited to
//! `/dashboard`, `Secure` when psi's public URL is https, and lives [`SESSION_HOURS`]. Each
//! session has its own CSRF token, which every form carries and every POST must return.

use axum::Form;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use headers::HeaderMapExt;
use subtle::ConstantTimeEq;

use super::DashboardError;
use crate::db::operators::{self, Membership, Operator};
use crate::db::{self, now_ms};
use crate::domain::oauth::{secret, secret_hash};
use crate::http::AppState;

/// The cookie's name.
pub const COOKIE: &str = "psi_dashboard";
/// How long a session lasts after signing in.
pub const SESSION_HOURS: i64 = 12;

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub operator: Operator,
    /// The session's CSRF token, which every form carries.
    pub csrf: String,
    token_hash: String,
}

impl SignedIn {
    /// Checks a form's CSRF token (in constant time).
    fn check_csrf(&self, given: &str) -> Result<(), DashboardError> {
        if bool::from(self.csrf.as_bytes().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(DashboardError::Forbidden(
                "This form has expired. Go back, reload the page and try again.".into(),
            ))
        }
    }

    /// The services this operator may open, with the role in each.
    pub async fn memberships(&self, state: &AppState) -> Result<Vec<Membership>, DashboardError> {
        Ok(operators::memberships(&state.db, &self.operator).await?)
    }

    /// Ends this session.
    pub async fn end(&self, state: &AppState) -> Result<(), DashboardError> {
        Ok(operators::end_session(&state.db, &self.token_hash).await?)
    }
}

/// The session cookie's value, if the request has one.
fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .typed_get::<headers::Cookie>()
        .and_then(|cookie| cookie.get(COOKIE).map(str::to_owned))
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    /// Not signed in (or the session ended): to the sign-in page.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to("/dashboard/sign-in").into_response();
        let Some(token) = token(&parts.headers) else {
            return Err(to_sign_in());
        };
        let token_hash = secret_hash(&token);
        match operators::session(&state.db, &token_hash).await {
            Ok(Some((operator, csrf))) => Ok(SignedIn {
                operator,
                csrf,
                token_hash,
            }),
            Ok(None) => Err(to_sign_in()),
            Err(error) => Err(DashboardError::from(error).into_response()),
        }
    }
}

/// Starts a session for `operator`; returns the `Set-Cookie` value.
pub async fn start(state: &AppState, operator: &Operator) -> Result<HeaderValue, DashboardError> {
    let (token, hash) = secret();
    let (csrf, _) = secret();
    let expires_at = now_ms() + SESSION_HOURS * 3_600_000;
    db::operators::start_session(&state.db, &hash, &operator.id, &csrf, expires_at).await?;
    cookie(state, &token, SESSION_HOURS * 3600)
}

/// The `Set-Cookie` that ends the browser's session cookie.
pub fn cleared(state: &AppState) -> Result<HeaderValue, DashboardError> {
    cookie(state, "", 0)
}

fn cookie(state: &AppState, value: &str, max_age_secs: i64) -> Result<HeaderValue, DashboardError> {
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .map_err(|e| DashboardError::Internal(anyhow::Error::new(e)))
}

/// A response that sets (or clears) the cookie.
pub fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// A form a signed-in operator posted, checked: sent from this site, with the session's CSRF
/// token (`_csrf`); `T` is the form's other fields.
pub struct Posted<T> {
    pub signed_in: SignedIn,
    pub form: T,
}

impl<T: serde::de::DeserializeOwned + Send> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let signed_in = SignedIn::from_request_parts(&mut parts, state).await?;
        check_origin(state, &parts.headers).map_err(IntoResponse::into_response)?;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let csrf = url::form_urlencoded::parse(&bytes)
            .find(|(name, _)| name == "_csrf")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        signed_in
            .check_csrf(&csrf)
            .map_err(IntoResponse::into_response)?;
        let Form(form) =
            Form::<T>::from_request(Request::from_parts(parts, Body::from(bytes)), state)
                .await
                .map_err(|e| DashboardError::Invalid(e.body_text()).into_response())?;
        Ok(Posted { signed_in, form })
    }
}

/// A form with no fields but the CSRF token.
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// Refuses a POST whose `Origin` is another site's (a browser sends it with every POST); the
/// sign-in form has no session yet, so this is its CSRF defence, and a second one for the others.
pub fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), DashboardError> {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let ours = url::Url::parse(&state.public_url)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_default();
    // The page's own host, when the operator reached psi by another name than the public URL's.
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    let origin_host = url::Url::parse(origin).ok().and_then(|url| {
        let host = url.host_str()?.to_owned();
        Some(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        })
    });
    if origin == ours || (host.is_some() && origin_host.as_deref() == host) {
        Ok(())
    } else {
        Err(DashboardError::Forbidden(
            "This form was sent from another site.".into(),
        ))
    }
}
