//! The `[pages]` section: the wallet app's store pages and app-site association, and which other
//! sites may embed start buttons or be redirected to.

use serde::Deserialize;
use url::Url;

use crate::config::error::ConfigError;

/// The `[pages]` section, validated.
#[derive(Debug, Clone, Default)]
pub struct PagesConfig {
    /// The wallet app's name, as pages show it.
    pub app_name: String,
    /// The app's App Store page: `app_store_url`, else the page of `app_store_id`; `None`: no
    /// App Store button.
    pub app_store_url: Option<Url>,
    /// The app's Google Play page: `google_play_url`, else the page of `android_package`;
    /// `None`: no Google Play button.
    pub google_play_url: Option<Url>,
    /// The Android app's package, which the landing page's `intent:` link names.
    pub android_package: Option<String>,
    /// Origins (`https://shop.example.org`) whose pages may use the embed's `link.json`; empty:
    /// any origin.
    pub embed_origins: Vec<String>,
    /// Origins a start page may send the holder to on completion (`?redirect=`).
    pub redirect_origins: Vec<String>,
    /// `<team id>.<bundle id>` of each iOS app that opens this server's app links.
    pub ios_app_ids: Vec<String>,
    /// The Android app that opens this server's app links, with its signing certificates
    /// (`None` without fingerprints, even with a package).
    pub android: Option<AndroidApp>,
}

/// An Android app for `assetlinks.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndroidApp {
    pub package: String,
    /// SHA-256 fingerprints, upper-case hex pairs joined by `:`.
    pub cert_fingerprints: Vec<String>,
}

impl PagesConfig {
    /// Whether `url` may be a completion redirect: http(s) on one of [`Self::redirect_origins`].
    pub fn allows_redirect(&self, url: &Url) -> bool {
        matches!(url.scheme(), "http" | "https")
            && self
                .redirect_origins
                .iter()
                .any(|origin| *origin == url.origin().ascii_serialization())
    }

    /// What to tell the operator at startup when the landing page can offer no store at all:
    /// holders without the app then only read that they should find it in their store.
    pub fn no_store_warning(&self) -> Option<&'static str> {
        (self.app_store_url.is_none() && self.google_play_url.is_none()).then_some(
            "the app-not-installed page (/native/execute/...) shows no app store buttons: set \
             [pages] app_store_id (or app_store_url) for the App Store and android_package (or \
             google_play_url) for Google Play, e.g. PSI_PAGES_APP_STORE_ID and \
             PSI_PAGES_ANDROID_PACKAGE",
        )
    }
}

/// The section as read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPages {
    app_name: String,
    app_store_url: Option<String>,
    app_store_id: Option<StoreId>,
    google_play_url: Option<String>,
    embed_origins: Vec<String>,
    redirect_origins: Vec<String>,
    ios_team_id: Option<String>,
    ios_bundle_ids: Vec<String>,
    android_package: Option<String>,
    android_cert_fingerprints: Vec<String>,
}

/// An App Store id as written: TOML and `PSI_PAGES_APP_STORE_ID` may give a number or a string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum StoreId {
    Number(i64),
    Text(String),
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: format!("pages.{key}"),
        message: message.into(),
    }
}

