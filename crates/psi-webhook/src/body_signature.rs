//! `X-Body-Signature`: RSA PKCS#1 v1.5 with SHA3-256 over the exact body bytes, standard
//! padded base64 (docs/protocol.md §4).

use base64::Engine as _;
use sha3::Sha3_256;

use crate::encoding::STANDARD_LENIENT;
use crate::error::{Error, Result};
use crate::keys::{PrivateKey, PublicKey};

/// Name of the header that carries the body signature.
pub const SIGNATURE_HEADER: &str = "X-Body-Signature";

pub(crate) fn sign(key: &PrivateKey, body: &[u8]) -> Result<String> {
    let signature = key.sign_pkcs1v15::<Sha3_256>(body)?;
    Ok(STANDARD_LENIENT.encode(signature))
}

pub(crate) fn verify(key: &PublicKey, body: &[u8], header: Option<&str>) -> Result<()> {
    let value = header.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(Error::MissingSignature);
    }
    let signature = STANDARD_LENIENT
        .decode(value)
        .map_err(|_| Error::BadBase64 {
            what: SIGNATURE_HEADER,
        })?;
    if key.verify_pkcs1v15::<Sha3_256>(body, &signature) {
        Ok(())
    } else {
        Err(Error::SignatureMismatch)
    }
}
