//! Where links point: environments, link kinds, configured targets and decoded origins (docs/protocol.md §2).

use std::fmt;
use std::str::FromStr;

use crate::LinkError;

/// One of the platform's four environments, each with its own app scheme and application domain.
///
/// ```
/// use psi_link::Environment;
/// let env: Environment = "staging".parse().unwrap();
/// assert_eq!(env.scheme(), "stagezakaio");
/// assert_eq!(env.domain(), "stage.proofspace.id");
/// assert_eq!(env.to_string(), "staging");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// `zakaio` / `proofspace.id`.
    Production,
    /// `testzakaio` / `test.proofspace.id`.
    Test,
    /// `stagezakaio` / `stage.proofspace.id`.
    Staging,
    /// `prodtestzakaio` / `prod-test.proofspace.id`.
    Preprod,
}

impl Environment {
    /// All environments, production first.
    pub const ALL: [Environment; 4] = [Self::Production, Self::Test, Self::Staging, Self::Preprod];

    /// The lower-case name: `production`, `test`, `staging` or `preprod`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Test => "test",
            Self::Staging => "staging",
            Self::Preprod => "preprod",
        }
    }

    /// The custom scheme of the environment's app (deep links).
    pub fn scheme(self) -> &'static str {
        match self {
            Self::Production => "zakaio",
            Self::Test => "testzakaio",
            Self::Staging => "stagezakaio",
            Self::Preprod => "prodtestzakaio",
        }
    }

    /// The application domain links are encoded with.
    pub fn domain(self) -> &'static str {
        match self {
            Self::Production => "proofspace.id",
            Self::Test => "test.proofspace.id",
            Self::Staging => "stage.proofspace.id",
            Self::Preprod => "prod-test.proofspace.id",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Environment {
    type Err = LinkError;
    fn from_str(s: &str) -> Result<Self, LinkError> {
        Self::ALL
            .into_iter()
            .find(|env| env.name() == s)
            .ok_or_else(|| LinkError::UnknownEnvironment { name: s.to_owned() })
    }
}

/// Domains the public web-link library emits app links on, besides the table's application domains.
///
/// `test.proofspace.id`, which older library builds also used, is the test environment's own
/// application domain and so decodes as [`LinkOrigin::Environment`].
pub(crate) const WEB_LIBRARY_DOMAINS: [(&str, Environment); 4] = [
    ("app.platform.proofspace.id", Environment::Production),
    ("app.test.proofspace.id", Environment::Test),
    ("app.stage.proofspace.id", Environment::Staging),
    ("platform.proofspace.id", Environment::Production),
];

/// The two kinds of link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// `https://<domain>/native/execute/<payload>`: opens the app if installed, else a web page.
    App,
    /// `<scheme>://<domain>/native/execute/<payload>`: works only where the app is installed.
    Deep,
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::App => "app",
            Self::Deep => "deep",
        })
    }
}

/// Where links are encoded to: an application domain plus the app's custom scheme.
///
/// ```
/// use psi_link::{Environment, LinkTarget};
/// let test = LinkTarget::env(Environment::Test);
/// assert_eq!((test.domain(), test.scheme()), ("test.proofspace.id", "testzakaio"));
///
/// let own = LinkTarget::custom("Links.Example.org", "ExampleApp").unwrap();
/// assert_eq!((own.domain(), own.scheme()), ("links.example.org", "exampleapp"));
/// assert!(LinkTarget::custom("example.org:8443", "example").is_err());
/// assert!(LinkTarget::custom("example.org", "javascript").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkTarget {
    domain: String,
    scheme: String,
}

impl LinkTarget {
    /// The target of one of the platform's environments.
    pub fn env(env: Environment) -> Self {
        Self {
            domain: env.domain().to_owned(),
            scheme: env.scheme().to_owned(),
        }
    }

