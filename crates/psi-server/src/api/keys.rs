//! `/api/v1/services/{did}/keys`: RSA key pairs (generated or imported), third parties' RSA
//! public keys, and SHA secrets (generated or imported). Private material is sealed with the master
//! key before it reaches `db`, and no answer contains it, except a generated SHA secret, shown once
//! at creation so it can be given to the third party.

use axum::extract::State;
use axum::http::StatusCode;
use psi_webhook::{PrivateKey, PublicKey, SharedSecret};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::page::{Page, list_query};
use super::services::DEFAULT_KEY_NAME;
use crate::db::{self, keys::KeyInfo, keys::KeyKind, keys::NewKey};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, ResultExt};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::scope::ServiceScope;

/// A new key: generated when no material is given, else imported.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Unique per service: 1 to 64 of `A-Z a-z 0-9 . _ -` (it appears in URLs).
    #[schema(example = "partner")]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: KeyKind,
    /// `rsa_key_pair` only: a PKCS#8 or PKCS#1 PEM private key to import.
    #[schema(value_type = Option<String>)]
    pub private_key_pem: Option<SecretString>,
    /// `rsa_public_key` only (required): the third party's SPKI or PKCS#1 PEM public key.
    pub public_key_pem: Option<String>,
    /// `sha_secret` only: standard base64 of at least 32 bytes to import, optionally prefixed
    /// `whsec_` as Standard Webhooks shows secrets.
    #[schema(value_type = Option<String>)]
    pub secret: Option<SecretString>,
}

/// A key, without private material.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: KeyKind,
    /// SPKI PEM of RSA keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_pem: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Only when a SHA secret was generated, in the answer to its creation: standard base64. A
    /// Standard Webhooks library takes it as it is or as `whsec_<secret>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<KeyInfo> for KeyView {
    fn from(key: KeyInfo) -> Self {
        KeyView {
            name: key.name,
            kind: key.kind,
            public_pem: key.public_pem,
            created_at: key.created_at,
            secret: None,
        }
    }
}

/// Add a key: generate one, or import PEM or base64.
#[utoipa::path(post, path = "/api/v1/services/{did}/keys", operation_id = "create_key", tag = "keys",
    security(("bearer" = [])), request_body = CreateKey,
    params(("did" = String, Path, description = "The service's public DID")),
    responses(
        (status = 201, description = "Created", body = KeyView),
        (status = 400, description = "The PEM or base64 does not parse", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "Invalid name or fields for the type", body = ErrorBody)))]
pub async fn create(
    scope: ServiceScope,
    State(state): State<AppState>,
    Json(body): Json<CreateKey>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let name = validate_key_name(&body.name)?;
    reject_fields_of_other_types(&body)?;
    let mut shown_secret = None;
    let new_key = match body.kind {
        KeyKind::RsaKeyPair => match &body.private_key_pem {
            None => generate_rsa_key_pair(&state, name).await?,
            Some(pem) => {
                let key = PrivateKey::from_pem(pem.expose_secret())
                    .map_err(|e| ApiError::BadRequest(format!("`private_key_pem`: {e}")))?;
                rsa_key_pair(&state, name, &key)?
            }
        },
        KeyKind::RsaPublicKey => {
            let pem = body.public_key_pem.as_deref().ok_or_else(|| {
                ApiError::Validation("`public_key_pem` is required for rsa_public_key".into())
            })?;
            let key = PublicKey::from_pem(pem)
                .map_err(|e| ApiError::BadRequest(format!("`public_key_pem`: {e}")))?;
            NewKey {
                id: db::new_id(),
                name,
                kind: KeyKind::RsaPublicKey,
                public_pem: Some(key.to_spki_pem().map_err(anyhow::Error::new)?),
                secret_sealed: None,
            }
        }
        KeyKind::ShaSecret => {
            let secret = match &body.secret {
                Some(text) => SharedSecret::from_base64(text.expose_secret())
                    .map_err(|e| ApiError::BadRequest(format!("`secret`: {e}")))?,
                None => {
                    let secret = SharedSecret::generate().map_err(anyhow::Error::new)?;
                    shown_secret = Some(secret.to_base64().to_string());
                    secret
                }
            };
            let id = db::new_id();
            NewKey {
                secret_sealed: Some(
                    state
                        .master_key
                        .seal(id.as_bytes(), secret.to_base64().as_bytes()),
                ),
                id,
                name,
                kind: KeyKind::ShaSecret,
                public_pem: None,
            }
        }
    };
    let info = db::keys::insert(&state.db, &scope, &new_key)
        .await
        .on_unique(|| {
            ApiError::Conflict(format!("a key named {:?} already exists", new_key.name))
        })?;
    tracing::info!(did = %scope.did(), key = %info.name, kind = ?info.kind, "key added");
    let mut view = KeyView::from(info);
    view.secret = shown_secret;
    Ok((StatusCode::CREATED, Json(view)))
}

