//! The one error type of outbound calls.

use std::error::Error as _;
use std::net::IpAddr;
use std::time::Duration;

use crate::AddressClass;

/// Why an outbound call failed or was refused.
///
/// Messages name the URL's origin (`scheme://host:port`) only, never its path or query: webhook
/// URLs often carry a secret there, and these messages end up in logs and delivery records.
///
/// ```
/// use psi_outbound::{OutboundError, OutboundPolicy};
///
/// let err = OutboundPolicy::default().check_url("http://127.0.0.1:8080/hook").unwrap_err();
/// assert!(matches!(err, OutboundError::RefusedAddress { .. }));
/// assert_eq!(err.code(), "refused_address");
/// assert_eq!(err.to_string(), "refused to connect to 127.0.0.1 (127.0.0.1): loopback address");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// The URL could not be parsed, or has no host.
    #[error("invalid URL: {detail}")]
    InvalidUrl {
        /// What is wrong with it.
        detail: String,
    },
    /// The URL's scheme (or a redirect's) is not in the policy's `allowed_schemes`.
    #[error("refused URL scheme `{scheme}`: not among the allowed schemes")]
    RefusedScheme {
        /// The scheme found.
        scheme: String,
    },
    /// The host is, or resolves only to, an address the policy refuses.
    #[error("refused to connect to {host} ({ip}): {class} address")]
    RefusedAddress {
        /// The host as the URL names it.
        host: String,
        /// The refused address (the first one, when a name resolves to several).
        ip: IpAddr,
        /// Why it is refused.
        class: AddressClass,
    },
    /// The host name could not be resolved.
    #[error("DNS lookup of {host} failed: {detail}")]
    Dns {
        /// The host name.
        host: String,
        /// What the resolver reported.
        detail: String,
    },
    /// No connection could be made (refused, unreachable, TLS handshake failed).
    #[error("could not connect to {origin}: {detail}")]
    Connect {
        /// `scheme://host:port` of the peer.
        origin: String,
        /// What failed.
        detail: String,
    },
    /// No complete answer in time (connection, or the whole exchange with the body).
    #[error("{origin} did not answer within {after:?}")]
    Timeout {
        /// `scheme://host:port` of the peer.
        origin: String,
        /// The time limit that ran out.
        after: Duration,
    },
    /// More redirects than the policy's `max_redirects`.
    #[error("more than {max} redirects, starting at {origin}")]
    TooManyRedirects {
        /// `scheme://host:port` of the first URL.
        origin: String,
        /// The limit.
        max: usize,
    },
    /// The response body is larger than the policy's `max_body_bytes`; reading stopped there.
    #[error("the response body from {origin} (HTTP {status}) is larger than {limit} bytes")]
    BodyTooLarge {
        /// `scheme://host:port` of the peer.
        origin: String,
        /// The response's status code.
        status: u16,
        /// The limit.
        limit: usize,
    },
    /// Any other HTTP or I/O failure (connection reset mid-answer, malformed response).
    #[error("HTTP exchange with {origin} failed: {detail}")]
    Transport {
        /// `scheme://host:port` of the peer.
        origin: String,
        /// What failed.
        detail: String,
    },
    /// The HTTP client could not be built (TLS set-up, an unusable `user_agent`).
    #[error("cannot set up the HTTP client: {detail}")]
    Setup {
        /// What failed.
        detail: String,
    },
}

impl OutboundError {
    /// A stable snake_case code for this cause, for JSON errors and delivery records.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. } => "invalid_url",
            Self::RefusedScheme { .. } => "refused_scheme",
            Self::RefusedAddress { .. } => "refused_address",
            Self::Dns { .. } => "dns_failure",
            Self::Connect { .. } => "connect_failed",
            Self::Timeout { .. } => "timeout",
            Self::TooManyRedirects { .. } => "too_many_redirects",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::Transport { .. } => "transport",
            Self::Setup { .. } => "client_setup",
        }
    }

    /// Whether the URL (or a redirect's) was refused before any traffic went to it: invalid,
    /// or refused by the policy. Trying again will not help until the URL or the policy changes;
    /// the other errors are failures of the other side or of the network.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::InvalidUrl { .. } | Self::RefusedScheme { .. } | Self::RefusedAddress { .. }
        )
    }

    /// Maps an error of the underlying client. Refusals made by the resolver and the redirect
    /// policy travel inside it as its source and come back out as they were made.
    pub(crate) fn from_reqwest(
        err: reqwest::Error,
        origin: &str,
        connect_timeout: Duration,
    ) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(current) = cause {
            if let Some(ours) = current.downcast_ref::<Self>() {
                return ours.clone();
            }
            cause = current.source();
        }
        let origin = err.url().map_or_else(|| origin.to_owned(), origin_of);
        if err.is_timeout() {
            // The exchange as a whole is timed by the caller; only connecting is timed inside.
            Self::Timeout {
                origin,
                after: connect_timeout,
            }
        } else if err.is_connect() {
            Self::Connect {
                origin,
                detail: describe(err),
            }
        } else {
            Self::Transport {
                origin,
                detail: describe(err),
            }
        }
    }
}

/// The error and its causes, without the URL the client's own message would include.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut parts = vec![err.to_string()];
    let mut cause = err.source();
    while let Some(current) = cause {
        let text = current.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        cause = current.source();
    }
    parts.join(": ")
}

/// `scheme://host:port`: the part of a URL that is safe to log.
pub(crate) fn origin_of(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}
