//! What outbound calls may reach, and their limits.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use url::{Host, Url};

use crate::address::canonical;
use crate::{AddressClass, OutboundError, classify};

/// Where outbound calls may go and how far they may run.
///
/// The default refuses every address that is not on the public internet (see
/// [`AddressClass`]), allows `http` and `https`, reads at most 1 MiB of a response, gives a call
/// 10 s (5 s to connect) and follows 3 redirects. In configuration (TOML, JSON) the fields have
/// the names below, with the durations as `timeout_secs` and `connect_timeout_secs` (seconds,
/// fractions allowed); missing fields keep their default and unknown fields are an error.
///
/// ```
/// use psi_outbound::{AllowedHost, OutboundPolicy};
///
/// // A self-hosted CRM on the office network, and nothing else internal.
/// let policy = OutboundPolicy {
///     allowed_hosts: vec!["10.20.0.0/16".parse()?, "crm.internal".parse()?],
///     ..OutboundPolicy::default()
/// };
/// assert!(policy.check_url("https://10.20.3.4/hooks/psi").is_ok());
/// assert!(policy.check_url("https://10.21.0.1/").is_err());
/// assert!(policy.check_url("http://[::1]/").is_err());
/// # Ok::<(), psi_outbound::InvalidAllowedHost>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundPolicy {
    /// Admit private networks: RFC 1918 IPv4 (`10/8`, `172.16/12`, `192.168/16`), carrier-grade
    /// NAT and VPN overlays (`100.64/10`), IPv6 unique-local (`fc00::/7`). Link-local addresses
    /// (cloud metadata) stay refused.
    pub allow_private: bool,
    /// Admit the loopback addresses `127/8` and `::1`: the machine psi runs on.
    pub allow_loopback: bool,
    /// Exceptions, each admitting what it names whatever its class: a host name (every address
    /// it resolves to, any port), an IP address or CIDR network (any port), or a socket address
    /// `ip:port` / `[ipv6]:port` (that port only, for URLs that name the address itself).
    pub allowed_hosts: Vec<AllowedHost>,
    /// URL schemes that may be called, also on redirects. Only `http` and `https` exist.
    pub allowed_schemes: Vec<Scheme>,
    /// The largest response body read, in bytes; a larger one is an error.
    pub max_body_bytes: usize,
    /// Time for a whole call: connecting, sending, and reading the answer with its body.
    #[serde(rename = "timeout_secs", with = "secs")]
    pub timeout: Duration,
    /// Time to establish a connection (TCP and TLS), within `timeout`.
    #[serde(rename = "connect_timeout_secs", with = "secs")]
    pub connect_timeout: Duration,
    /// How many redirects are followed; one more is an error (0: any redirect is an error).
    pub max_redirects: usize,
    /// The `User-Agent` header sent.
    pub user_agent: String,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            allow_private: false,
            allow_loopback: false,
            allowed_hosts: Vec::new(),
            allowed_schemes: vec![Scheme::Http, Scheme::Https],
            max_body_bytes: 1024 * 1024,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_redirects: 3,
            user_agent: concat!("psi/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl OutboundPolicy {
    /// Parses `url` and checks what can be checked without DNS: the scheme, and the address
    /// when the host is an IP address or `localhost` (a loopback name by definition). Other host
    /// names are checked when they are resolved, on every call. Use it to refuse a webhook URL
    /// when it is configured rather than when it is called.
    ///
    /// ```
    /// use psi_outbound::{AddressClass, OutboundError, OutboundPolicy};
    ///
    /// let policy = OutboundPolicy::default();
    /// assert!(policy.check_url("https://crm.example.com/psi").is_ok());
    /// let Err(OutboundError::RefusedAddress { class, .. }) =
    ///     policy.check_url("http://[::ffff:169.254.169.254]/latest/meta-data")
    /// else { panic!() };
    /// assert_eq!(class, AddressClass::LinkLocal);
    /// assert_eq!(policy.check_url("ftp://a.example/x").unwrap_err().code(), "refused_scheme");
    /// assert!(policy.check_url("http://api.localhost:8080/").is_err());
    /// ```
    pub fn check_url(&self, url: &str) -> Result<Url, OutboundError> {
        let parsed = Url::parse(url).map_err(|e| OutboundError::InvalidUrl {
            detail: e.to_string(),
        })?;
        self.check_parsed_url(&parsed)?;
        Ok(parsed)
    }

    pub(crate) fn check_parsed_url(&self, url: &Url) -> Result<(), OutboundError> {
        if !self
            .allowed_schemes
            .iter()
            .any(|s| s.as_str() == url.scheme())
        {
            return Err(OutboundError::RefusedScheme {
                scheme: url.scheme().to_owned(),
            });
        }
        let ip = match url.host() {
            None => {
                return Err(OutboundError::InvalidUrl {
                    detail: "the URL has no host".to_owned(),
                });
            }
            // RFC 6761: `localhost` and its subdomains are loopback whatever DNS says, so they
            // are refused without asking it.
            Some(Host::Domain(name)) if is_localhost(name) && !self.trusts_name(name) => {
                IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
            }
            Some(Host::Domain(_)) => return Ok(()),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        };
        match self.refusal(ip, url.port_or_known_default()) {
            Some(class) if !self.admits_url(url) => Err(OutboundError::RefusedAddress {
                host: url.host_str().unwrap_or_default().to_owned(),
                ip,
                class,
            }),
            _ => Ok(()),
        }
    }

    /// Whether a URL-prefix exception admits `url` (whose host is an IP address).
    fn admits_url(&self, url: &Url) -> bool {
        self.allowed_hosts.iter().any(|h| match h {
            AllowedHost::UrlPrefix(prefix) => url.as_str().starts_with(prefix.as_str()),
            _ => false,
        })
    }

    /// Why `ip` (reached on `port`, when known) is refused, or `None` when it is admitted.
    pub(crate) fn refusal(&self, ip: IpAddr, port: Option<u16>) -> Option<AddressClass> {
        let class = classify(ip)?;
        let by_flag = match class {
            AddressClass::Loopback => self.allow_loopback,
            AddressClass::Private | AddressClass::SharedCgnat | AddressClass::UniqueLocal => {
                self.allow_private
            }
            _ => false,
        };
        let excepted = || self.allowed_hosts.iter().any(|h| h.admits(ip, port));
        (!by_flag && !excepted()).then_some(class)
    }

    /// Whether `name` is a host name listed in `allowed_hosts`.
    pub(crate) fn trusts_name(&self, name: &str) -> bool {
        let name = normalise_name(name);
        self.allowed_hosts
            .iter()
            .any(|h| matches!(h, AllowedHost::Name(trusted) if *trusted == name))
    }
}

