//! Server configuration.
//!
//! Layers, lowest precedence first: the embedded, commented [`DEFAULT_TOML`] → an optional TOML
//! file (`--config` / `PSI_CONFIG`) → `PSI_<KEY>` environment variables (secrets also from the file
//! named by `PSI_<KEY>_FILE`) → command-line flags. Loading validates every value, and an error
//! names the key that is wrong. Secrets are [`SecretString`]s: their `Debug` is redacted.

pub mod error;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use psi_link::{Environment, LinkError, LinkTarget};
use psi_outbound::OutboundPolicy;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use error::{ConfigError, parse_duration};

use crate::crypto::MasterKey;
use crate::db::Backend;

/// The embedded defaults, also the documentation of every key.
pub const DEFAULT_TOML: &str = include_str!("../../config.default.toml");

/// Keys read from `PSI_<KEY>` environment variables whose values figment parses (numbers, ...).
const TYPED_ENV_KEYS: &[&str] = &[
    "listen",
    "metrics_listen",
    "database_max_connections",
    "log_format",
    "max_body_bytes",
    "request_timeout_secs",
];

/// String keys, read from `PSI_<KEY>` as they are (figment would turn `PSI_ADMIN_TOKEN=1234...`
/// into a number).
const STRING_ENV_KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "public_url",
    "master_key",
    "admin_token",
    "metrics_token",
    "log_level",
];

/// Keys that may also be read from the file named by `PSI_<KEY>_FILE`.
const SECRET_KEYS: &[&str] = &["database_url", "master_key", "admin_token", "metrics_token"];

/// The shortest admin or metrics token accepted from configuration: long enough that guessing
/// it is hopeless even at the rate failed authentication is throttled to.
const MIN_TOKEN_LEN: usize = 32;

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the generated master key.
    pub data_dir: PathBuf,
    /// Database URL, resolved (SQLite in `data_dir` when unset); may hold a password.
    pub database_url: SecretString,
    /// Which database `database_url` names.
    pub backend: Backend,
    /// Largest number of pooled database connections.
    pub database_max_connections: u32,
    /// Base URL clients reach this server under, without a trailing slash. Unset: `http://` and
    /// the address the server is bound to.
    pub public_url: Option<String>,
    /// Master key from configuration (validated: base64 of 32 bytes), if set.
    pub master_key: Option<SecretString>,
    /// Admin token from configuration, if set.
    pub admin_token: Option<SecretString>,
    /// Where `/metrics` is served instead of `listen`, if set.
    pub metrics_listen: Option<SocketAddr>,
    /// The bearer token `/metrics` requires, if set.
    pub metrics_token: Option<SecretString>,
    /// Throttling of failed authentication (the `[auth]` section).
    pub auth: crate::http::throttle::AuthConfig,
    /// Log output format.
    pub log_format: LogFormat,
    /// `tracing` filter directives, e.g. `info,sqlx=warn`.
    pub log_level: String,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Time limit for handling one request, in seconds.
    pub request_timeout_secs: u64,
    /// Web pages around links (the `[pages]` section).
    pub pages: crate::pages::config::PagesConfig,
    /// Where interaction links point (the `[links]` section).
    pub links: LinksConfig,
    /// What webhook calls and other outbound requests may reach (the `[outbound]` section).
    pub outbound: OutboundPolicy,
    /// Notification delivery: workers, leases, retries (the `[delivery]` section).
    pub delivery: crate::delivery::config::DeliveryConfig,
    /// Demo mode (`psi serve --demo`, not a configuration key): mounts the demo webhook
    /// receiver and lets outbound calls reach it on this server's own address.
    pub demo: bool,
    /// How calls from third parties are received (the `[inbound]` section).
    pub inbound: crate::inbound::config::InboundConfig,
    /// Open connections and their timeouts (the `[connections]` section).
    pub connections: crate::connections::ConnectionLimits,
}

