//! Who is calling: bearer tokens and the extractors that turn them into permissions.
//!
//! - The admin token (configured, or generated on first run) reaches everything. Only its SHA-256
//!   is stored.
//! - A service token `psi_<id>_<secret>` reaches one service. Its id finds the row; the SHA-256 of
//!   its secret is compared in constant time.
//!
//! Handlers take [`AdminAuth`] for admin-only operations and [`ServiceScope`] for anything under
//! `/services/{did}`: the scope resolves the path's DID for the admin, and for a service token
//! only its own DID; another service's DID answers 404, as if it did not exist.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use super::throttle::peer_address;
use super::throttle::{self, Key};
use crate::crypto::random_bytes;
use crate::db::{self, Db};
use crate::scope::ServiceScope;
use psi_link::Did;

const ADMIN_TOKEN_SETTING: &str = "admin_token_sha256";
const TOKEN_PREFIX: &str = "psi_";
const SECRET_BYTES: usize = 32;

/// The SHA-256 of the admin token. `Debug` shows nothing.
#[derive(Clone)]
pub struct AdminCredential([u8; 32]);

impl std::fmt::Debug for AdminCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminCredential([REDACTED])")
    }
}

impl AdminCredential {
    /// The admin credential of this database. A configured token replaces the stored hash; without
    /// one, the first server to start generates a token, stores its hash and returns the token
    /// (to print once); later starts reuse the stored hash and return `None`.
    pub async fn ensure(
        db: &Db,
        configured: Option<&SecretString>,
    ) -> anyhow::Result<(Self, Option<SecretString>)> {
        if let Some(token) = configured {
            let hash = sha256(token.expose_secret().as_bytes());
            db::settings::put(db, ADMIN_TOKEN_SETTING, &STANDARD.encode(hash)).await?;
            return Ok((AdminCredential(hash), None));
        }
        let token = SecretString::from(format!(
            "{TOKEN_PREFIX}admin_{}",
            URL_SAFE_NO_PAD.encode(random_bytes(SECRET_BYTES))
        ));
        let hash = sha256(token.expose_secret().as_bytes());
        if db::settings::insert_if_absent(db, ADMIN_TOKEN_SETTING, &STANDARD.encode(hash)).await? {
            return Ok((AdminCredential(hash), Some(token)));
        }
        let stored = db::settings::get(db, ADMIN_TOKEN_SETTING)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the admin token hash vanished"))?;
        let stored: [u8; 32] = STANDARD
            .decode(stored)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("the stored admin token hash is damaged"))?;
        Ok((AdminCredential(stored), None))
    }

    fn matches(&self, token: &str) -> bool {
        sha256(token.as_bytes()).ct_eq(&self.0).into()
    }
}

/// A new service token, to show once: the token text, its id, and what to store.
pub struct NewServiceToken {
    pub id: String,
    pub token: SecretString,
    pub secret_sha256: [u8; 32],
}

impl NewServiceToken {
    /// Generates `psi_<id>_<secret>` with 32 random bytes of secret.
    pub fn generate() -> Self {
        let id = db::new_id();
        let secret = URL_SAFE_NO_PAD.encode(random_bytes(SECRET_BYTES));
        NewServiceToken {
            token: SecretString::from(format!("{TOKEN_PREFIX}{id}_{secret}")),
            secret_sha256: sha256(secret.as_bytes()),
            id,
        }
    }
}

/// Splits a service token into its id and secret, if it has that form.
fn parse_service_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.strip_prefix(TOKEN_PREFIX)?.split_once('_')?;
    let is_id = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    is_id.then_some((id, secret))
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The authenticated caller.
#[derive(Debug)]
pub enum Caller {
    /// The admin token.
    Admin,
    /// A service token, limited to its service.
    Service(ServiceScope),
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// Whether `presented` is `expected`, in constant time (of their hashes, so of no length).
pub fn token_matches(presented: &str, expected: &SecretString) -> bool {
    sha256(presented.as_bytes())
        .ct_eq(&sha256(expected.expose_secret().as_bytes()))
        .into()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    /// Checks the bearer token, unless the client's address or the token's prefix has failed too
    /// often lately ([`throttle`](super::throttle)): then 429, right token or not.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let service_token = parse_service_token(token);
        let mut keys = Vec::with_capacity(2);
        if let Some(ip) = peer_address(parts, state.config.inbound.trust_forwarded_for) {
            keys.push(Key::address(ip));
        }
        if let Some((id, _)) = service_token {
            keys.push(Key::Token(id.to_owned()));
        }
        if let Err(wait) = state.auth_throttle.check(&keys) {
            metrics::counter!(throttle::THROTTLED).increment(1);
            return Err(ApiError::TooManyFailures(wait));
        }
        let caller = authenticate(state, token, service_token).await?;
        if caller.is_none() {
            metrics::counter!(throttle::FAILURES).increment(1);
            state.auth_throttle.failed(&keys);
        }
        caller.ok_or(ApiError::Unauthorized)
    }
}

/// The caller `token` authenticates, if any.
async fn authenticate(
    state: &AppState,
    token: &str,
    service_token: Option<(&str, &str)>,
) -> Result<Option<Caller>, ApiError> {
    if state.admin.matches(token) {
        return Ok(Some(Caller::Admin));
    }
    let Some((id, secret)) = service_token else {
        return Ok(None);
    };
    let Some(credential) = db::tokens::find_active(&state.db, id).await? else {
        return Ok(None);
    };
    if !bool::from(sha256(secret.as_bytes()).ct_eq(&credential.secret_sha256)) {
        return Ok(None);
    }
    credential
        .into_scope()
        .map(|scope| Some(Caller::Service(scope)))
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a stored service DID is invalid")))
}

/// The caller holds the admin token (else 401, or 403 for a service token).
#[derive(Debug)]
pub struct AdminAuth;

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Admin => Ok(AdminAuth),
            Caller::Service(_) => Err(ApiError::Forbidden(
                "this operation needs the admin token".into(),
            )),
        }
    }
}

impl FromRequestParts<AppState> for ServiceScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let did = super::path::param(parts, state, "did").await?;
        let not_found = || ApiError::not_found("service");
        let did: Did = did.parse().map_err(|_| not_found())?;
        match caller {
            Caller::Admin => db::services::scope_for_did(&state.db, &did)
                .await?
                .ok_or_else(not_found),
            Caller::Service(scope) if *scope.did() == did => Ok(scope),
            Caller::Service(_) => Err(not_found()),
        }
    }
}

/// The client's address as the throttles key it (behind a trusted proxy, the last
/// `X-Forwarded-For` entry).
pub struct Peer(pub Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<AppState> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(super::throttle::peer_address(
            parts,
            state.config.inbound.trust_forwarded_for,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_service_tokens_parse_back_to_their_id_and_hashed_secret() {
        let new = NewServiceToken::generate();
        let (id, secret) = parse_service_token(new.token.expose_secret()).unwrap();
        assert_eq!(id, new.id);
        assert_eq!(sha256(secret.as_bytes()), new.secret_sha256);
    }

    #[test]
    fn other_strings_are_not_service_tokens() {
        for token in ["", "psi_", "psi_admin_abc", "psi_xyz_secret", "bearer"] {
            assert!(parse_service_token(token).is_none(), "{token:?}");
        }
    }
}