/// A URL scheme outbound calls may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain `http`.
    Http,
    /// `https`.
    Https,
}

impl Scheme {
    /// The scheme as it appears in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// An exception to the address rules, written as a string in configuration.
///
/// | written as | admits |
/// |---|---|
/// | `crm.internal` | every address the name resolves to, on any port |
/// | `10.20.3.4`, `fd00::7` | that address, on any port |
/// | `10.20.0.0/16`, `fd00::/64` | every address of the network, on any port |
/// | `127.0.0.1:8080`, `[::1]:8080` | that address on that port, when the URL names the address |
/// | `http://127.0.0.1:8080/hooks/` | URLs that start with it (scheme, address, port and path), on every hop |
///
/// A host name cannot carry a port: its addresses are checked when it is resolved, where the
/// port is not known. For the same reason a URL prefix names its host by IP address. An
/// IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) means its IPv4 address.
///
/// ```
/// use psi_outbound::AllowedHost;
///
/// assert!(matches!("CRM.Internal.".parse()?, AllowedHost::Name(n) if n == "crm.internal"));
/// assert!(matches!("127.0.0.1:8080".parse()?, AllowedHost::Socket(_)));
/// assert!(matches!("http://127.0.0.1:8080/hooks/".parse()?, AllowedHost::UrlPrefix(_)));
/// assert!("crm.internal:8080".parse::<AllowedHost>().is_err());
/// # Ok::<(), psi_outbound::InvalidAllowedHost>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AllowedHost {
    /// A host name, lower case, without a trailing dot.
    Name(String),
    /// An address (as a single-address network) or a network.
    Network(IpNet),
    /// One port of one address.
    Socket(SocketAddr),
    /// URLs that start with this one, whose host is an IP address and whose path ends with `/`:
    /// one receiver on a shared address (psi's demo receiver on psi's own port).
    UrlPrefix(Url),
}