list_query! {
    /// Filters of the key list.
    pub struct KeyQuery {
        /// Only keys of this type (the views' `type`).
        #[serde(rename = "type")]
        pub kind: Option<KeyKind>,
    }
}

/// List a service's keys.
#[utoipa::path(get, path = "/api/v1/services/{did}/keys", operation_id = "list_keys", tag = "keys",
    security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), KeyQuery),
    responses(
        (status = 200, description = "A page of keys, oldest first", body = Page<KeyView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "A filter, `limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn list(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(query): Query<KeyQuery>,
) -> Result<Json<Page<KeyView>>, ApiError> {
    let paging = query.paging()?;
    let keys = db::keys::page(&state.db, &scope, query.kind, &paging).await?;
    Ok(Json(Page::cut(&paging, keys)))
}

/// Get one key.
#[utoipa::path(get, path = "/api/v1/services/{did}/keys/{name}", operation_id = "get_key", tag = "keys",
    security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("name" = String, Path, description = "The key's name")),
    responses(
        (status = 200, description = "The key", body = KeyView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or key", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
) -> Result<Json<KeyView>, ApiError> {
    let (_did, name) = path;
    let key = db::keys::get(&state.db, &scope, &name)
        .await?
        .ok_or_else(|| ApiError::not_found("key"))?;
    Ok(Json(key.into()))
}

/// Delete a key. The `default` key pair stays.
#[utoipa::path(delete, path = "/api/v1/services/{did}/keys/{name}", operation_id = "delete_key", tag = "keys",
    security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("name" = String, Path, description = "The key's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or key", body = ErrorBody),
        (status = 409, description = "The default key, or a key a webhook or credential definition uses", body = ErrorBody)))]
pub async fn delete(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (_did, name) = path;
    if name == DEFAULT_KEY_NAME {
        return Err(ApiError::Conflict(
            "the default key cannot be deleted: the service signs with it".into(),
        ));
    }
    let deleted = db::keys::delete(&state.db, &scope, &name)
        .await
        .on_referenced(|| {
            ApiError::Conflict(format!(
                "key `{name}` is in use by a webhook or a credential definition's issuers: \
                 point them at another key first"
            ))
        })?;
    if !deleted {
        return Err(ApiError::not_found("key"));
    }
    tracing::info!(did = %scope.did(), key = %name, "key deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Generates an RSA key pair (off the async threads: it takes a while) ready to insert.
pub(crate) async fn generate_rsa_key_pair(
    state: &AppState,
    name: String,
) -> Result<NewKey, ApiError> {
    let key = tokio::task::spawn_blocking(PrivateKey::generate)
        .await
        .map_err(anyhow::Error::new)?
        .map_err(anyhow::Error::new)?;
    rsa_key_pair(state, name, &key)
}

fn rsa_key_pair(state: &AppState, name: String, key: &PrivateKey) -> Result<NewKey, ApiError> {
    let id = db::new_id();
    let private_pem = key.to_pkcs8_pem().map_err(anyhow::Error::new)?;
    Ok(NewKey {
        secret_sealed: Some(state.master_key.seal(id.as_bytes(), private_pem.as_bytes())),
        public_pem: Some(key.public_key().to_spki_pem().map_err(anyhow::Error::new)?),
        id,
        name,
        kind: KeyKind::RsaKeyPair,
    })
}

fn validate_key_name(name: &str) -> Result<String, ApiError> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        return Err(ApiError::Validation(
            "`name` must be 1 to 64 of A-Z a-z 0-9 . _ -".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Material given for another type is a mistake worth reporting, not ignoring.
fn reject_fields_of_other_types(body: &CreateKey) -> Result<(), ApiError> {
    let given = [
        (
            "private_key_pem",
            body.private_key_pem.is_some(),
            KeyKind::RsaKeyPair,
        ),
        (
            "public_key_pem",
            body.public_key_pem.is_some(),
            KeyKind::RsaPublicKey,
        ),
        ("secret", body.secret.is_some(), KeyKind::ShaSecret),
    ];
    for (field, present, kind) in given {
        if present && kind != body.kind {
            return Err(ApiError::Validation(format!(
                "`{field}` does not apply to a key of type {}",
                body.kind.as_str()
            )));
        }
    }
    Ok(())
}
