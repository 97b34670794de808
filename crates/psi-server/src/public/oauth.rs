//! SSI OAuth's public endpoints (docs/ssi-oauth.md): the OAuth 2.0 device authorization grant
//! (RFC 8628) as `ssi-auth-lib` drives it, and the JWKS that verifies the access tokens.
//!
//! Served under `/oauth2` (current) and `/oauth` (legacy), and with the doubled slash the
//! library's built-in environments produce (`/oauth2//token`). Requests are form-encoded; every
//! answer is JSON, errors in RFC 6749 §5.2 form with a non-2xx status (the library reads any 2xx
//! as the token). CORS is the public endpoints' ([`super::cors`]), on errors too.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use psi_webhook::{Claims, PublicKey, UnixTime};
use serde::Serialize;
use serde_json::{Map, Value};

use super::PublicService;
use crate::calls::Keys;
use crate::db::keys::{DEFAULT_KEY_NAME, KeyKind};
use crate::db::oauth::{ClientRef, Grant, GrantState, NewGrant};
use crate::db::{self, new_id, now_ms};
use crate::domain::extension::{Builtin, SettingValues, merged};
use crate::domain::oauth::{self, OAuthSettings};
use crate::http::AppState;
use crate::http::throttle::{AuthConfig, Key};
use crate::scope::ServiceScope;

/// The base paths in circulation.
const BASES: [&str; 2] = ["/oauth2", "/oauth"];
/// RFC 8628 §3.4.
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Seconds before the first poll (`initial_interval`, which the library reads; without it, it
/// waits 10 s): at most this, at most the interval.
const FIRST_POLL_SECS: i64 = 2;
/// RFC 8628 §3.5: each `slow_down` adds 5 seconds to the interval, for good.
const SLOW_DOWN_SECS: i64 = 5;
/// Device authorization requests per client: 20 at once, then one more every 3 seconds (20 a
/// minute); the most clients tracked at once.
pub const DEVICE_AUTHORIZATION_LIMIT: AuthConfig = AuthConfig {
    failure_burst: 20,
    failure_interval: Duration::from_secs(3),
    max_tracked: 10_000,
};
/// Tries at a user code that no pending grant has.
const USER_CODE_TRIES: usize = 5;

/// The routes, under every base path, with and without the doubled slash.
pub fn routes() -> axum::Router<AppState> {
    let mut router = axum::Router::new();
    for base in BASES {
        for slash in ["/", "//"] {
            router = router
                .route(
                    &format!("{base}{slash}device_authorization"),
                    post(device_authorization),
                )
                .route(&format!("{base}{slash}token"), post(token));
        }
        router = router.route(&format!("{base}/{{serviceDid}}/jwks"), get(jwks));
    }
    router
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
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    fn bad(error: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, description)
    }

    fn invalid_client() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "no SSI OAuth client has this client_id",
        )
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

/// The form's fields; a field given twice is refused (RFC 6749 §3.2).
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

fn field<'a>(form: &'a Map<String, Value>, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::bad("invalid_request", format!("`{name}` is required")))
}

/// A client: its attachment, service and settings.
struct Client {
    scope: ServiceScope,
    found: ClientRef,
    settings: OAuthSettings,
}

/// The enabled SSI OAuth attachment `client_id` names.
async fn client(state: &AppState, client_id: &str) -> Result<Client, OAuthError> {
    let found = db::oauth::client(&state.db, client_id)
        .await?
        .ok_or_else(OAuthError::invalid_client)?;
    let did = found.service_did.parse().map_err(anyhow::Error::new)?;
    let scope = db::services::scope_for_did(&state.db, &did)
        .await?
        .ok_or_else(OAuthError::invalid_client)?;
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
        .ok_or_else(OAuthError::invalid_client)?;
    // SSI OAuth has no secret settings.
    let values = |plain: &Map<String, Value>| SettingValues {
        plain: plain.clone(),
        secrets: Map::new(),
    };
    let settings = merged(
        &attachment.installation.manifest,
        &values(&attachment.installation.settings),
        &values(&attachment.settings),
    );
    let settings = OAuthSettings::read(&settings).map_err(anyhow::Error::new)?;
    Ok(Client {
        scope,
        found,
        settings,
    })
}

