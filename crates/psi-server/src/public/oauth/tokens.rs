//! The tokens of a grant and what relying parties read to check them: the access token and
//! OpenID Connect's `id_token` (RS256 with the key the client's settings name), the sign-in's
//! record on its event and its `oauth.signed_in` notification, written with the grant's use in
//! one transaction; the service's discovery document, JWKS and the userinfo endpoint.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use psi_webhook::{Claims, PublicKey, UnixTime, Validation, Verifier};
use serde_json::{Map, Value, json};

use super::{
    AUTHORIZATION_CODE_GRANT, CURRENT_BASE, Client, DEVICE_CODE_GRANT, OAuthError, TokenAnswer,
};
use crate::calls::Keys;
use crate::db::events::{LogEntry, LogKind};
use crate::db::keys::KeyKind;
use crate::db::oauth::Grant;
use crate::db::{self, new_id, now_ms};
use crate::delivery::{self, EventType, SignedIn};
use crate::http::AppState;
use crate::ids::EventId;
use crate::public::PublicService;
use crate::scope::ServiceScope;

/// The issuer of the service's tokens: `iss`, and the base of its discovery document.
pub(super) fn issuer(state: &AppState, did: &str) -> String {
    format!("{}{CURRENT_BASE}/{did}", state.public_url)
}

/// The scope value that asks for an `id_token`.
const OPENID: &str = "openid";
/// The access token's `typ` (RFC 9068), which tells it from an `id_token` signed by the same key.
const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The tokens of an approved grant, once: signed first, then the grant is used, the sign-in
/// recorded on its event and notified, in one transaction; a grant used meanwhile is
/// `invalid_grant` and its tokens are dropped.
pub(super) async fn issue(
    state: &AppState,
    client: &Client,
    grant: &Grant,
) -> Result<TokenAnswer, OAuthError> {
    let scope = &client.scope;
    let settings = &client.settings;
    let (kid, signer) = signing_key(state, scope, &settings.signing_key).await?;
    let lifetime = Duration::from_secs(u64::try_from(settings.token_lifetime_secs).unwrap_or(0));
    let common = Claims::new(UnixTime::now())
        .with_issuer(issuer(state, scope.did().as_str()))
        .with_audience(client.id.clone())
        .with_subject(grant.holder_did.clone().unwrap_or_default())
        .with_lifetime(lifetime);
    let with_mapped = |mut claims: Claims| {
        for (name, value) in &grant.claims {
            claims = claims.with_claim(name.clone(), value.clone());
        }
        claims
    };
    let request = grant.authorization.as_ref();
    // Only what psi supports is granted (and said to be).
    let scope_asked = request
        .and_then(|r| r.scope.as_deref())
        .filter(|asked| asked.split(' ').any(|s| s == OPENID))
        .map(|_| OPENID.to_owned());
    let mut access = with_mapped(common.clone().with_jwt_id(new_id()));
    if let Some(asked) = &scope_asked {
        access = access.with_claim("scope", Value::from(asked.as_str()));
    }
    let id_token = scope_asked.is_some().then(|| {
        let auth_time = grant.approved_at.unwrap_or(grant.created_at) / 1000;
        let mut claims = with_mapped(common).with_claim("auth_time", Value::from(auth_time));
        if let Some(nonce) = request.and_then(|r| r.nonce.as_deref()) {
            claims = claims.with_claim("nonce", Value::from(nonce));
        }
        claims
    });
    let (access_token, id_token) = tokio::task::spawn_blocking(move || {
        let access = signer.typed_token(&kid, ACCESS_TOKEN_TYPE, &access)?;
        let id = id_token
            .map(|claims| signer.bearer_token_with_key_id(&kid, &claims))
            .transpose()?;
        Ok::<_, psi_webhook::Error>((access, id))
    })
    .await
    .map_err(anyhow::Error::new)?
    .map_err(anyhow::Error::new)?;
    signed_in(state, client, grant).await?;
    tracing::info!(did = %scope.did(), client_id = %client.id, "SSI OAuth tokens issued");
    Ok(TokenAnswer {
        access_token,
        token_type: "Bearer",
        expires_in: settings.token_lifetime_secs,
        id_token,
        scope: scope_asked,
    })
}

/// Uses the grant, and records the sign-in on its event with an `oauth.signed_in` notification,
/// in one transaction.
async fn signed_in(state: &AppState, client: &Client, grant: &Grant) -> Result<(), OAuthError> {
    let scope = &client.scope;
    let flow = if grant.authorization.is_some() {
        AUTHORIZATION_CODE_GRANT
    } else {
        "device_code"
    };
    let mut tx = state.db.begin().await?;
    if !db::oauth::take(&mut tx, &grant.id).await? {
        tx.rollback().await?;
        return Err(OAuthError::invalid_grant("the grant was used already"));
    }
    let mut due = None;
    if let Some(event_id) = &grant.event_id {
        let entry = LogEntry {
            at: now_ms(),
            kind: LogKind::SignedIn,
            detail: format!(
                "SSI OAuth gave client {} the tokens of this sign-in ({flow})",
                client.id
            ),
        };
        let event_id = EventId::from(event_id.clone());
        db::events::append_capped(&mut tx, scope, &event_id, &entry, 1).await?;
        let notification = SignedIn {
            subscriber_connect_did: grant.holder_did.clone().unwrap_or_default(),
            action_id: grant.interaction_id.clone(),
            action_event_id: event_id.to_string(),
            client_id: client.id.clone(),
            flow,
            claims: grant.claims.clone(),
        };
        let (_, enqueued) =
            delivery::enqueue(&mut tx, scope, EventType::OAuthSignedIn, &notification).await?;
        due = Some(enqueued);
    }
    tx.commit().await?;
    if let Some(due) = due {
        due.announce();
    }
    Ok(())
}

