//! Base64 flavours and the body hash shared by the signature and token code.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha3::{Digest, Sha3_256};

/// Standard alphabet, padded when encoding; decoding takes values with or without padding,
/// since some senders strip it and the signature check is what matters.
pub(crate) const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe alphabet without padding: JWS segments (RFC 7515 §2) and `body_sha3_256`.
pub(crate) const URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// SHA3-256 of the exact body bytes.
pub(crate) fn sha3_256(body: &[u8]) -> [u8; 32] {
    Sha3_256::digest(body).into()
}