/// RFC 8628 §3.2, plus the library's `initial_interval`.
#[derive(Serialize)]
struct DeviceAuthorization {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: i64,
    interval: i64,
    initial_interval: i64,
}

/// `POST .../device_authorization` (form `client_id`, optional `scope`, which is not used).
async fn device_authorization(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = form(&body)?;
    let client_id = field(&form, "client_id")?;
    // Each request counts against the client: a page cannot mint codes (and fill the table)
    // faster than the documented limit.
    let key = [Key::OAuthClient(client_id.to_owned())];
    if let Err(wait) = state.oauth_throttle.check(&key) {
        let mut error = OAuthError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "slow_down",
            "too many sign-ins started for this client; try again later",
        );
        error.retry_after = Some(wait);
        return Err(error);
    }
    state.oauth_throttle.failed(&key);
    let client = client(&state, client_id).await?;
    let settings = &client.settings;
    let interval = settings.poll_interval_secs;
    let initial_interval = interval.min(FIRST_POLL_SECS);
    let (device_code, hash) = oauth::device_code();
    let expires_at = now_ms() + settings.code_lifetime_secs * 1000;
    let mut tries = 0;
    let user_code = loop {
        let user_code = oauth::user_code();
        let new = NewGrant {
            service_id: client.scope.service_id(),
            client: &client.found,
            client_id,
            device_code_hash: &hash,
            user_code: &user_code,
            expires_at,
            poll_interval: interval,
            initial_interval,
        };
        match db::oauth::insert(&state.db, &new).await {
            Ok(()) => break user_code,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && tries < USER_CODE_TRIES => {
                tries += 1;
            }
            Err(e) => return Err(e.into()),
        }
    };
    // The code travels in the link the library builds; a person without it starts from the
    // interaction's start page.
    let start = format!(
        "{}/s/{}/{}/start.html",
        state.public_url, client.found.service_did, client.found.interaction_id
    );
    let answer = DeviceAuthorization {
        verification_uri_complete: start.clone(),
        verification_uri: start,
        device_code,
        user_code,
        expires_in: settings.code_lifetime_secs,
        interval,
        initial_interval,
    };
    Ok(no_store(Json(answer).into_response()))
}

/// RFC 6749 §5.1.
#[derive(Serialize)]
struct TokenAnswer {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
}

/// `POST .../token` (form `client_id`, `device_code`, `grant_type`).
async fn token(State(state): State<AppState>, body: Bytes) -> Result<Response, OAuthError> {
    let form = form(&body)?;
    let grant_type = field(&form, "grant_type")?;
    if grant_type != DEVICE_CODE_GRANT {
        return Err(OAuthError::bad(
            "unsupported_grant_type",
            format!("only {DEVICE_CODE_GRANT}"),
        ));
    }
    let client_id = field(&form, "client_id")?;
    let device_code = field(&form, "device_code")?;
    let client = client(&state, client_id).await?;
    let hash = oauth::device_code_hash(device_code);
    let invalid = || OAuthError::bad("invalid_grant", "the device code is not valid");
    let grant = db::oauth::by_device_code(&state.db, &hash)
        .await?
        .filter(|g| {
            g.client_id == client_id
                && g.installation_id == client.found.installation_id
                && g.interaction_id == client.found.interaction_id
        })
        .ok_or_else(invalid)?;
    let now = now_ms();
    match grant.state {
        GrantState::Used => return Err(invalid()),
        GrantState::Denied => {
            return Err(OAuthError::bad(
                "access_denied",
                "the holder did not sign in",
            ));
        }
        _ if now >= grant.expires_at => {
            return Err(OAuthError::bad(
                "expired_token",
                "the device code has expired; start again",
            ));
        }
        GrantState::Pending => return Err(pending(&state, &grant, now).await?),
        GrantState::Approved => {}
    }
    if !db::oauth::take(&state.db, &grant.id).await? {
        return Err(invalid());
    }
    let access_token = access_token(&state, &client, &grant).await?;
    tracing::info!(did = %client.scope.did(), client_id, "SSI OAuth token issued");
    let answer = TokenAnswer {
        access_token,
        token_type: "Bearer",
        expires_in: client.settings.token_lifetime_secs,
    };
    Ok(no_store(Json(answer).into_response()))
}

