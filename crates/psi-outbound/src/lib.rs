//! Guarded outbound HTTP: every call psi makes to another server goes through this crate.
//!
//! Webhooks to third parties, credential-check webhooks, notification deliveries and the
//! download of a link's `sourceURL` all take URLs that someone else chose. Unchecked, such a URL
//! makes the server fetch `http://127.0.0.1:5432/`, `http://169.254.169.254/` (cloud
//! credentials) or an office intranet on an attacker's behalf (server-side request forgery).
//! An [`OutboundClient`] refuses those addresses under an [`OutboundPolicy`]: for literal
//! addresses before anything is sent, for host names on the addresses they resolve to (so a
//! name pointing at 127.0.0.1, or re-pointed there between two lookups, is caught), and again on
//! every redirect. It also caps response size, time and redirects.
//!
//! ```
//! use psi_outbound::{OutboundClient, OutboundError, OutboundPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), OutboundError> {
//! let client = OutboundClient::new(OutboundPolicy::default())?;
//! let err = client.get("http://169.254.169.254/latest/meta-data/").await.unwrap_err();
//! assert_eq!(err.code(), "refused_address");
//! assert_eq!(
//!     err.to_string(),
//!     "refused to connect to 169.254.169.254 (169.254.169.254): link-local address"
//! );
//! # Ok(())
//! # }
//! ```
//!
//! ## Crate layout
//!
//! - `address`: [`classify`] and [`AddressClass`], the special-purpose address ranges.
//! - `policy`: [`OutboundPolicy`], [`AllowedHost`] exceptions, [`Scheme`].
//! - `resolver`: the DNS resolver that drops refused addresses.
//! - `client`: [`OutboundClient`] and [`Response`]: redirects, size cap, time limit.
//! - `source`: [`resolve_source_url`] and [`SourceError`].
//! - `error`: [`OutboundError`], each variant with a stable [`OutboundError::code`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod address;
mod client;
mod error;
mod policy;
mod resolver;
mod source;

pub use address::{AddressClass, classify};
pub use bytes::Bytes;
pub use client::{OutboundClient, Response};
pub use error::OutboundError;
pub use policy::{AllowedHost, InvalidAllowedHost, OutboundPolicy, Scheme};
pub use reqwest::{StatusCode, header};
pub use source::{MAX_REASON_CHARS, SourceError, resolve_source_url};

/// Runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