/// The `[links]` section, validated.
#[derive(Debug, Clone)]
pub struct LinksConfig {
    /// The platform environment of links made without an `env` parameter.
    pub default_env: Environment,
    /// A deployment's own application domain and app scheme: when set, links made without an
    /// `env` parameter point there instead.
    pub own_target: Option<LinkTarget>,
}

impl LinksConfig {
    /// The target of links made without an `env` parameter.
    pub fn default_target(&self) -> LinkTarget {
        self.own_target
            .clone()
            .unwrap_or_else(|| LinkTarget::env(self.default_env))
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Values from command-line flags: the highest layer. `None` leaves the lower layers' value.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// The layers as read, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: SocketAddr,
    data_dir: PathBuf,
    database_url: Option<SecretString>,
    database_max_connections: u32,
    public_url: Option<String>,
    master_key: Option<SecretString>,
    admin_token: Option<SecretString>,
    metrics_listen: Option<SocketAddr>,
    metrics_token: Option<SecretString>,
    log_format: LogFormat,
    log_level: String,
    max_body_bytes: usize,
    request_timeout_secs: u64,
    pages: crate::pages::config::RawPages,
    links: RawLinks,
    auth: crate::http::throttle::RawAuth,
    #[serde(default)]
    outbound: OutboundPolicy,
    delivery: crate::delivery::config::RawDelivery,
    inbound: crate::inbound::config::RawInbound,
    connections: crate::connections::ConnectionLimits,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinks {
    default_env: Environment,
    domain: Option<String>,
    scheme: Option<String>,
}

impl Config {
    /// Loads all layers: defaults, `file` (or `PSI_CONFIG`), the process environment, `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("PSI_CONFIG").map(PathBuf::from));
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::MissingFile(file));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("PSI_").only(TYPED_ENV_KEYS));
        // `PSI_PAGES_APP_NAME` → `pages.app_name`, and so on for the section's keys.
        figment =
            figment.merge(Env::prefixed("PSI_PAGES_").map(|key| format!("pages.{key}").into()));
        // `PSI_LINKS_DEFAULT_ENV` → `links.default_env`, and so on for the section's keys.
        figment =
            figment.merge(Env::prefixed("PSI_LINKS_").map(|key| format!("links.{key}").into()));
        // `PSI_AUTH_FAILURE_BURST` → `auth.failure_burst`, and so on.
        figment = figment.merge(Env::prefixed("PSI_AUTH_").map(|key| format!("auth.{key}").into()));
        // `PSI_OUTBOUND_ALLOW_PRIVATE` → `outbound.allow_private`, and so on.
        figment = figment
            .merge(Env::prefixed("PSI_OUTBOUND_").map(|key| format!("outbound.{key}").into()));
        // `PSI_DELIVERY_WORKERS` → `delivery.workers`, and so on.
        figment = figment
            .merge(Env::prefixed("PSI_DELIVERY_").map(|key| format!("delivery.{key}").into()));
        // `PSI_INBOUND_TRUST_FORWARDED_FOR` → `inbound.trust_forwarded_for`, and so on.
        figment =
            figment.merge(Env::prefixed("PSI_INBOUND_").map(|key| format!("inbound.{key}").into()));
        // `PSI_CONNECTIONS_MAX` → `connections.max`, and so on.
        figment = figment.merge(
            Env::prefixed("PSI_CONNECTIONS_").map(|key| format!("connections.{key}").into()),
        );
        for key in STRING_ENV_KEYS {
            if let Some(value) = string_from_env(key)? {
                figment = figment.merge(Serialized::default(key, value));
            }
        }
        Self::from_figment(figment.merge(Serialized::defaults(overrides)))
    }

    /// Validates an assembled figment (tests build their own).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let raw: RawConfig = figment.extract().map_err(from_figment_error)?;
        let database_url = match raw.database_url {
            Some(url) => url,
            None => SecretString::from(format!(
                "sqlite://{}",
                raw.data_dir.join("psi.db").display()
            )),
        };
        let backend =
            Backend::from_url(database_url.expose_secret()).ok_or(ConfigError::Invalid {
                key: "database_url".into(),
                message: "must start with `sqlite:` or `postgres://`".into(),
            })?;
        let public_url = raw.public_url.map(validate_public_url).transpose()?;
        if let Some(key) = &raw.master_key {
            MasterKey::from_base64(key.expose_secret()).map_err(|e| ConfigError::Invalid {
                key: "master_key".into(),
                message: e.to_string(),
            })?;
        }
        for (key, token) in [
            ("admin_token", &raw.admin_token),
            ("metrics_token", &raw.metrics_token),
        ] {
            if let Some(token) = token
                && token.expose_secret().chars().count() < MIN_TOKEN_LEN
            {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    message: format!(
                        "must be at least {MIN_TOKEN_LEN} characters (e.g. `openssl rand -hex 32`)"
                    ),
                });
            }
        }
        tracing_subscriber::EnvFilter::try_new(&raw.log_level).map_err(|e| {
            ConfigError::Invalid {
                key: "log_level".into(),
                message: e.to_string(),
            }
        })?;
        if raw.database_max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "database_max_connections".into(),
                message: "must be at least 1".into(),
            });
        }
        let links = validate_links(raw.links)?;
        Ok(Config {
            listen: raw.listen,
            data_dir: raw.data_dir,
            database_url,
            backend,
            database_max_connections: raw.database_max_connections,
            public_url,
            master_key: raw.master_key,
            admin_token: raw.admin_token,
            metrics_listen: raw.metrics_listen,
            metrics_token: raw.metrics_token,
            auth: raw.auth.validate()?,
            log_format: raw.log_format,
            log_level: raw.log_level,
            max_body_bytes: raw.max_body_bytes,
            request_timeout_secs: raw.request_timeout_secs,
            pages: raw.pages.validate()?,
            links,
            outbound: raw.outbound,
            delivery: raw.delivery.validate()?,
            demo: false,
            inbound: raw.inbound.validate()?,
            connections: raw.connections.validate()?,
        })
    }
}

