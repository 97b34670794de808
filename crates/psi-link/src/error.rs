//! The one error type of the codec.

use crate::ids::IdError;

/// Why a link, a request or a link target was refused.
///
/// Each cause has its own variant, a message that names it, and a stable
/// [`code`](LinkError::code) for machine-readable output.
///
/// ```
/// use psi_link::{decode, LinkError};
///
/// let err = decode("https://proofspace.id/native/execute/").unwrap_err();
/// assert_eq!(err, LinkError::EmptyPayload);
/// assert_eq!(err.code(), "empty_payload");
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// The text does not have the form `<scheme>://<domain>/...`.
    #[error("not a link: expected `<scheme>://<domain>/native/execute/<payload>`")]
    NotALink,
    /// The scheme is neither `https` nor a known custom app scheme.
    #[error("unknown link scheme `{scheme}`: expected `https` or an app scheme such as `zakaio`")]
    UnknownScheme {
        /// The scheme found in the link.
        scheme: String,
    },
    /// The domain is not one that serves interaction links (for a deep link: not
    /// one of the domains of the scheme's environment).
    #[error("unknown link domain `{domain}`")]
    UnknownDomain {
        /// The domain found in the link.
        domain: String,
    },
    /// The path is not `/native/execute/<payload>`.
    #[error("wrong link path `{path}`: expected `/native/execute/<payload>`")]
    WrongPath {
        /// The path found in the link.
        path: String,
    },
    /// Nothing follows `/native/execute/`.
    #[error("the link has an empty payload")]
    EmptyPayload,
    /// The payload is not base64 (standard or URL-safe alphabet).
    #[error("the link payload is not base64: {detail}")]
    BadBase64 {
        /// What the base64 decoder found.
        detail: String,
    },
    /// The decoded payload is not UTF-8 text.
    #[error("the link payload is not UTF-8 text")]
    NotUtf8,
    /// The decoded payload is not JSON.
    #[error("the link payload is not JSON: {detail}")]
    NotJson {
        /// What the JSON parser found.
        detail: String,
    },
    /// The payload is JSON, but not an object.
    #[error("the link payload is JSON but not an object")]
    NotAnObject,
    /// A request field has the wrong JSON type (or appears twice).
    #[error("invalid request field: {detail}")]
    InvalidField {
        /// What the JSON decoder found.
        detail: String,
    },
    /// A required field is absent or empty.
    #[error("the request has no `{field}` (required unless `sourceURL` is given)")]
    MissingField {
        /// The JSON name of the field.
        field: &'static str,
    },
    /// `serviceDid` is not an Indy-style DID.
    #[error("malformed service DID `{did}`: expected 21 or 22 base58 characters")]
    MalformedServiceDid {
        /// The value found.
        did: String,
    },
    /// A prepared credential's `credentialId` is not `<DID>:3:CL:<number>:<tag>`.
    #[error("malformed credential id `{credential_id}`: {reason}")]
    MalformedCredentialId {
        /// The value found.
        credential_id: String,
        /// What is wrong with it.
        reason: IdError,
    },
    /// `sourceURL` is a URL whose scheme is not `http` or `https`; it is never fetched.
    #[error("sourceURL `{url}` is not an http(s) URL and is never fetched")]
    SourceUrlNotHttp {
        /// The value found.
        url: String,
    },
    /// `sourceURL` is not a URL at all.
    #[error("sourceURL `{url}` is not a valid URL: {detail}")]
    InvalidSourceUrl {
        /// The value found.
        url: String,
        /// What the URL parser found.
        detail: String,
    },
    /// `callback` is not an absolute URL.
    #[error("callback `{callback}` is not a valid URL: {detail}")]
    InvalidCallback {
        /// The value found.
        callback: String,
        /// What the URL parser found.
        detail: String,
    },
    /// `callback` uses a scheme that can run code or read local data.
    #[error("callback scheme `{scheme}:` is refused")]
    RefusedCallbackScheme {
        /// The (lower-cased) scheme found.
        scheme: String,
    },
    /// The link is longer than [`MAX_LINK_LEN`](crate::MAX_LINK_LEN).
    #[error("the link is {len} bytes long, over the limit of {max}")]
    TooLong {
        /// Length of the link in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An environment name other than `production`, `test`, `staging` or `preprod`.
    #[error("unknown environment `{name}`: expected production, test, staging or preprod")]
    UnknownEnvironment {
        /// The name given.
        name: String,
    },
    /// A configured link domain is not a plain DNS name.
    #[error("invalid link domain `{domain}`: {reason}")]
    InvalidDomain {
        /// The value given.
        domain: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A configured app scheme is not usable for deep links.
    #[error("invalid app scheme `{scheme}`: {reason}")]
    InvalidScheme {
        /// The value given.
        scheme: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl LinkError {
    /// A stable snake_case code for this cause, for JSON error output.
    ///
    /// ```
    /// use psi_link::LinkError;
    /// assert_eq!(LinkError::MissingField { field: "actionId" }.code(), "missing_field");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotALink => "not_a_link",
            Self::UnknownScheme { .. } => "unknown_scheme",
            Self::UnknownDomain { .. } => "unknown_domain",
            Self::WrongPath { .. } => "wrong_path",
            Self::EmptyPayload => "empty_payload",
            Self::BadBase64 { .. } => "bad_base64",
            Self::NotUtf8 => "not_utf8",
            Self::NotJson { .. } => "not_json",
            Self::NotAnObject => "not_an_object",
            Self::InvalidField { .. } => "invalid_field",
            Self::MissingField { .. } => "missing_field",
            Self::MalformedServiceDid { .. } => "malformed_service_did",
            Self::MalformedCredentialId { .. } => "malformed_credential_id",
            Self::SourceUrlNotHttp { .. } => "source_url_not_http",
            Self::InvalidSourceUrl { .. } => "invalid_source_url",
            Self::InvalidCallback { .. } => "invalid_callback",
            Self::RefusedCallbackScheme { .. } => "refused_callback_scheme",
            Self::TooLong { .. } => "too_long",
            Self::UnknownEnvironment { .. } => "unknown_environment",
            Self::InvalidDomain { .. } => "invalid_domain",
            Self::InvalidScheme { .. } => "invalid_scheme",
        }
    }
}