    /// A deployment's own domain and app scheme, both checked and lower-cased.
    ///
    /// The domain must be a DNS name (ASCII letters, digits, `-` and `.`; no port, path or IP
    /// address); the scheme must follow RFC 3986 and may not be `http`, `https` or a scheme
    /// refused for callbacks.
    pub fn custom(domain: &str, scheme: &str) -> Result<Self, LinkError> {
        Ok(Self {
            domain: check_domain(domain)?,
            scheme: check_scheme(scheme)?,
        })
    }

    /// The application domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The app's custom scheme.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }
}

impl From<Environment> for LinkTarget {
    fn from(env: Environment) -> Self {
        Self::env(env)
    }
}

fn check_domain(domain: &str) -> Result<String, LinkError> {
    let refuse = |reason| {
        Err(LinkError::InvalidDomain {
            domain: domain.to_owned(),
            reason,
        })
    };
    if domain.is_empty() || domain.len() > 253 {
        return refuse("a domain has 1 to 253 characters");
    }
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !domain.split('.').all(label_ok) {
        return refuse("expected dot-separated labels of ASCII letters, digits and inner `-`");
    }
    if domain.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return refuse("an IP address is not an application domain");
    }
    Ok(domain.to_ascii_lowercase())
}

fn check_scheme(scheme: &str) -> Result<String, LinkError> {
    let refuse = |reason| {
        Err(LinkError::InvalidScheme {
            scheme: scheme.to_owned(),
            reason,
        })
    };
    if !crate::decode::is_scheme(scheme) {
        return refuse("a scheme is a letter followed by letters, digits, `+`, `-` or `.`");
    }
    let lower = scheme.to_ascii_lowercase();
    if lower == "http" || lower == "https" {
        return refuse("deep links need the app's own scheme, not a web scheme");
    }
    if crate::request::is_refused_callback_scheme(&lower) {
        return refuse("this scheme can run code or read local data");
    }
    Ok(lower)
}

/// What a decoded link pointed at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LinkOrigin {
    /// One of the environments' own domains or schemes.
    Environment(Environment),
    /// A domain the web-link library emits (`app.*` or the legacy `platform.proofspace.id`).
    WebLibrary(Environment),
    /// A deployment's own target configured with [`Decoder::with_target`](crate::Decoder::with_target).
    Custom {
        /// The configured domain.
        domain: String,
        /// The configured scheme for a deep link, `None` for an app link.
        scheme: Option<String>,
    },
}

impl LinkOrigin {
    /// The platform environment, if the link points at one.
    pub fn environment(&self) -> Option<Environment> {
        match self {
            Self::Environment(env) | Self::WebLibrary(env) => Some(*env),
            Self::Custom { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_round_trip_and_unknown_names_are_refused() {
        for env in Environment::ALL {
            assert_eq!(env.to_string().parse::<Environment>(), Ok(env));
            assert_eq!(serde_json::to_string(&env).unwrap(), format!("\"{env}\""));
        }
        assert_eq!(
            "Production".parse::<Environment>(),
            Err(LinkError::UnknownEnvironment {
                name: "Production".into()
            })
        );
    }

    #[test]
    fn custom_targets_refuse_bad_domains_and_schemes() {
        for domain in [
            "",
            "a..b",
            "-a.org",
            "a-.org",
            "a.org:80",
            "a.org/x",
            "10.0.0.1",
            "ex ample.org",
            "é.org",
        ] {
            let err = LinkTarget::custom(domain, "app").unwrap_err();
            assert_eq!(err.code(), "invalid_domain", "{domain}");
        }
        for scheme in [
            "",
            "1app",
            "my app",
            "http",
            "HTTPS",
            "javascript",
            "Data",
            "file",
            "vbscript",
        ] {
            let err = LinkTarget::custom("example.org", scheme).unwrap_err();
            assert_eq!(err.code(), "invalid_scheme", "{scheme}");
        }
        assert!(LinkTarget::custom("localhost", "my-app+x.y").is_ok());
    }
}