impl RawPages {
    /// Checks every value; errors name the key.
    pub(crate) fn validate(self) -> Result<PagesConfig, ConfigError> {
        let app_name = self.app_name.trim().to_owned();
        if app_name.is_empty() || app_name.chars().any(char::is_control) {
            return Err(invalid("app_name", "must be a non-empty line of text"));
        }
        let store = |key: &str, value: Option<String>| -> Result<Option<Url>, ConfigError> {
            value
                .map(|value| match Url::parse(&value) {
                    Ok(url) if url.scheme() == "https" => Ok(url),
                    _ => Err(invalid(key, format!("{value:?} is not an https URL"))),
                })
                .transpose()
        };
        let ios_app_ids = match self.ios_team_id {
            None if self.ios_bundle_ids.is_empty() => Vec::new(),
            None => return Err(invalid("ios_team_id", "is needed with ios_bundle_ids")),
            Some(team) => ios_app_ids(&team, self.ios_bundle_ids)?,
        };
        let android_package = self.android_package.map(package).transpose()?;
        let android = match &android_package {
            None if self.android_cert_fingerprints.is_empty() => None,
            None => {
                return Err(invalid(
                    "android_package",
                    "is needed with android_cert_fingerprints",
                ));
            }
            // A package alone names the app for its store page and `intent:` links.
            Some(_) if self.android_cert_fingerprints.is_empty() => None,
            Some(package) => Some(android_app(package, self.android_cert_fingerprints)?),
        };
        let app_store_id = self.app_store_id.map(app_store_id).transpose()?;
        // An explicit URL wins over the one made from the app's id or package.
        let app_store_url = match store("app_store_url", self.app_store_url)? {
            Some(url) => Some(url),
            None => app_store_id
                .map(|id| Url::parse(&format!("https://apps.apple.com/app/id{id}")))
                .transpose()
                .expect("digits make a URL"),
        };
        let google_play_url = match store("google_play_url", self.google_play_url)? {
            Some(url) => Some(url),
            None => android_package
                .as_ref()
                .map(|package| {
                    Url::parse_with_params(
                        "https://play.google.com/store/apps/details",
                        [("id", package)],
                    )
                })
                .transpose()
                .expect("a package name makes a URL"),
        };
        Ok(PagesConfig {
            app_name,
            app_store_url,
            google_play_url,
            android_package,
            embed_origins: origins("embed_origins", self.embed_origins)?,
            redirect_origins: origins("redirect_origins", self.redirect_origins)?,
            ios_app_ids,
            android,
        })
    }
}

/// Origins as browsers send them in `Origin`: `scheme://host[:port]`, nothing else.
fn origins(key: &str, values: Vec<String>) -> Result<Vec<String>, ConfigError> {
    values
        .into_iter()
        .map(|value| {
            let url = Url::parse(&value)
                .map_err(|e| invalid(key, format!("{value:?} is not an origin: {e}")))?;
            let origin = url.origin().ascii_serialization();
            let bare = value.trim_end_matches('/');
            if !matches!(url.scheme(), "http" | "https") || origin != bare {
                return Err(invalid(
                    key,
                    format!("{value:?} is not an origin (`https://host[:port]`, no path)"),
                ));
            }
            Ok(origin)
        })
        .collect()
}

/// Apple team ids are 10 upper-case letters or digits; bundle ids reverse-DNS names.
fn ios_app_ids(team: &str, bundles: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let team_ok = team.len() == 10
        && team
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !team_ok {
        return Err(invalid(
            "ios_team_id",
            format!("{team:?} is not a team id (10 upper-case letters or digits)"),
        ));
    }
    if bundles.is_empty() {
        return Err(invalid("ios_bundle_ids", "list at least one bundle id"));
    }
    bundles
        .into_iter()
        .map(|bundle| {
            if is_reverse_dns(&bundle) {
                Ok(format!("{team}.{bundle}"))
            } else {
                Err(invalid(
                    "ios_bundle_ids",
                    format!("{bundle:?} is not a bundle id (`org.example.app`)"),
                ))
            }
        })
        .collect()
}

/// The number in `https://apps.apple.com/app/id<digits>`.
fn app_store_id(value: StoreId) -> Result<String, ConfigError> {
    let text = match value {
        StoreId::Number(number) => number.to_string(),
        StoreId::Text(text) => text.trim().to_owned(),
    };
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            "app_store_id",
            format!(
                "{text:?} is not an App Store id: digits only, the number in \
                 `https://apps.apple.com/app/id<digits>`"
            ),
        ));
    }
    Ok(text)
}

fn package(package: String) -> Result<String, ConfigError> {
    if is_reverse_dns(&package) {
        Ok(package)
    } else {
        Err(invalid(
            "android_package",
            format!("{package:?} is not a package name (`org.example.app`)"),
        ))
    }
}

