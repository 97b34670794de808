//! The device authorization grant (RFC 8628) as `ssi-auth-lib` drives it: a page asks for a
//! device and a user code, shows the link with the user code pre-filled, and polls the token
//! endpoint until the holder completes the interaction.

use std::net::IpAddr;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Client, OAuthError, client, field, form, no_store};
use crate::db::oauth::{Grant, GrantState, NewGrant};
use crate::db::{self, now_ms};
use crate::domain::oauth;
use crate::http::AppState;
use crate::http::auth::Peer;
use crate::http::throttle::{AuthConfig, Key};

/// Seconds before the first poll (`initial_interval`, which the library reads; without it, it
/// waits 10 s): at most this, at most the interval.
const FIRST_POLL_SECS: i64 = 2;
/// RFC 8628 §3.5: each `slow_down` adds 5 seconds to the interval, for good.
const SLOW_DOWN_SECS: i64 = 5;
/// Grants started per client (device authorizations and authorization requests alike): 20 at
/// once, then one more every 3 seconds (20 a minute); the most clients tracked at once.
pub const DEVICE_AUTHORIZATION_LIMIT: AuthConfig = AuthConfig {
    failure_burst: 20,
    failure_interval: Duration::from_secs(3),
    max_tracked: 10_000,
};
/// Tries at a user code that no pending grant has.
const USER_CODE_TRIES: usize = 5;

/// Counts a grant started for a client from an address: refused (`slow_down`, with
/// `Retry-After`) beyond [`DEVICE_AUTHORIZATION_LIMIT`], so a page cannot mint codes (and fill
/// the table) faster, and one visitor cannot use up the client's sign-ins for everyone.
pub(super) fn throttle(
    state: &AppState,
    client_id: &str,
    peer: Option<IpAddr>,
) -> Result<(), OAuthError> {
    let from = peer.map(|ip| ip.to_string()).unwrap_or_default();
    let key = [Key::OAuthClient(format!("{client_id} {from}"))];
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
    Ok(())
}

/// Stores a pending grant of `client` under a new user code (retried while the code is pending
/// already); returns the user code.
pub(super) async fn start(
    state: &AppState,
    client: &Client,
    handle_hash: &str,
    authorization: Option<&db::oauth::AuthorizationRequest>,
) -> Result<String, OAuthError> {
    let settings = &client.settings;
    let interval = settings.poll_interval_secs;
    let mut tries = 0;
    loop {
        let user_code = oauth::user_code();
        let new = NewGrant {
            service_id: client.scope.service_id(),
            client: &client.found,
            client_id: &client.id,
            handle_hash,
            user_code: &user_code,
            expires_at: now_ms() + settings.code_lifetime_secs * 1000,
            poll_interval: interval,
            initial_interval: interval.min(FIRST_POLL_SECS),
            authorization,
        };
        match db::oauth::insert(&state.db, &new).await {
            Ok(()) => return Ok(user_code),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && tries < USER_CODE_TRIES => {
                tries += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
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
pub(super) async fn device_authorization(
    State(state): State<AppState>,
    Peer(peer): Peer,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = form(&body)?;
    let client_id = field(&form, "client_id")?;
    // Known clients only count: unknown ids would fill the throttle's table.
    let client = client(&state, client_id).await?;
    throttle(&state, &client.id, peer)?;
    let (device_code, hash) = oauth::secret();
    let user_code = start(&state, &client, &hash, None).await?;
    // The interaction's start page; the complete one pre-fills the user code (RFC 8628 §3.3.1),
    // for a client that shows the page instead of building the link itself.
    let start = format!(
        "{}/s/{}/{}/start.html",
        state.public_url, client.found.service_did, client.found.interaction_id
    );
    let definition = db::oauth::ssi_authentication_cached(&state.db, &client.scope)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the service has no SSI Authentication definition"))?;
    let mut complete = url::Url::parse(&start).map_err(anyhow::Error::new)?;
    complete.query_pairs_mut().append_pair(
        "prefill",
        &format!(
            "{}:{}={user_code}",
            definition.credential_id,
            oauth::USER_CODE_ATTRIBUTE
        ),
    );
    let settings = &client.settings;
    let answer = DeviceAuthorization {
        verification_uri_complete: complete.into(),
        verification_uri: start,
        device_code,
        user_code,
        expires_in: settings.code_lifetime_secs,
        interval: settings.poll_interval_secs,
        initial_interval: settings.poll_interval_secs.min(FIRST_POLL_SECS),
    };
    Ok(no_store(Json(answer).into_response()))
}

/// The grant of a token request's `device_code`, once approved: `authorization_pending` and
/// `slow_down` before, `expired_token` after its time, `invalid_grant` when unknown, another
/// client's, or used.
pub(super) async fn exchange(
    state: &AppState,
    client: &Client,
    form: &Map<String, Value>,
) -> Result<Grant, OAuthError> {
    let device_code = field(form, "device_code")?;
    let hash = oauth::secret_hash(device_code);
    let invalid = || OAuthError::invalid_grant("the device code is not valid");
    let grant = db::oauth::by_handle(&state.db, &hash)
        .await?
        .filter(|g| {
            g.authorization.is_none()
                && g.client_id == client.id
                && g.installation_id == client.found.installation_id
                && g.interaction_id == client.found.interaction_id
        })
        .ok_or_else(invalid)?;
    let now = now_ms();
    match grant.state {
        GrantState::Used => Err(invalid()),
        GrantState::Denied => Err(OAuthError::bad(
            "access_denied",
            "the holder did not sign in",
        )),
        _ if now >= grant.expires_at => Err(OAuthError::bad(
            "expired_token",
            "the device code has expired; start again",
        )),
        GrantState::Pending => Err(pending(state, &grant, now).await?),
        GrantState::Approved => Ok(grant),
    }
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
