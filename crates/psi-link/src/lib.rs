//! Encode, decode and validate the links that start an interaction on a ProofSpace-style
//! verifiable-credential platform.
//!
//! A link is `<scheme>://<domain>/native/execute/<payload>`: `https` for an app link, the app's own
//! scheme for a deep link, and a payload that is the request's compact JSON in base64. This crate
//! has no I/O: it never fetches a request's `sourceURL`.
//!
//! ```
//! use psi_link::{decode, encode, Environment, LinkKind, LinkOrigin, LinkRequest, LinkTarget};
//!
//! let mut req = LinkRequest {
//!     action_id: Some("100".into()),
//!     service_did: Some("GbzPqgnU4XsMs7xg9mYJW8".into()),
//!     ..Default::default()
//! };
//! req.set_prefilled("GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:tag", "Name", "Alice");
//!
//! let link = encode(&req, &LinkTarget::env(Environment::Production), LinkKind::App)?;
//! assert!(link.starts_with("https://proofspace.id/native/execute/"));
//!
//! let decoded = decode(&link)?;
//! assert_eq!(decoded.request, req);
//! assert_eq!(decoded.kind, LinkKind::App);
//! assert_eq!(decoded.origin, LinkOrigin::Environment(Environment::Production));
//! # Ok::<(), psi_link::LinkError>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod decode;
mod encode;
mod error;
mod ids;
mod request;
mod target;

pub use decode::{DecodedLink, Decoder, decode};
pub use encode::{encode, encode_payload};
pub use error::LinkError;
pub use ids::{CredentialDefinitionId, Did, IdError, SchemaId, is_valid_did};
pub use request::{Attribute, LinkRequest, PreparedCredential};
pub use target::{Environment, LinkKind, LinkOrigin, LinkTarget};

/// The longest link accepted, in bytes, when encoding or decoding: 8 KiB.
///
/// That is well above the 2,953 bytes the largest QR code holds, and it is the request-line limit of
/// common web servers (nginx's default buffer is 8 KiB), so a longer app link could not even open
/// the platform's fallback web page. Larger requests belong behind a `sourceURL` link.
pub const MAX_LINK_LEN: usize = 8 * 1024;

/// Runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
