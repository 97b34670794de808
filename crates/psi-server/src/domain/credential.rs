//! Parts of a credential definition: its tag, who attests it, and where inbound issuing calls may
//! come from.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest tag, in bytes.
const MAX_TAG_LEN: usize = 64;
/// Most source IP prefixes per definition.
pub const MAX_IP_PREFIXES: usize = 100;

/// Who vouches for a credential's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Attestation {
    /// The service issues it.
    Service,
    /// The holder fills it in; a QR link may pre-fill it.
    #[serde(rename = "self")]
    SelfAttested,
}

impl Attestation {
    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Attestation::Service => "service",
            Attestation::SelfAttested => "self",
        }
    }

    /// Reads the database's text.
    pub fn from_db(text: &str) -> sqlx::Result<Self> {
        match text {
            "service" => Ok(Attestation::Service),
            "self" => Ok(Attestation::SelfAttested),
            other => Err(sqlx::Error::Decode(
                format!("unknown attestation {other:?}").into(),
            )),
        }
    }
}

/// Why a part of a definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("`tag` must be 1 to {MAX_TAG_LEN} of A-Z a-z 0-9 . _ -")]
    Tag,
    #[error("`source_ip_prefixes[{index}]`: {text:?} is not a CIDR prefix such as 203.0.113.0/24")]
    Prefix { index: usize, text: String },
    #[error("`source_ip_prefixes[{index}]`: {text:?} has host bits set; did you mean {canonical}?")]
    PrefixHostBits {
        index: usize,
        text: String,
        canonical: IpNet,
    },
    #[error("`source_ip_prefixes` has at most {MAX_IP_PREFIXES} entries")]
    TooManyPrefixes,
}

/// The `<tag>` of a credential definition id: it appears in URLs, so a plain token.
///
/// ```
/// use psi_server::domain::Tag;
/// assert_eq!(Tag::parse("v1.default").unwrap().as_str(), "v1.default");
/// assert!(Tag::parse("a/b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag(String);

impl Tag {
    /// Checks `text`.
    pub fn parse(text: &str) -> Result<Self, CredentialError> {
        let valid = (1..=MAX_TAG_LEN).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(Tag(text.to_owned()))
        } else {
            Err(CredentialError::Tag)
        }
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The addresses inbound issuing calls may come from (docs/protocol.md §4.3); empty means any.
///
/// ```
/// use psi_server::domain::SourceIpPrefixes;
/// let prefixes = SourceIpPrefixes::parse(&["203.0.113.0/24".into(), "2001:db8::/32".into()]).unwrap();
/// assert!(prefixes.allows("203.0.113.7".parse().unwrap()));
/// assert!(!prefixes.allows("198.51.100.1".parse().unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceIpPrefixes(Vec<IpNet>);

impl SourceIpPrefixes {
    /// Checks CIDR prefixes; a bare address is a single-address prefix. Host bits must be zero,
    /// so a typo such as `10.1.2.3/8` is reported rather than silently widened.
    pub fn parse(texts: &[String]) -> Result<Self, CredentialError> {
        if texts.len() > MAX_IP_PREFIXES {
            return Err(CredentialError::TooManyPrefixes);
        }
        let mut prefixes: Vec<IpNet> = Vec::with_capacity(texts.len());
        for (index, text) in texts.iter().enumerate() {
            let net = text
                .trim()
                .parse::<IpNet>()
                .or_else(|_| text.trim().parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| CredentialError::Prefix {
                    index,
                    text: text.clone(),
                })?;
            if net.trunc() != net {
                return Err(CredentialError::PrefixHostBits {
                    index,
                    text: text.clone(),
                    canonical: net.trunc(),
                });
            }
            if !prefixes.contains(&net) {
                prefixes.push(net);
            }
        }
        Ok(SourceIpPrefixes(prefixes))
    }

    /// Whether a call from `ip` is allowed. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.is_empty() || self.0.iter().any(|net| net.contains(&ip))
    }

    /// The prefixes as text, such as `10.0.0.0/8`.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_plain_tokens() {
        assert!(Tag::parse("default").is_ok());
        for bad in ["", "a b", "a:b", "a/b", "<x>", &"t".repeat(MAX_TAG_LEN + 1)] {
            assert_eq!(Tag::parse(bad), Err(CredentialError::Tag), "{bad:?}");
        }
    }

    #[test]
    fn prefixes_parse_v4_v6_and_bare_addresses_and_drop_repeats() {
        let texts: Vec<String> = ["10.0.0.0/8", " 2001:db8::/32 ", "192.0.2.1", "10.0.0.0/8"]
            .map(String::from)
            .into();
        let prefixes = SourceIpPrefixes::parse(&texts).unwrap();
        assert_eq!(
            prefixes.to_strings(),
            ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1/32"]
        );
        assert!(prefixes.allows("10.200.0.1".parse().unwrap()));
        assert!(prefixes.allows("::ffff:10.0.0.1".parse().unwrap()));
        assert!(prefixes.allows("2001:db8::1".parse().unwrap()));
        assert!(!prefixes.allows("192.0.2.2".parse().unwrap()));
        assert!(SourceIpPrefixes::default().allows("192.0.2.2".parse().unwrap()));
    }

    #[test]
    fn bad_prefixes_are_named_by_position() {
        let error =
            SourceIpPrefixes::parse(&["10.0.0.0/8".into(), "10.0.0.0/33".into()]).unwrap_err();
        assert!(
            error.to_string().starts_with("`source_ip_prefixes[1]`"),
            "{error}"
        );
        let error = SourceIpPrefixes::parse(&["10.1.2.3/8".into()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`source_ip_prefixes[0]`: \"10.1.2.3/8\" has host bits set; did you mean 10.0.0.0/8?"
        );
        let many = vec!["10.0.0.0/8".to_owned(); MAX_IP_PREFIXES + 1];
        assert_eq!(
            SourceIpPrefixes::parse(&many),
            Err(CredentialError::TooManyPrefixes)
        );
    }
}
