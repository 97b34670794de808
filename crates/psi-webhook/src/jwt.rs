//! JWS compact serialization (RFC 7515) for the two algorithms the protocol uses.
//!
//! This module knows segments, headers and the `alg` check; the key operations are passed in
//! by [`crate::signer`], and claims are parsed and checked by [`crate::claims`].

use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

use crate::encoding::URL_SAFE;
use crate::error::{Error, Result};

/// A JWS algorithm this crate signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, with an RSA key.
    Rs256,
    /// HMAC with SHA-256, with a shared secret.
    Hs256,
}

impl Algorithm {
    /// The `alg` header value, e.g. `"RS256"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Hs256 => "HS256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    /// Present only to be refused: RFC 7515 §4.1.11 requires rejecting critical extensions
    /// the receiver does not understand, and this crate understands none.
    crit: Option<serde::de::IgnoredAny>,
}

/// Builds `header.payload.signature`, the header naming the key `kid` when given; `sign` gets
/// the signing input (`header.payload`).
pub(crate) fn encode(
    alg: Algorithm,
    (kid, typ): (Option<&str>, &str),
    payload_json: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>>,
) -> Result<String> {
    // Same header, field order included, as the vectors' tokens; `kid` after them.
    let typ = serde_json::to_string(typ).expect("a string serializes");
    let header = match kid {
        None => format!(r#"{{"alg":"{alg}","typ":{typ}}}"#),
        Some(kid) => {
            let kid = serde_json::to_string(kid).expect("a string serializes");
            format!(r#"{{"alg":"{alg}","typ":{typ},"kid":{kid}}}"#)
        }
    };
    let mut token = URL_SAFE.encode(header);
    token.push('.');
    URL_SAFE.encode_string(payload_json, &mut token);
    let signature = sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE.encode_string(signature, &mut token);
    Ok(token)
}

/// Checks the header's `alg` against `alg` and the signature with `verify(signing_input,
/// signature)`, then returns the payload bytes. Nothing from the payload is read before the
/// signature has verified.
pub(crate) fn decode(
    token: &str,
    alg: Algorithm,
    verify: impl FnOnce(&[u8], &[u8]) -> bool,
) -> Result<Vec<u8>> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::TokenMalformed(
            "expected three dot-separated base64url segments",
        ));
    };
    let header_json = URL_SAFE
        .decode(header_b64)
        .map_err(|_| Error::TokenMalformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_json)
        .map_err(|_| Error::TokenMalformed("header is not a JSON object with an alg"))?;
    if header.alg != alg.as_str() {
        // Refusing any other alg stops `none` and RS256/HS256 key confusion.
        return Err(Error::WrongAlgorithm {
            expected: alg,
            found: header.alg,
        });
    }
    if header.crit.is_some() {
        return Err(Error::TokenMalformed(
            "header has critical extensions (crit), none are supported",
        ));
    }
    let signature = URL_SAFE
        .decode(signature_b64)
        .map_err(|_| Error::TokenMalformed("signature is not base64url"))?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !verify(signing_input.as_bytes(), &signature) {
        return Err(Error::TokenSignatureMismatch);
    }
    URL_SAFE
        .decode(payload_b64)
        .map_err(|_| Error::TokenMalformed("payload is not base64url"))
}
