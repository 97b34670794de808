//! Links to requests.
//!
//! The link grammar is fixed (`<scheme>://<domain>/native/execute/<payload>`), so the link is split
//! by hand rather than by a general URL parser: that keeps decoding within a couple of microseconds.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

use crate::encode::EXECUTE_PATH;
use crate::target::WEB_LIBRARY_DOMAINS;
use crate::{Environment, LinkError, LinkKind, LinkOrigin, LinkRequest, LinkTarget, MAX_LINK_LEN};

/// Older web-library builds emitted standard padded base64, so both alphabets are read with or
/// without padding.
const ANY_PADDING: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, ANY_PADDING);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, ANY_PADDING);

/// A decoded, validated link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DecodedLink {
    /// The request the link carries.
    pub request: LinkRequest,
    /// App link (`https`) or deep link (app scheme).
    pub kind: LinkKind,
    /// Which environment or configured target the link points at.
    pub origin: LinkOrigin,
}

/// Decodes links of the platform's environments and the web-link library, plus any configured targets.
///
/// ```
/// use psi_link::{encode, Decoder, LinkKind, LinkOrigin, LinkRequest, LinkTarget};
/// let own = LinkTarget::custom("links.example.org", "exampleapp").unwrap();
/// let req = LinkRequest { source_url: Some("https://example.org/r/1.json".into()), ..Default::default() };
/// let link = encode(&req, &own, LinkKind::Deep).unwrap();
///
/// assert!(psi_link::decode(&link).is_err());
/// let decoded = Decoder::new().with_target(own).decode(&link).unwrap();
/// assert_eq!(decoded.request, req);
/// assert_eq!(
///     decoded.origin,
///     LinkOrigin::Custom { domain: "links.example.org".into(), scheme: Some("exampleapp".into()) }
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    targets: Vec<LinkTarget>,
}

/// Decodes and validates a link of any form in docs/protocol.md §2 with the default [`Decoder`].
///
/// Accepted: the `https` application domains and app schemes of the four environments, the
/// web-link library's `app.*` and legacy domains, payloads in the standard or URL-safe base64
/// alphabet, padded or not, percent-encoded or not. Schemes and domains match case-insensitively.
/// Surrounding whitespace, one trailing `/` after the payload, and a `?query` or `#fragment` after
/// the payload are ignored. A deep link's domain must belong to its scheme's environment. Domains
/// with a port or user info are unknown domains.
///
/// ```
/// use psi_link::{decode, Environment, LinkKind, LinkOrigin};
/// let link = "https://app.test.proofspace.id/native/execute/\
///             eyJhY3Rpb25JZCI6IjEiLCJzZXJ2aWNlRGlkIjoiR2J6UHFnblU0WHNNczd4ZzltWUpXOCJ9?utm=x";
/// let decoded = decode(link).unwrap();
/// assert_eq!(decoded.request.action_id.as_deref(), Some("1"));
/// assert_eq!(decoded.kind, LinkKind::App);
/// assert_eq!(decoded.origin, LinkOrigin::WebLibrary(Environment::Test));
/// ```
pub fn decode(link: &str) -> Result<DecodedLink, LinkError> {
    Decoder::new().decode(link)
}

impl Decoder {
    /// A decoder for the platform's own domains and schemes only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also accepts app links on `target`'s domain and deep links with its scheme and domain.
    pub fn with_target(mut self, target: LinkTarget) -> Self {
        self.targets.push(target);
        self
    }