/// The signer of the service's key `name` and its `kid` (the RFC 7638 thumbprint).
async fn signing_key(
    state: &AppState,
    scope: &ServiceScope,
    name: &str,
) -> Result<(String, std::sync::Arc<psi_webhook::Signer>), OAuthError> {
    let pem = db::keys::get(&state.db, scope, name)
        .await?
        .filter(|key| key.kind == KeyKind::RsaKeyPair)
        .and_then(|key| key.public_pem)
        .ok_or_else(|| anyhow::anyhow!("the service has no RSA key pair {name:?} to sign with"))?;
    let jwk = PublicKey::from_pem(&pem)
        .map_err(anyhow::Error::new)?
        .to_jwk();
    let kid = jwk["kid"].as_str().unwrap_or_default().to_owned();
    let signer = Keys::new(state)
        .named(scope, name)
        .await?
        .map_err(|e| anyhow::anyhow!("the key {name:?} cannot sign: {e}"))?;
    Ok((kid, signer))
}

/// The public keys of the service's RSA key pairs, any of which SSI OAuth may sign with, as JWKs.
async fn service_jwks(state: &AppState, scope: &ServiceScope) -> Result<Vec<Value>, OAuthError> {
    let mut keys = Vec::new();
    for key in db::keys::list(&state.db, scope).await? {
        if let (KeyKind::RsaKeyPair, Some(pem)) = (key.kind, key.public_pem) {
            keys.push(
                PublicKey::from_pem(&pem)
                    .map_err(anyhow::Error::new)?
                    .to_jwk(),
            );
        }
    }
    Ok(keys)
}

/// `GET .../{serviceDid}/jwks`: the keys that verify the service's tokens.
pub(super) async fn jwks(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
) -> Result<Response, OAuthError> {
    let keys = service_jwks(&state, &scope).await?;
    Ok(Json(json!({"keys": keys})).into_response())
}

/// `GET /oauth2/{serviceDid}/.well-known/openid-configuration`: OpenID Connect Discovery 1.0
/// (and RFC 8414) for the service as issuer.
pub(super) async fn discovery(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
) -> Response {
    let base = format!("{}{CURRENT_BASE}", state.public_url);
    let issuer = issuer(&state, scope.did().as_str());
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorization"),
        "token_endpoint": format!("{base}/token"),
        "device_authorization_endpoint": format!("{base}/device_authorization"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "scopes_supported": [OPENID],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [AUTHORIZATION_CODE_GRANT, DEVICE_CODE_GRANT],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
    }))
    .into_response()
}

/// A refused userinfo request (RFC 6750 §3): without a token, only the challenge.
fn invalid_token(description: Option<&str>) -> Response {
    let (body, challenge) = match description {
        Some(description) => (
            json!({"error": "invalid_token", "error_description": description}),
            format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
        ),
        None => (
            json!({"error": "invalid_request", "error_description": "no access token"}),
            "Bearer".to_owned(),
        ),
    };
    let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    super::no_store(response)
}

/// `GET|POST .../userinfo` with `Authorization: Bearer <access token>`: the token's subject and
/// mapped claims (OpenID Connect Core §5.3).
pub(super) async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return invalid_token(None);
    };
    match verified(&state, token).await {
        Ok(Some(claims)) => {
            let mut info = Map::new();
            info.insert("sub".into(), Value::from(claims.sub.unwrap_or_default()));
            info.extend(claims.extra.into_iter().filter(|(name, _)| name != "scope"));
            super::no_store(Json(Value::Object(info)).into_response())
        }
        Ok(None) => invalid_token(Some(
            "the access token is not one psi issued, or has expired",
        )),
        Err(error) => error.into_response(),
    }
}

/// The claims of an access token, verified with its issuer's key; `None` when it is not a valid
/// access token of a service here (an `id_token` is not one: its `typ` is `JWT`).
async fn verified(state: &AppState, token: &str) -> Result<Option<Claims>, OAuthError> {
    // Which service's key: read from the token, then checked by the signature.
    let part = |index: usize| -> Option<Value> {
        let text = token.split('.').nth(index)?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).ok()?).ok()
    };
    let (Some(header), Some(payload)) = (part(0), part(1)) else {
        return Ok(None);
    };
    if header["typ"] != ACCESS_TOKEN_TYPE {
        return Ok(None);
    }
    let prefix = format!("{}{CURRENT_BASE}/", state.public_url);
    let iss = payload["iss"].as_str().unwrap_or_default();
    let Some(did) = iss.strip_prefix(&prefix).and_then(|d| d.parse().ok()) else {
        return Ok(None);
    };
    let Some(scope) = db::services::scope_for_did(&state.db, &did).await? else {
        return Ok(None);
    };
    let kid = header["kid"].as_str().unwrap_or_default();
    let Some(jwk) = service_jwks(state, &scope)
        .await?
        .into_iter()
        .find(|jwk| jwk["kid"] == kid)
    else {
        return Ok(None);
    };
    let key = PublicKey::from_jwk(&jwk).map_err(anyhow::Error::new)?;
    // psi's own clock signed it: no leeway past `exp`.
    let validation = Validation::new()
        .expect_issuer(iss)
        .with_leeway(Duration::ZERO);
    let claims = Verifier::rsa(key).verify_bearer(token, b"", &validation, UnixTime::now());
    Ok(claims.ok())
}
