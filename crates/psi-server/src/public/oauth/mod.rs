//! SSI OAuth's public endpoints (docs/ssi-oauth.md): an OAuth 2.0 and OpenID Connect provider
//! whose user signs in by completing an interaction in the wallet.
//!
//! - `device.rs`: the device authorization grant (RFC 8628) as `ssi-auth-lib` drives it;
//! - `code.rs`: the authorization code flow (RFC 6749 §4.1, PKCE of RFC 7636) through psi's
//!   authorization page, which is the interaction's start page with the user code pre-filled;
//! - `tokens.rs`: the tokens a used grant gets (access token, OpenID Connect `id_token`), the
//!   sign-in's record and notification, and what relying parties read: discovery, JWKS, userinfo.
//!
//! Served under `/oauth2` (current) and `/oauth` (legacy), and with the doubled slash the
//! library's built-in environments produce (`/oauth2//token`). Requests are form-encoded; every
//! answer is JSON, errors in RFC 6749 §5.2 form with a non-2xx status (the library reads any 2xx
//! as the token). CORS is the public endpoints' ([`super::cors`]), on errors too.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::db;
use crate::db::oauth::{ClientRef, Found};
use crate::domain::extension::Builtin;
use crate::domain::oauth::OAuthSettings;
use crate::http::AppState;
use crate::http::auth::Peer;
use crate::http::throttle::Key;
use crate::scope::ServiceScope;

mod code;
mod device;
mod tokens;

pub use device::DEVICE_AUTHORIZATION_LIMIT;

/// The base paths in circulation.
const BASES: [&str; 2] = ["/oauth2", "/oauth"];
/// The base of the issuer and of the endpoints discovery names.
const CURRENT_BASE: &str = "/oauth2";
/// RFC 8628 §3.4.
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 6749 §4.1.3.
const AUTHORIZATION_CODE_GRANT: &str = "authorization_code";

/// The routes, under every base path, with and without the doubled slash.
pub fn routes() -> axum::Router<AppState> {
    let mut router = axum::Router::new();
    // The pages a browser is sent to, with the pages' security headers.
    let mut pages = axum::Router::new();
    for base in BASES {
        for slash in ["/", "//"] {
            router = router
                .route(
                    &format!("{base}{slash}device_authorization"),
                    post(device::device_authorization),
                )
                .route(&format!("{base}{slash}token"), post(token))
                .route(
                    &format!("{base}{slash}userinfo"),
                    get(tokens::userinfo).post(tokens::userinfo),
                );
            pages = pages.route(
                &format!("{base}{slash}authorization"),
                get(code::authorization).post(code::authorization),
            );
        }
        pages = pages.route(&format!("{base}/authorization/{{handle}}"), get(code::page));
        router = router.route(&format!("{base}/{{serviceDid}}/jwks"), get(tokens::jwks));
    }
    router
        .route(
            &format!("{CURRENT_BASE}/{{serviceDid}}/.well-known/openid-configuration"),
            get(tokens::discovery),
        )
        .merge(pages.layer(axum::middleware::from_fn(crate::pages::security::headers)))
}

/// Whether a path is one of these endpoints', which web pages call cross-origin.
pub(crate) fn is_oauth(path: &str) -> bool {
    BASES
        .iter()
        .any(|base| path.strip_prefix(base).is_some_and(|p| p.starts_with('/')))
}

/// An error answer of RFC 6749 §5.2 (and RFC 8628 §3.5).
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    retry_after: Option<Duration>,
    /// `WWW-Authenticate`, for a client that authenticated with a header.
    challenge: Option<&'static str>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            retry_after: None,
            challenge: None,
        }
    }

    fn bad(error: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, description)
    }

    fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::bad("invalid_grant", description)
    }
}

/// What went wrong inside psi: logged, answered as `server_error` (JSON, so the library
/// rejects with it rather than with a parse error).
impl<E: Into<anyhow::Error>> From<E> for OAuthError {
    fn from(error: E) -> Self {
        let error = error.into();
        tracing::error!(error = format!("{error:#}"), "SSI OAuth request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "psi could not answer; try again",
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.error,
            error_description: &self.description,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs().max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&secs) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
        }
        if let Some(challenge) = self.challenge {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        no_store(response)
    }
}

/// RFC 6749 §5.1: answers with codes or tokens are stored by no cache.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A form's fields (or a query string's); a field given twice is refused (RFC 6749 §3.1, §3.2).
fn form(body: &[u8]) -> Result<Map<String, Value>, OAuthError> {
    let mut fields = Map::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if fields
            .insert(name.to_string(), Value::String(value.into_owned()))
            .is_some()
        {
            return Err(OAuthError::bad(
                "invalid_request",
                format!("`{name}` is given more than once"),
            ));
        }
    }
    Ok(fields)
}

/// A field's value, if given and not empty.
fn optional<'a>(form: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    form.get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

fn field<'a>(form: &'a Map<String, Value>, name: &str) -> Result<&'a str, OAuthError> {
    optional(form, name)
        .ok_or_else(|| OAuthError::bad("invalid_request", format!("`{name}` is required")))
}

