//! `GET .../public-info/public-key/{name}`: a service's public key, so third parties can verify
//! what the service signs (docs/protocol.md §4.3). SPKI PEM by default; `{name, type, pem, jwk}` when the
//! request accepts `application/json`.

use axum::extract::State;
use axum::http::header::VARY;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use psi_webhook::PublicKey;
use serde::Serialize;
use utoipa::ToSchema;

use super::PublicService;
use super::cache::{self, JSON};
use crate::db::{self, keys::KeyKind};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::path::Path;

const PEM: HeaderValue = HeaderValue::from_static("application/x-pem-file");

/// A public key as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicKeyView {
    pub name: String,
    /// Always `rsa_key_pair`: only the service's own key pairs are published.
    #[serde(rename = "type")]
    pub kind: KeyKind,
    /// SPKI PEM (`BEGIN PUBLIC KEY`).
    pub pem: String,
    /// RFC 7517 JSON Web Key for RS256 (`kty`, `n`, `e`, `alg`, `use`, `kid`).
    #[schema(value_type = Object)]
    pub jwk: serde_json::Value,
}

/// A service's public key.
#[utoipa::path(get, path = "/service-dashboard-backend/service/{serviceDid}/public-info/public-key/{name}",
    operation_id = "public_key", tag = "public",
    description = "No authentication; CORS; `ETag` and `Cache-Control`. Also served under \
        `/service-backend/v1/service/{serviceDid}/...`.",
    params(
        ("serviceDid" = String, Path, description = "The service's public DID"),
        ("name" = String, Path, description = "The key's name (`default` for the key every service has)")),
    responses(
        (status = 200, description = "SPKI PEM, or JSON with `Accept: application/json`",
            content((String = "application/x-pem-file"), (PublicKeyView = "application/json"))),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 404, description = "No such service, or no key pair of that name", body = ErrorBody)))]
pub async fn get(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_did, name) = path;
    let Some(pem) = db::keys::get(&state.db, &scope, &name)
        .await?
        .filter(|key| key.kind == KeyKind::RsaKeyPair)
        .and_then(|key| key.public_pem)
    else {
        return Err(ApiError::not_found("public key"));
    };
    let mut response = if cache::accepts_json(&headers) {
        let public = PublicKey::from_pem(&pem).map_err(anyhow::Error::new)?;
        let view = PublicKeyView {
            name,
            kind: KeyKind::RsaKeyPair,
            jwk: public.to_jwk(),
            pem,
        };
        let body = serde_json::to_vec(&view).map_err(anyhow::Error::new)?;
        cache::respond(JSON, body)
    } else {
        cache::respond(PEM, pem.into_bytes())
    };
    response
        .headers_mut()
        .append(VARY, HeaderValue::from_static("accept"));
    Ok(response)
}
