#![doc = include_str!("../README.md")]
//!
//! ## Crate layout
//!
//! Everything public is at the crate root; the private modules are:
//!
//! - `keys`: [`PrivateKey`], [`PublicKey`], [`SharedSecret`] (PEM and base64 in and out).
//! - `body_signature`: `X-Body-Signature` signing and checking.
//! - `jwt`: compact JWS with the `alg` check; `claims`: [`Claims`] and [`Validation`] (docs/protocol.md §4).
//! - `standard`: Standard Webhooks `v1` (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
//! - `signer`: [`Signer`] and [`Verifier`], the API servers and receivers call.
//! - `time`: [`UnixTime`], the explicit clock.
//! - `error`: [`Error`], each variant with a stable [`Error::code`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod body_signature;
mod claims;
mod encoding;
mod error;
mod jwt;
mod keys;
mod signer;
mod standard;
mod time;

pub use body_signature::SIGNATURE_HEADER;
pub use claims::{Claims, DEFAULT_LEEWAY, TOKEN_LIFETIME, Validation};
pub use error::{Error, Result};
pub use jwt::Algorithm;
pub use keys::{GENERATED_KEY_BITS, PrivateKey, PublicKey, SharedSecret};
pub use signer::{AUTHORIZATION_HEADER, Signer, Verifier};
pub use standard::{
    DEFAULT_TOLERANCE, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER,
    WebhookHeaders,
};
pub use time::UnixTime;