/// A client: its attachment, service and settings.
struct Client {
    scope: ServiceScope,
    found: ClientRef,
    settings: OAuthSettings,
    /// The client id as the client gives it: the attachment's, or the service DID of
    /// `ssi-auth-lib` 0.0.6.
    id: String,
}

/// The enabled SSI OAuth attachment `client_id` names.
async fn client(state: &AppState, client_id: &str) -> Result<Client, OAuthError> {
    let unknown = || OAuthError::invalid_client("no SSI OAuth client has this client_id");
    let found = match db::oauth::client(&state.db, client_id).await? {
        Found::One(found) => found,
        Found::None => return Err(unknown()),
        Found::Several => {
            return Err(OAuthError::invalid_client(
                "this service has several SSI OAuth clients: give the client id of one",
            ));
        }
    };
    let did = found.service_did.parse().map_err(anyhow::Error::new)?;
    let scope = db::services::scope_for_did(&state.db, &did)
        .await?
        .ok_or_else(unknown)?;
    let attachments = db::extensions::attachments_of(
        &state.db,
        &scope,
        db::extensions::AttachedTo::Interaction(&found.interaction_id),
    )
    .await?;
    let attachment = attachments
        .into_iter()
        .find(|a| {
            a.installation.id == found.installation_id
                && a.installation.builtin == Some(Builtin::SsiOauth)
        })
        .ok_or_else(unknown)?;
    let settings = crate::engine::extensions::settings_of(state, &attachment)?;
    let settings = OAuthSettings::read(&settings).map_err(anyhow::Error::new)?;
    Ok(Client {
        scope,
        found,
        settings,
        id: client_id.to_owned(),
    })
}

/// The client id and secret of a token request (RFC 6749 §2.3.1): HTTP Basic
/// (`client_secret_basic`) or the form (`client_secret_post`), not both; a public client gives
/// its id alone. Returns whether Basic was used, for the challenge of a refusal.
fn client_credentials(
    headers: &HeaderMap,
    form: &Map<String, Value>,
) -> Result<(String, Option<String>, bool), OAuthError> {
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    let Some((_, encoded)) = basic else {
        let id = field(form, "client_id")?.to_owned();
        return Ok((
            id,
            optional(form, "client_secret").map(str::to_owned),
            false,
        ));
    };
    let malformed = || {
        let mut error = OAuthError::invalid_client("the Basic credentials are malformed");
        error.challenge = Some(BASIC_CHALLENGE);
        error
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    // Each half is form-encoded (RFC 6749 §2.3.1).
    let decode = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (id, secret) = (decode(id), decode(secret));
    if optional(form, "client_secret").is_some()
        || optional(form, "client_id").is_some_and(|given| given != id)
    {
        return Err(OAuthError::bad(
            "invalid_request",
            "the client authenticated twice: use Basic or the form, not both",
        ));
    }
    Ok((id, Some(secret), true))
}

const BASIC_CHALLENGE: &str = "Basic realm=\"psi\"";

/// RFC 6749 §5.1 (and OpenID Connect Core §3.1.3.3).
#[derive(Serialize)]
struct TokenAnswer {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// `POST .../token`: a device code (`client_id`, `device_code`) or an authorization code (`code`,
/// `redirect_uri`, `code_verifier`, and a confidential client's secret) for the tokens, once.
async fn token(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = form(&body)?;
    let grant_type = field(&form, "grant_type")?;
    if grant_type != DEVICE_CODE_GRANT && grant_type != AUTHORIZATION_CODE_GRANT {
        return Err(OAuthError::bad(
            "unsupported_grant_type",
            format!("only {AUTHORIZATION_CODE_GRANT} and {DEVICE_CODE_GRANT}"),
        ));
    }
    let (client_id, secret, basic) = client_credentials(&headers, &form)?;
    let client = client(&state, &client_id).await?;
    // RFC 6749 §3.2.1, RFC 8628 §3.4: a confidential client authenticates in both flows, so a
    // page running the device flow (which can keep no secret) uses a client without one.
    let confidential = client.settings.client_secret.is_some();
    let challenge = |mut error: OAuthError| {
        if basic {
            error.challenge = Some(BASIC_CHALLENGE);
        }
        error
    };
    let mut keys = vec![Key::OAuthClient(client.id.clone())];
    keys.extend(peer.map(Key::address));
    match (&secret, confidential) {
        (None, false) => {}
        (None, true) => {
            return Err(challenge(OAuthError::invalid_client(
                "this client must authenticate with its secret",
            )));
        }
        (Some(given), _) => {
            // Wrong secrets count against the client and the address, like wrong tokens.
            if let Err(wait) = state.auth_throttle.check(&keys) {
                let mut error = OAuthError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "invalid_client",
                    "too many wrong client secrets; try again later",
                );
                error.retry_after = Some(wait);
                return Err(challenge(error));
            }
            if !client.settings.secret_matches(given) {
                state.auth_throttle.failed(&keys);
                return Err(challenge(OAuthError::invalid_client(
                    "the client secret is wrong",
                )));
            }
        }
    }
    let grant = if grant_type == DEVICE_CODE_GRANT {
        device::exchange(&state, &client, &form).await?
    } else {
        code::exchange(&state, &client, &form).await?
    };
    let answer = tokens::issue(&state, &client, &grant).await?;
    Ok(no_store(Json(answer).into_response()))
}