/// `PSI_<KEY>`, or for secrets the content of the file `PSI_<KEY>_FILE` names (without its
/// trailing newline).
fn string_from_env(key: &str) -> Result<Option<String>, ConfigError> {
    let var = format!("PSI_{}", key.to_ascii_uppercase());
    let value = std::env::var(&var).ok();
    let file = std::env::var_os(format!("{var}_FILE")).map(PathBuf::from);
    let Some(path) = file.filter(|_| SECRET_KEYS.contains(&key)) else {
        return Ok(value);
    };
    if value.is_some() {
        return Err(ConfigError::Ambiguous { var });
    }
    let content = std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
        var: format!("{var}_FILE"),
        path: path.clone(),
        source,
    })?;
    Ok(Some(content.trim_end_matches(['\r', '\n']).to_owned()))
}

/// The first error, named by its key in configuration-file form, with the layer it came from.
fn from_figment_error(error: figment::Error) -> ConfigError {
    let error = error
        .into_iter()
        .next()
        .expect("a figment error holds at least one");
    let source = error
        .metadata
        .as_ref()
        .map(|metadata| format!(" (from {})", metadata.name))
        .unwrap_or_default();
    let key = match &error.kind {
        figment::error::Kind::UnknownField(field, _) => field.clone(),
        _ => error.path.join(".").to_ascii_lowercase(),
    };
    ConfigError::Invalid {
        key,
        message: format!("{}{source}", error.kind),
    }
}