/// A poll of a pending grant: `slow_down` (and 5 s more from now on) when it came sooner than
/// the interval after the last one, or than `initial_interval` after the grant for the first;
/// else `authorization_pending`.
async fn pending(state: &AppState, grant: &Grant, now: i64) -> Result<OAuthError, OAuthError> {
    let (since, wait) = match grant.last_polled_at {
        Some(last) => (last, grant.poll_interval),
        None => (grant.created_at, grant.initial_interval),
    };
    let early = now - since < wait * 1000;
    let interval = if early {
        grant.poll_interval + SLOW_DOWN_SECS
    } else {
        grant.poll_interval
    };
    db::oauth::polled(&state.db, &grant.id, now, interval).await?;
    Ok(if early {
        OAuthError::bad(
            "slow_down",
            format!("poll every {interval} seconds at most"),
        )
    } else {
        OAuthError::bad(
            "authorization_pending",
            "the holder has not completed the interaction yet",
        )
    })
}

/// The issuer of the service's tokens: `iss`.
fn issuer(state: &AppState, scope: &ServiceScope) -> String {
    format!("{}/oauth2/{}", state.public_url, scope.did())
}

/// The service's `default` key as a JWK (its `kid` is the RFC 7638 thumbprint).
async fn default_jwk(state: &AppState, scope: &ServiceScope) -> Result<Value, OAuthError> {
    let pem = db::keys::get(&state.db, scope, DEFAULT_KEY_NAME)
        .await?
        .filter(|key| key.kind == KeyKind::RsaKeyPair)
        .and_then(|key| key.public_pem)
        .ok_or_else(|| anyhow::anyhow!("the service has no default key pair"))?;
    Ok(PublicKey::from_pem(&pem)
        .map_err(anyhow::Error::new)?
        .to_jwk())
}

/// The JWT of an approved grant, signed RS256 with the service's `default` key (off the async
/// threads: an RSA signature costs CPU).
async fn access_token(
    state: &AppState,
    client: &Client,
    grant: &Grant,
) -> Result<String, OAuthError> {
    let scope = &client.scope;
    let jwk = default_jwk(state, scope).await?;
    let kid = jwk["kid"].as_str().unwrap_or_default().to_owned();
    let signer = Keys::new(state).named(scope, DEFAULT_KEY_NAME).await??;
    let lifetime = u64::try_from(client.settings.token_lifetime_secs).unwrap_or(0);
    let mut claims = Claims::new(UnixTime::now())
        .with_issuer(issuer(state, scope))
        .with_audience(client.settings.client_id.clone())
        .with_jwt_id(new_id())
        .with_subject(grant.holder_did.clone().unwrap_or_default())
        .with_lifetime(Duration::from_secs(lifetime));
    for (name, value) in &grant.claims {
        claims = claims.with_claim(name.clone(), value.clone());
    }
    let token = tokio::task::spawn_blocking(move || signer.bearer_token_with_key_id(&kid, &claims))
        .await
        .map_err(anyhow::Error::new)?
        .map_err(anyhow::Error::new)?;
    Ok(token)
}

/// `GET .../{serviceDid}/jwks`: the key that verifies the service's access tokens.
async fn jwks(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
) -> Result<Response, OAuthError> {
    let jwk = default_jwk(&state, &scope).await?;
    Ok(Json(serde_json::json!({"keys": [jwk]})).into_response())
}