    /// Decodes and validates `link` (see [`decode`] for the accepted forms).
    pub fn decode(&self, link: &str) -> Result<DecodedLink, LinkError> {
        let link = link.trim();
        if link.len() > MAX_LINK_LEN {
            return Err(LinkError::TooLong {
                len: link.len(),
                max: MAX_LINK_LEN,
            });
        }
        let (scheme, rest) = link.split_once("://").ok_or(LinkError::NotALink)?;
        if !is_scheme(scheme) {
            return Err(LinkError::NotALink);
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (host, path) = rest.split_at(authority_end);
        let (kind, origin) = self.origin(scheme, host)?;
        let request = parse_request(payload_of(path)?)?;
        request.validate()?;
        Ok(DecodedLink {
            request,
            kind,
            origin,
        })
    }

    fn origin(&self, scheme: &str, host: &str) -> Result<(LinkKind, LinkOrigin), LinkError> {
        let unknown_domain = || LinkError::UnknownDomain {
            domain: host.to_owned(),
        };
        if scheme.eq_ignore_ascii_case("https") {
            let origin = self.app_origin(host).ok_or_else(unknown_domain)?;
            return Ok((LinkKind::App, origin));
        }
        let env = Environment::ALL
            .into_iter()
            .find(|env| scheme.eq_ignore_ascii_case(env.scheme()));
        let platform = platform_origin(host).filter(|o| env.is_some() && o.environment() == env);
        if let Some(origin) = platform {
            return Ok((LinkKind::Deep, origin));
        }
        // A deployment may pair its own domain with a platform app's scheme, so fall through.
        let mut same_scheme = self
            .targets
            .iter()
            .filter(|t| scheme.eq_ignore_ascii_case(t.scheme()))
            .peekable();
        if env.is_none() && same_scheme.peek().is_none() {
            return Err(LinkError::UnknownScheme {
                scheme: scheme.to_owned(),
            });
        }
        let target = same_scheme
            .find(|t| host.eq_ignore_ascii_case(t.domain()))
            .ok_or_else(unknown_domain)?;
        let origin = LinkOrigin::Custom {
            domain: target.domain().to_owned(),
            scheme: Some(target.scheme().to_owned()),
        };
        Ok((LinkKind::Deep, origin))
    }

    fn app_origin(&self, host: &str) -> Option<LinkOrigin> {
        platform_origin(host).or_else(|| {
            let target = self
                .targets
                .iter()
                .find(|t| host.eq_ignore_ascii_case(t.domain()))?;
            Some(LinkOrigin::Custom {
                domain: target.domain().to_owned(),
                scheme: None,
            })
        })
    }
}

/// The platform origin of a domain: an environment's application domain or a web-library domain.
fn platform_origin(host: &str) -> Option<LinkOrigin> {
    if let Some(env) = Environment::ALL
        .into_iter()
        .find(|env| host.eq_ignore_ascii_case(env.domain()))
    {
        return Some(LinkOrigin::Environment(env));
    }
    let (_, env) = WEB_LIBRARY_DOMAINS
        .iter()
        .find(|(domain, _)| host.eq_ignore_ascii_case(domain))?;
    Some(LinkOrigin::WebLibrary(*env))
}

/// RFC 3986: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
pub(crate) fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The payload bytes of the path part of a link (everything after the domain), still base64.
fn payload_of(path: &str) -> Result<Cow<'_, [u8]>, LinkError> {
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    let Some(payload) = path.strip_prefix(EXECUTE_PATH) else {
        if path == EXECUTE_PATH.trim_end_matches('/') {
            return Err(LinkError::EmptyPayload);
        }
        return Err(LinkError::WrongPath {
            path: path.to_owned(),
        });
    };
    // Base64 of a JSON object (it ends in `}` or JSON whitespace) never ends in `/` in either
    // alphabet, so a trailing slash is never part of the payload.
    let payload = payload.strip_suffix('/').unwrap_or(payload);
    if payload.is_empty() {
        return Err(LinkError::EmptyPayload);
    }
    Ok(if payload.contains('%') {
        percent_encoding::percent_decode_str(payload).into()
    } else {
        Cow::Borrowed(payload.as_bytes())
    })
}

fn decode_base64(payload: &[u8]) -> Result<Vec<u8>, LinkError> {
    // Links we encode are URL-safe, so try that alphabet first; only a payload with `+` or `/`
    // can be standard base64.
    URL_SAFE
        .decode(payload)
        .or_else(|e| {
            if payload.iter().any(|&b| b == b'+' || b == b'/') {
                STANDARD.decode(payload)
            } else {
                Err(e)
            }
        })
        .map_err(|e| LinkError::BadBase64 {
            detail: e.to_string(),
        })
}

fn parse_request(payload: Cow<'_, [u8]>) -> Result<LinkRequest, LinkError> {
    let bytes = decode_base64(&payload)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| LinkError::NotUtf8)?;
    // Serde would also read a JSON array as a struct's fields in order, so look at the first token.
    if !text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => LinkError::NotAnObject,
            Err(e) => LinkError::NotJson {
                detail: e.to_string(),
            },
        });
    }
    serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => LinkError::InvalidField {
            detail: e.to_string(),
        },
        _ => LinkError::NotJson {
            detail: e.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_follow_rfc_3986() {
        for ok in ["https", "a", "my-app+x.y", "Z9"] {
            assert!(is_scheme(ok), "{ok}");
        }
        for bad in ["", "9a", "-a", "a b", "a_b", "é"] {
            assert!(!is_scheme(bad), "{bad}");
        }
    }

    #[test]
    fn a_payload_mixing_both_alphabets_is_bad_base64() {
        assert_eq!(decode_base64(b"ab+-").unwrap_err().code(), "bad_base64");
        assert_eq!(decode_base64(b"e30").unwrap(), b"{}");
        assert_eq!(decode_base64(b"e30=").unwrap(), b"{}");
        // The same JSON in both alphabets, with and without padding.
        for (standard, url_safe) in [
            ("eyJhIjoiPz8/In0=", "eyJhIjoiPz8_In0"),
            ("eyJhIjoifn5+PiJ9", "eyJhIjoifn5-PiJ9"),
        ] {
            assert_eq!(
                decode_base64(standard.as_bytes()).unwrap(),
                decode_base64(url_safe.as_bytes()).unwrap()
            );
            let unpadded = standard.trim_end_matches('=');
            assert_eq!(
                decode_base64(unpadded.as_bytes()).unwrap(),
                decode_base64(url_safe.as_bytes()).unwrap()
            );
        }
        assert_eq!(decode_base64(b"e3-/").unwrap_err().code(), "bad_base64");
    }
}