impl AllowedHost {
    /// Whether this exception admits `ip` reached on `port` (`None`: port unknown).
    fn admits(&self, ip: IpAddr, port: Option<u16>) -> bool {
        let ip = canonical(ip);
        match self {
            Self::Name(_) | Self::UrlPrefix(_) => false,
            Self::Network(net) => net.contains(&ip),
            Self::Socket(socket) => socket.ip() == ip && port == Some(socket.port()),
        }
    }
}

/// Why a string is not an [`AllowedHost`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allowed host `{value}`: {reason}")]
pub struct InvalidAllowedHost {
    /// The string given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for AllowedHost {
    type Err = InvalidAllowedHost;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| InvalidAllowedHost {
            value: s.to_owned(),
            reason,
        };
        let text = s.trim();
        if let Ok(socket) = text.parse::<SocketAddr>() {
            return Ok(Self::Socket(SocketAddr::new(
                canonical(socket.ip()),
                socket.port(),
            )));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self::Network(IpNet::from(canonical(ip))));
        }
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Self::Network(net.trunc()));
        }
        if text.contains("://") {
            return url_prefix(text).map(Self::UrlPrefix).map_err(invalid);
        }
        if text.contains('/') {
            return Err(invalid("not a CIDR network such as `10.0.0.0/8`"));
        }
        if text.contains(':') {
            return Err(invalid(
                "a host name cannot have a port (its addresses are checked when it is resolved, \
                 where the port is not known): give the name alone, or `ip:port`",
            ));
        }
        let name = normalise_name(text);
        if !is_host_name(&name) {
            return Err(invalid(
                "expected a host name, an IP address, a CIDR network or `ip:port`",
            ));
        }
        Ok(Self::Name(name))
    }
}

impl TryFrom<String> for AllowedHost {
    type Error = InvalidAllowedHost;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Network(net) if net.prefix_len() == net.max_prefix_len() => {
                write!(f, "{}", net.addr())
            }
            Self::Network(net) => write!(f, "{net}"),
            Self::Socket(socket) => write!(f, "{socket}"),
            Self::UrlPrefix(url) => f.write_str(url.as_str()),
        }
    }
}

impl From<AllowedHost> for String {
    fn from(host: AllowedHost) -> Self {
        host.to_string()
    }
}

/// A URL prefix as [`AllowedHost::UrlPrefix`] takes it, or why it is not one. The URL is
/// normalised as requests' URLs are (`..` resolved, default port dropped), so a prefix match
/// is a match of what would be requested.
fn url_prefix(text: &str) -> Result<Url, &'static str> {
    let url = Url::parse(text).map_err(|_| "not a URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("a URL prefix must be http or https");
    }
    if !matches!(url.host(), Some(Host::Ipv4(_) | Host::Ipv6(_))) {
        return Err(
            "a URL prefix must name its host by IP address (a host name's addresses are checked \
             when it is resolved, where the path is not known): give the name alone",
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a URL prefix cannot carry credentials");
    }
    if url.query().is_some() || url.fragment().is_some() || !url.path().ends_with('/') {
        return Err("a URL prefix ends with a path ending in `/`, without query or fragment");
    }
    Ok(url)
}

/// `localhost` or a name under it (RFC 6761).
fn is_localhost(name: &str) -> bool {
    let name = normalise_name(name);
    name == "localhost" || name.ends_with(".localhost")
}