fn validate_links(raw: RawLinks) -> Result<LinksConfig, ConfigError> {
    let own_target = match (raw.domain, raw.scheme) {
        (None, None) => None,
        (Some(domain), Some(scheme)) => {
            Some(LinkTarget::custom(&domain, &scheme).map_err(|e| {
                let key = match e {
                    LinkError::InvalidScheme { .. } => "links.scheme",
                    _ => "links.domain",
                };
                ConfigError::Invalid {
                    key: key.into(),
                    message: e.to_string(),
                }
            })?)
        }
        (domain, _) => {
            let missing = if domain.is_none() {
                "links.domain"
            } else {
                "links.scheme"
            };
            return Err(ConfigError::Invalid {
                key: missing.into(),
                message: "links.domain and links.scheme are set together".into(),
            });
        }
    };
    Ok(LinksConfig {
        default_env: raw.default_env,
        own_target,
    })
}

fn validate_public_url(value: String) -> Result<String, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        key: "public_url".into(),
        message,
    };
    let url = url::Url::parse(&value).map_err(|e| invalid(format!("{value:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("{value:?}: must be an http or https URL")));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

#[cfg(test)]
// `Jail` closures must return `figment::Error`, which is large; these are tests only.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    fn message(result: Result<Config, ConfigError>) -> String {
        result
            .expect_err("configuration should be rejected")
            .to_string()
    }

    #[test]
    fn defaults_listen_on_localhost_8080_with_sqlite_in_the_data_dir() {
        Jail::expect_with(|_| {
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
            assert_eq!(config.data_dir, PathBuf::from("./psi-data"));
            assert_eq!(config.backend, Backend::Sqlite);
            assert_eq!(
                config.database_url.expose_secret(),
                "sqlite://./psi-data/psi.db"
            );
            assert_eq!(config.public_url, None);
            assert_eq!(config.log_format, LogFormat::Human);
            assert!(config.master_key.is_none() && config.admin_token.is_none());
            Ok(())
        });
    }

    #[test]
    fn a_file_overrides_defaults_env_overrides_the_file_and_flags_override_env() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "psi.toml",
                "listen = \"127.0.0.1:1000\"\ndata_dir = \"from-file\"\nlog_format = \"json\"\n",
            )?;
            jail.set_env("PSI_CONFIG", "psi.toml");
            jail.set_env("PSI_LISTEN", "127.0.0.1:2000");
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(config.listen.port(), 2000, "env beats the file");
            assert_eq!(
                config.data_dir,
                PathBuf::from("from-file"),
                "file beats defaults"
            );
            assert_eq!(config.log_format, LogFormat::Json);

            let flags = Overrides {
                listen: Some("127.0.0.1:3000".parse().unwrap()),
                ..Overrides::default()
            };
            let config = Config::load(None, &flags).unwrap();
            assert_eq!(config.listen.port(), 3000, "flags beat env");
            Ok(())
        });
    }

    #[test]
    fn secrets_are_read_from_file_variables_and_never_shown_by_debug() {
        Jail::expect_with(|jail| {
            jail.create_file("token", "a-long-admin-token-from-a-file-0123\n")?;
            jail.set_env("PSI_ADMIN_TOKEN_FILE", "token");
            let config = Config::load(None, &Overrides::default()).unwrap();
            let token = config.admin_token.as_ref().unwrap();
            assert_eq!(token.expose_secret(), "a-long-admin-token-from-a-file-0123");
            assert!(!format!("{config:?}").contains("a-long-admin-token"));
            Ok(())
        });
    }

    #[test]
    fn a_numeric_looking_admin_token_stays_a_string() {
        Jail::expect_with(|jail| {
            jail.set_env("PSI_ADMIN_TOKEN", "12345678901234567890123456789012");
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(
                config.admin_token.unwrap().expose_secret(),
                "12345678901234567890123456789012"
            );
            Ok(())
        });
    }

    #[test]
    fn a_secret_set_twice_is_refused() {
        Jail::expect_with(|jail| {
            jail.create_file("key", "x")?;
            jail.set_env("PSI_MASTER_KEY", "x");
            jail.set_env("PSI_MASTER_KEY_FILE", "key");
            let error = message(Config::load(None, &Overrides::default()));
            assert!(error.contains("PSI_MASTER_KEY"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn errors_name_the_offending_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("PSI_LISTEN", "not-an-address", "listen"),
            ("PSI_DATABASE_URL", "mysql://x", "database_url"),
            ("PSI_PUBLIC_URL", "ftp://example.org", "public_url"),
            ("PSI_MASTER_KEY", "c2hvcnQ=", "master_key"),
            ("PSI_ADMIN_TOKEN", "short", "admin_token"),
            (
                "PSI_ADMIN_TOKEN",
                "0123456789012345678901234567890",
                "admin_token",
            ),
            (
                "PSI_METRICS_TOKEN",
                "0123456789012345678901234567890",
                "metrics_token",
            ),
            ("PSI_METRICS_LISTEN", "9090", "metrics_listen"),
            ("PSI_AUTH_FAILURE_INTERVAL", "0s", "auth.failure_interval"),
            ("PSI_AUTH_MAX_TRACKED", "0", "auth.max_tracked"),
            ("PSI_LOG_FORMAT", "xml", "log_format"),
            (
                "PSI_DATABASE_MAX_CONNECTIONS",
                "many",
                "database_max_connections",
            ),
        ];
        for (var, value, key) in cases {
            Jail::expect_with(|jail| {
                jail.set_env(var, value);
                let error = message(Config::load(None, &Overrides::default()));
                assert!(error.contains(key), "{var}={value}: {error}");
                Ok(())
            });
        }
    }

    #[test]
    fn links_point_at_production_unless_configured_otherwise() {
        Jail::expect_with(|jail| {
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(config.links.default_env, Environment::Production);
            assert_eq!(
                config.links.default_target(),
                LinkTarget::env(Environment::Production)
            );

            jail.set_env("PSI_LINKS_DEFAULT_ENV", "test");
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(
                config.links.default_target(),
                LinkTarget::env(Environment::Test)
            );

            jail.create_file(
                "psi.toml",
                "[links]\ndomain = \"Links.Example.org\"\nscheme = \"exampleapp\"\n",
            )?;
            let config = Config::load(Some(Path::new("psi.toml")), &Overrides::default()).unwrap();
            assert_eq!(
                config.links.default_target(),
                LinkTarget::custom("links.example.org", "exampleapp").unwrap()
            );
            Ok(())
        });
    }

    #[test]
    fn link_settings_errors_name_the_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("PSI_LINKS_DEFAULT_ENV", "qa")], "links.default_env"),
            (&[("PSI_LINKS_DOMAIN", "links.example.org")], "links.scheme"),
            (&[("PSI_LINKS_SCHEME", "exampleapp")], "links.domain"),
            (
                &[
                    ("PSI_LINKS_DOMAIN", "a.org:80"),
                    ("PSI_LINKS_SCHEME", "app"),
                ],
                "links.domain",
            ),
            (
                &[
                    ("PSI_LINKS_DOMAIN", "a.org"),
                    ("PSI_LINKS_SCHEME", "javascript"),
                ],
                "links.scheme",
            ),
        ];
        for (vars, key) in cases {
            Jail::expect_with(|jail| {
                for (var, value) in *vars {
                    jail.set_env(var, value);
                }
                let error = message(Config::load(None, &Overrides::default()));
                assert!(error.contains(key), "{vars:?}: {error}");
                Ok(())
            });
        }
    }

    #[test]
    fn an_unknown_key_in_the_file_is_named() {
        Jail::expect_with(|jail| {
            jail.create_file("psi.toml", "lisen = \"127.0.0.1:1\"\n")?;
            let error = message(Config::load(
                Some(Path::new("psi.toml")),
                &Overrides::default(),
            ));
            assert!(error.contains("lisen"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        Jail::expect_with(|_| {
            let error = message(Config::load(
                Some(Path::new("nope.toml")),
                &Overrides::default(),
            ));
            assert!(error.contains("nope.toml"), "{error}");
            Ok(())
        });
    }
}
