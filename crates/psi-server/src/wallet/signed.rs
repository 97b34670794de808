//! Signed wallet calls: `X-Holder-Verkey` (base58 Ed25519 public key) and `X-Holder-Signature`
//! (base64url Ed25519 signature over the exact body bytes), a body naming the holder's DID (which
//! must derive from the key), a `timestamp` within five minutes of the server's clock and a
//! `nonce` (accepted once, where the call takes effect).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::db::now_ms;
use crate::engine::Holder;
use crate::http::error::ApiError;
use crate::ids::HolderDid;

/// The header carrying the holder's verkey.
pub const VERKEY_HEADER: &str = "x-holder-verkey";
/// The header carrying the signature of the body.
pub const SIGNATURE_HEADER: &str = "x-holder-signature";
/// How far a call's `timestamp` may be from the server's clock, either way.
pub const TIMESTAMP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// Nonce length bounds, in characters.
const NONCE_CHARS: std::ops::RangeInclusive<usize> = 8..=128;

/// base64url, with or without padding.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The signature headers of a call (also their OpenAPI description).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct HolderHeaders {
    /// Base58 of the holder's 32-byte Ed25519 public key.
    #[param(rename = "X-Holder-Verkey")]
    verkey: String,
    /// base64url of the Ed25519 signature over the exact body bytes.
    #[param(rename = "X-Holder-Signature")]
    signature: String,
}

/// The members every signed body has.
pub trait HolderCall {
    fn holder_did(&self) -> &str;
    /// Unix milliseconds.
    fn timestamp(&self) -> i64;
    fn nonce(&self) -> &str;
}

/// A body whose signature, DID, timestamp and nonce form are checked. Missing headers answer
/// 401, a signature that does not verify or a DID that is not the key's 403, a stale
/// timestamp 403.
#[derive(Debug)]
pub struct Signed<T> {
    pub holder: Holder,
    pub body: T,
}

impl<T, S> FromRequest<S> for Signed<T>
where
    T: DeserializeOwned + HolderCall,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let HolderHeaders { verkey, signature } = signature_headers(request.headers())?;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| match e.status() {
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                _ => ApiError::BadRequest(e.body_text()),
            })?;
        let key = verify(&verkey, &signature, &bytes)?;
        let body: T = serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ApiError::Validation(e.to_string()),
            _ => ApiError::BadRequest(format!("the body is not valid JSON: {e}")),
        })?;
        let did = did_of(&key);
        if body.holder_did() != did.as_str() {
            return Err(ApiError::Forbidden(format!(
                "`holderDid` is not the DID of the signing key (expected {did})"
            )));
        }
        let skew = (now_ms() - body.timestamp()).abs();
        if skew > TIMESTAMP_WINDOW_MS {
            return Err(ApiError::Forbidden(format!(
                "`timestamp` is {} s away from the server's clock (at most {} s allowed): \
                 send the current time in unix milliseconds",
                skew / 1000,
                TIMESTAMP_WINDOW_MS / 1000
            )));
        }
        let nonce = body.nonce();
        if !NONCE_CHARS.contains(&nonce.chars().count()) || nonce.chars().any(char::is_control) {
            return Err(ApiError::Validation(format!(
                "`nonce` must be {} to {} characters, random for every call",
                NONCE_CHARS.start(),
                NONCE_CHARS.end()
            )));
        }
        Ok(Signed {
            holder: Holder { did, verkey },
            body,
        })
    }
}

fn signature_headers(headers: &HeaderMap) -> Result<HolderHeaders, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    match (header(VERKEY_HEADER), header(SIGNATURE_HEADER)) {
        (Some(verkey), Some(signature)) => Ok(HolderHeaders { verkey, signature }),
        _ => Err(ApiError::SignatureRequired(
            "this call must be signed by the holder: `X-Holder-Verkey` and `X-Holder-Signature` \
             headers are required"
                .into(),
        )),
    }
}

/// Checks the signature of `body` and returns the key.
fn verify(verkey: &str, signature: &str, body: &[u8]) -> Result<VerifyingKey, ApiError> {
    let key: [u8; 32] = bs58::decode(verkey)
        .into_vec()
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            ApiError::Forbidden("`X-Holder-Verkey` is not base58 of a 32-byte key".into())
        })?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|_| ApiError::Forbidden("`X-Holder-Verkey` is not an Ed25519 key".into()))?;
    let signature: [u8; 64] = BASE64URL
        .decode(signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            ApiError::Forbidden("`X-Holder-Signature` is not base64url of 64 bytes".into())
        })?;
    key.verify_strict(body, &Signature::from_bytes(&signature))
        .map_err(|_| {
            ApiError::Forbidden("the holder signature does not verify over the body".into())
        })?;
    Ok(key)
}

/// A holder's DID: base58 of the first 16 bytes of its public key (as service DIDs).
fn did_of(key: &VerifyingKey) -> HolderDid {
    HolderDid::of_key(&key.to_bytes())
}