fn normalise_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A DNS name as URLs carry it: dot-separated labels of letters, digits, `-` and `_`.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Durations as seconds (fractions allowed) in configuration.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(value.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        match Duration::try_from_secs_f64(secs) {
            Ok(duration) if !duration.is_zero() => Ok(duration),
            _ => Err(D::Error::custom(format!(
                "expected a positive number of seconds, found {secs}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(policy: &OutboundPolicy, ip: &str, port: Option<u16>) -> Option<AddressClass> {
        policy.refusal(ip.parse().unwrap(), port)
    }

    #[test]
    fn the_default_refuses_every_non_public_class_and_admits_public_addresses() {
        let policy = OutboundPolicy::default();
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "100.64.0.1",
            "fd00::1",
            "169.254.169.254",
            "::",
        ] {
            assert!(refusal(&policy, ip, Some(80)).is_some(), "{ip}");
        }
        assert_eq!(refusal(&policy, "8.8.8.8", Some(80)), None);
    }

    #[test]
    fn flags_admit_their_classes_only() {
        let loopback = OutboundPolicy {
            allow_loopback: true,
            ..OutboundPolicy::default()
        };
        assert_eq!(refusal(&loopback, "127.0.0.2", None), None);
        assert_eq!(refusal(&loopback, "::1", None), None);
        assert_eq!(
            refusal(&loopback, "10.0.0.1", None),
            Some(AddressClass::Private)
        );

        let private = OutboundPolicy {
            allow_private: true,
            ..OutboundPolicy::default()
        };
        for ip in [
            "10.0.0.1",
            "172.20.1.1",
            "192.168.0.10",
            "100.100.1.1",
            "fd00::5",
        ] {
            assert_eq!(refusal(&private, ip, None), None, "{ip}");
        }
        assert_eq!(
            refusal(&private, "169.254.169.254", None),
            Some(AddressClass::LinkLocal)
        );
        assert_eq!(
            refusal(&private, "127.0.0.1", None),
            Some(AddressClass::Loopback)
        );
        assert_eq!(
            refusal(&private, "0.0.0.0", None),
            Some(AddressClass::Unspecified)
        );
    }

    #[test]
    fn exceptions_admit_exactly_what_they_name() {
        let policy = OutboundPolicy {
            allowed_hosts: [
                "10.20.0.0/16",
                "192.168.1.7",
                "127.0.0.1:9000",
                "[::1]:9001",
            ]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect(),
            ..OutboundPolicy::default()
        };
        assert_eq!(refusal(&policy, "10.20.255.1", None), None);
        assert_eq!(refusal(&policy, "::ffff:10.20.0.1", Some(1)), None);
        assert!(refusal(&policy, "10.21.0.1", None).is_some());
        assert_eq!(refusal(&policy, "192.168.1.7", Some(22)), None);
        assert!(refusal(&policy, "192.168.1.8", None).is_some());
        assert_eq!(refusal(&policy, "127.0.0.1", Some(9000)), None);
        assert_eq!(refusal(&policy, "::ffff:127.0.0.1", Some(9000)), None);
        assert!(refusal(&policy, "127.0.0.1", Some(9001)).is_some());
        // Resolved addresses come without a port: a socket exception does not admit them.
        assert!(refusal(&policy, "127.0.0.1", None).is_some());
        assert_eq!(refusal(&policy, "::1", Some(9001)), None);
        assert!(refusal(&policy, "::1", Some(9000)).is_some());
    }

    #[test]
    fn a_url_prefix_admits_only_urls_starting_with_it() {
        let policy = OutboundPolicy {
            allowed_hosts: vec!["http://127.0.0.1:9000/demo/".parse().unwrap()],
            ..OutboundPolicy::default()
        };
        assert!(policy.check_url("http://127.0.0.1:9000/demo/x?y=1").is_ok());
        for url in [
            "http://127.0.0.1:9000/api/v1/services",
            "http://127.0.0.1:9000/demo/../api",
            "http://127.0.0.1:9001/demo/x",
            "https://127.0.0.1:9000/demo/x",
            "http://user@127.0.0.1:9000/demo/x",
        ] {
            assert!(policy.check_url(url).is_err(), "{url}");
        }
        // Resolved addresses come without a path: a prefix does not admit them.
        assert!(refusal(&policy, "127.0.0.1", Some(9000)).is_some());
    }

    #[test]
    fn allowed_hosts_parse_each_form_and_refuse_the_rest() {
        let parse = |s: &str| s.parse::<AllowedHost>();
        assert_eq!(
            parse(" Crm.Example.ORG. ").unwrap(),
            AllowedHost::Name("crm.example.org".into())
        );
        assert_eq!(
            parse("10.1.2.3").unwrap(),
            AllowedHost::Network("10.1.2.3/32".parse().unwrap())
        );
        assert_eq!(
            parse("10.1.2.3/8").unwrap(),
            AllowedHost::Network("10.0.0.0/8".parse().unwrap())
        );
        assert_eq!(
            parse("[::ffff:127.0.0.1]:80").unwrap(),
            AllowedHost::Socket("127.0.0.1:80".parse().unwrap())
        );
        for (bad, hint) in [
            ("crm.internal:8080", "cannot have a port"),
            ("10.0.0.0/33", "CIDR"),
            ("", "expected a host name"),
            ("a b", "expected a host name"),
            ("http://x/", "by IP address"),
            ("http://10.0.0.1/hooks", "ending in `/`"),
            ("http://10.0.0.1/?a=1", "without query"),
            ("http://u:p@10.0.0.1/", "credentials"),
            ("ftp://10.0.0.1/", "http or https"),
            ("fd00::/129", "CIDR"),
            ("a..b", "expected a host name"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.to_string().contains(hint), "{bad}: {err}");
        }
        for text in [
            "crm.internal",
            "10.1.2.3",
            "10.0.0.0/8",
            "[::1]:80",
            "fd00::/8",
            "http://127.0.0.1:8080/demo/",
            "https://[::1]/",
        ] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn configuration_uses_seconds_and_keeps_defaults_for_missing_fields() {
        let policy: OutboundPolicy = serde_json::from_str(
            r#"{"allow_private":true,"allowed_hosts":["crm.internal","10.0.0.0/8"],
                "allowed_schemes":["https"],"timeout_secs":2.5}"#,
        )
        .unwrap();
        assert!(policy.allow_private);
        assert_eq!(policy.allowed_schemes, [Scheme::Https]);
        assert_eq!(policy.timeout, Duration::from_millis(2500));
        assert_eq!(policy.connect_timeout, Duration::from_secs(5));
        assert_eq!(policy.max_body_bytes, 1024 * 1024);
        assert_eq!(policy.allowed_hosts.len(), 2);

        let back: OutboundPolicy =
            serde_json::from_str(&serde_json::to_string(&policy).unwrap()).unwrap();
        assert_eq!(back, policy);

        for (bad, hint) in [
            (r#"{"timeout_secs":0}"#, "positive number of seconds"),
            (r#"{"timeout_secs":-1}"#, "positive number of seconds"),
            (r#"{"allowed_schemes":["ftp"]}"#, "unknown variant `ftp`"),
            (r#"{"allowed_hosts":["x:1"]}"#, "cannot have a port"),
            (r#"{"allow_privte":true}"#, "unknown field `allow_privte`"),
        ] {
            let err = serde_json::from_str::<OutboundPolicy>(bad).unwrap_err();
            assert!(err.to_string().contains(hint), "{bad}: {err}");
        }
    }

    #[test]
    fn check_url_refuses_bad_urls_schemes_and_literal_addresses() {
        let policy = OutboundPolicy {
            allowed_schemes: vec![Scheme::Https],
            ..OutboundPolicy::default()
        };
        assert_eq!(policy.check_url("nope").unwrap_err().code(), "invalid_url");
        assert_eq!(
            policy.check_url("http://a.example/").unwrap_err(),
            OutboundError::RefusedScheme {
                scheme: "http".into()
            }
        );
        assert!(policy.check_url("https://a.example/").is_ok());
        // The URL parser reads these as 127.0.0.1, and so does the HTTP client.
        for url in ["https://2130706433/", "https://0x7f.1/", "https://127.1/"] {
            let err = policy.check_url(url).unwrap_err();
            assert!(
                matches!(
                    err,
                    OutboundError::RefusedAddress {
                        class: AddressClass::Loopback,
                        ..
                    }
                ),
                "{url}: {err:?}"
            );
        }
        let err = policy
            .check_url("https://[fe80::1]:8443/x?token=s3cret")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused to connect to [fe80::1] (fe80::1): link-local address"
        );
    }

    #[test]
    fn trusted_names_match_case_and_trailing_dot_insensitively() {
        let policy = OutboundPolicy {
            allowed_hosts: vec!["crm.internal".parse().unwrap()],
            ..OutboundPolicy::default()
        };
        assert!(policy.trusts_name("CRM.internal."));
        assert!(!policy.trusts_name("crm.internal.evil.example"));
    }
}