fn android_app(package: &str, fingerprints: Vec<String>) -> Result<AndroidApp, ConfigError> {
    let cert_fingerprints = fingerprints
        .into_iter()
        .map(|fingerprint| {
            let upper = fingerprint.trim().to_ascii_uppercase();
            let pairs: Vec<&str> = upper.split(':').collect();
            let ok = pairs.len() == 32
                && pairs
                    .iter()
                    .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
            if ok {
                Ok(upper)
            } else {
                Err(invalid(
                    "android_cert_fingerprints",
                    format!(
                        "{fingerprint:?} is not a SHA-256 fingerprint (32 hex pairs joined by `:`)"
                    ),
                ))
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(AndroidApp {
        package: package.to_owned(),
        cert_fingerprints,
    })
}

/// `org.example.app`: two or more dot-separated segments of letters, digits, `_` and `-`.
fn is_reverse_dns(name: &str) -> bool {
    let segments: Vec<&str> = name.split('.').collect();
    segments.len() >= 2
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawPages {
        RawPages {
            app_name: "Wallet".into(),
            app_store_url: None,
            app_store_id: None,
            google_play_url: None,
            embed_origins: Vec::new(),
            redirect_origins: Vec::new(),
            ios_team_id: None,
            ios_bundle_ids: Vec::new(),
            android_package: None,
            android_cert_fingerprints: Vec::new(),
        }
    }

    fn key_of(result: Result<PagesConfig, ConfigError>) -> String {
        match result {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }

    const FINGERPRINT: &str = "14:6d:e9:83:c5:73:06:50:d8:ee:b9:95:2f:34:fc:64:16:a0:83:42:e6:1d:be:a8:8a:04:96:b2:3f:cf:44:e5";

    #[test]
    fn app_ids_and_fingerprints_are_checked_and_normalised() {
        let pages = RawPages {
            ios_team_id: Some("ABCDE12345".into()),
            ios_bundle_ids: vec!["org.example.wallet".into()],
            android_package: Some("org.example.wallet".into()),
            android_cert_fingerprints: vec![FINGERPRINT.into()],
            ..raw()
        }
        .validate()
        .unwrap();
        assert_eq!(pages.ios_app_ids, ["ABCDE12345.org.example.wallet"]);
        let android = pages.android.unwrap();
        assert_eq!(
            android.cert_fingerprints[0],
            FINGERPRINT.to_ascii_uppercase()
        );

        let bad_team = RawPages {
            ios_team_id: Some("abc".into()),
            ios_bundle_ids: vec!["org.example.wallet".into()],
            ..raw()
        };
        assert_eq!(key_of(bad_team.validate()), "pages.ios_team_id");
        let no_team = RawPages {
            ios_bundle_ids: vec!["org.example.wallet".into()],
            ..raw()
        };
        assert_eq!(key_of(no_team.validate()), "pages.ios_team_id");
        let short = RawPages {
            android_package: Some("org.example.wallet".into()),
            android_cert_fingerprints: vec!["AB:CD".into()],
            ..raw()
        };
        assert_eq!(key_of(short.validate()), "pages.android_cert_fingerprints");
        let package = RawPages {
            android_package: Some("wallet".into()),
            android_cert_fingerprints: vec![FINGERPRINT.into()],
            ..raw()
        };
        assert_eq!(key_of(package.validate()), "pages.android_package");
    }

    #[test]
    fn store_pages_come_from_the_apps_ids_unless_their_urls_are_set() {
        let none = raw().validate().unwrap();
        assert_eq!((none.app_store_url, none.google_play_url), (None, None));
        assert!(
            raw()
                .validate()
                .unwrap()
                .no_store_warning()
                .is_some_and(|w| w.contains("app_store_id") && w.contains("android_package"))
        );

        // A package alone: no assetlinks.json, but a store page and the intent link's package.
        let pages = RawPages {
            app_store_id: Some(StoreId::Text("1234567890".into())),
            android_package: Some("org.example.wallet".into()),
            ..raw()
        }
        .validate()
        .unwrap();
        assert_eq!(
            pages.app_store_url.as_ref().map(Url::as_str),
            Some("https://apps.apple.com/app/id1234567890")
        );
        assert_eq!(
            pages.google_play_url.as_ref().map(Url::as_str),
            Some("https://play.google.com/store/apps/details?id=org.example.wallet")
        );
        assert_eq!(pages.android_package.as_deref(), Some("org.example.wallet"));
        assert_eq!(pages.android, None);
        assert_eq!(pages.no_store_warning(), None);

        let number = RawPages {
            app_store_id: Some(StoreId::Number(42)),
            ..raw()
        }
        .validate()
        .unwrap();
        assert_eq!(
            number.app_store_url.as_ref().map(Url::as_str),
            Some("https://apps.apple.com/app/id42")
        );
        assert_eq!(number.no_store_warning(), None, "one store is enough");

        let explicit = RawPages {
            app_store_id: Some(StoreId::Text("1234567890".into())),
            app_store_url: Some("https://apps.apple.com/de/app/wallet/id1".into()),
            android_package: Some("org.example.wallet".into()),
            google_play_url: Some("https://play.google.com/store/apps/details?id=x.y&hl=de".into()),
            ..raw()
        }
        .validate()
        .unwrap();
        assert_eq!(
            explicit.app_store_url.as_ref().map(Url::as_str),
            Some("https://apps.apple.com/de/app/wallet/id1")
        );
        assert_eq!(
            explicit.google_play_url.as_ref().map(Url::as_str),
            Some("https://play.google.com/store/apps/details?id=x.y&hl=de")
        );

        for bad in [
            StoreId::Text("id123".into()),
            StoreId::Text("".into()),
            StoreId::Text("12 34".into()),
            StoreId::Text("https://apps.apple.com/app/id123".into()),
            StoreId::Text("1".repeat(21)),
            StoreId::Number(-5),
        ] {
            let shown = format!("{bad:?}");
            let result = RawPages {
                app_store_id: Some(bad),
                // Checked even when the explicit URL would win.
                app_store_url: Some("https://apps.apple.com/app/id1".into()),
                ..raw()
            }
            .validate();
            match result {
                Err(error @ ConfigError::Invalid { .. }) => {
                    let text = error.to_string();
                    assert!(text.contains("`pages.app_store_id`"), "{shown}: {text}");
                    assert!(text.contains("digits only"), "{shown}: {text}");
                }
                other => panic!("{shown}: expected an invalid key, got {other:?}"),
            }
        }
    }

    #[test]
    fn an_app_store_id_is_read_as_a_number_or_a_string() {
        use figment::Figment;
        use figment::providers::{Format, Toml};
        let read = |toml: &str| -> Result<PagesConfig, ConfigError> {
            let defaults = r#"
                app_name = "Wallet"
                embed_origins = []
                redirect_origins = []
                ios_bundle_ids = []
                android_cert_fingerprints = []
            "#;
            Figment::from(Toml::string(defaults))
                .merge(Toml::string(toml))
                .extract::<RawPages>()
                .expect("the section reads")
                .validate()
        };
        for toml in ["app_store_id = 1234567890", "app_store_id = \"1234567890\""] {
            let pages = read(toml).unwrap();
            assert_eq!(
                pages.app_store_url.as_ref().map(Url::as_str),
                Some("https://apps.apple.com/app/id1234567890"),
                "{toml}"
            );
        }
        assert_eq!(
            key_of(read("app_store_id = \"id1234567890\"")),
            "pages.app_store_id"
        );
    }

    #[test]
    fn origins_and_store_urls_must_be_what_they_say() {
        let with_path = RawPages {
            redirect_origins: vec!["https://shop.example.org/thanks".into()],
            ..raw()
        };
        assert_eq!(key_of(with_path.validate()), "pages.redirect_origins");
        let store = RawPages {
            app_store_url: Some("javascript:alert(1)".into()),
            ..raw()
        };
        assert_eq!(key_of(store.validate()), "pages.app_store_url");
        let pages = RawPages {
            redirect_origins: vec!["https://shop.example.org/".into()],
            embed_origins: vec!["http://localhost:3000".into()],
            ..raw()
        }
        .validate()
        .unwrap();
        assert_eq!(pages.embed_origins, ["http://localhost:3000"]);
        let allowed = Url::parse("https://shop.example.org/thanks?order=1").unwrap();
        let other = Url::parse("https://shop.example.org.evil.test/").unwrap();
        assert!(pages.allows_redirect(&allowed));
        assert!(!pages.allows_redirect(&other));
        assert_eq!(
            key_of(
                RawPages {
                    app_name: " ".into(),
                    ..raw()
                }
                .validate()
            ),
            "pages.app_name"
        );
    }
}
