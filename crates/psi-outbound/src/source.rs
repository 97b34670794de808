//! Downloading the request a link's `sourceURL` points to (docs/protocol.md §2).

use psi_link::{LinkError, LinkRequest};
use reqwest::Method;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};

use crate::{OutboundClient, OutboundError};

/// Why the request behind a `sourceURL` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The download failed or was refused (see [`OutboundError`]).
    #[error("cannot download the sourceURL request: {0}")]
    Fetch(#[from] OutboundError),
    /// The server answered with a status other than 2xx.
    #[error("the sourceURL answered HTTP {status}{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Status {
        /// The status code.
        status: u16,
        /// The `message` of a JSON error body (`{"error": {"message"}}` or `{"message"}`), as
        /// psi's `/r/` answers say why ("already been used", "expired"); control characters
        /// removed, at most [`MAX_REASON_CHARS`] characters.
        reason: Option<String>,
    },
    /// The body is not JSON (or not UTF-8).
    #[error("the sourceURL body is not JSON: {detail}")]
    NotJson {
        /// What the JSON parser found.
        detail: String,
    },
    /// The body is JSON, but not an object.
    #[error("the sourceURL body is JSON but not an object")]
    NotAnObject,
    /// The object is not a valid request: a field of the wrong type
    /// ([`LinkError::InvalidField`]) or a failed [`LinkRequest::validate`].
    #[error("the sourceURL request is invalid: {0}")]
    InvalidRequest(#[source] LinkError),
}

impl SourceError {
    /// A stable snake_case code: the [`OutboundError::code`] for a failed download, else one
    /// starting with `source_`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Fetch(e) => e.code(),
            Self::Status { .. } => "source_status",
            Self::NotJson { .. } => "source_not_json",
            Self::NotAnObject => "source_not_an_object",
            Self::InvalidRequest(_) => "source_invalid_request",
        }
    }
}

/// Downloads the request a link's `sourceURL` names, once, under `client`'s policy.
///
/// The body must be a JSON object that decodes as a [`LinkRequest`] (unknown fields ignored)
/// and passes [`LinkRequest::validate`]. Its own `sourceURL` is ignored, whatever it holds: it
/// is cleared and never fetched, so a chain of links cannot make psi download more than once.
/// The `Content-Type` is not looked at: static files are often served as `text/plain`.
///
/// ```no_run
/// use psi_outbound::{resolve_source_url, OutboundClient, OutboundPolicy};
///
/// # async fn run(link: psi_link::DecodedLink) -> Result<(), psi_outbound::SourceError> {
/// let client = OutboundClient::new(OutboundPolicy::default())?;
/// let request = match &link.request.source_url {
///     Some(url) => resolve_source_url(&client, url).await?,
///     None => link.request,
/// };
/// assert!(request.source_url.is_none());
/// # Ok(())
/// # }
/// ```
pub async fn resolve_source_url(
    client: &OutboundClient,
    url: &str,
) -> Result<LinkRequest, SourceError> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let response = client.send(Method::GET, url, headers, None, None).await?;
    if !response.is_success() {
        return Err(SourceError::Status {
            status: response.status.as_u16(),
            reason: reason(&response.body),
        });
    }
    let value: serde_json::Value =
        serde_json::from_slice(&response.body).map_err(|e| SourceError::NotJson {
            detail: e.to_string(),
        })?;
    if !value.is_object() {
        return Err(SourceError::NotAnObject);
    }
    let mut request: LinkRequest = serde_json::from_value(value).map_err(|e| {
        SourceError::InvalidRequest(LinkError::InvalidField {
            detail: e.to_string(),
        })
    })?;
    request.source_url = None;
    request.validate().map_err(SourceError::InvalidRequest)?;
    Ok(request)
}

/// Longest reason kept from an error body: enough for a sentence, not for a page.
pub const MAX_REASON_CHARS: usize = 200;

/// The message of a JSON error body, made safe to print in a terminal.
fn reason(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = value
        .pointer("/error/message")
        .or_else(|| value.get("message"))?
        .as_str()?;
    let clean: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_CHARS)
        .collect();
    (!clean.trim().is_empty()).then_some(clean)
}
