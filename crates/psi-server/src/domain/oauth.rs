//! SSI OAuth (docs/ssi-oauth.md): the settings of an attachment of the built-in extension, the
//! secrets of its grants (device codes, authorization codes, the authorization page's handle),
//! user codes (RFC 8628), PKCE (RFC 7636) and the claims a token carries.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand::RngCore;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

use super::extension::{ExtensionError, refused};

/// The self-attested credential whose attribute carries the user code, as the platform names it.
pub const SCHEMA_NAME: &str = "SSI Authentication";
/// Its one attribute, which `ssi-auth-lib` pre-fills with the user code.
pub const USER_CODE_ATTRIBUTE: &str = "OAuth User Code";
/// The version and tag psi gives the schema and definition it creates.
pub const SCHEMA_VERSION: &str = "1.0";
pub const DEFINITION_TAG: &str = "oauth";

/// RFC 8628 §6.1: no vowels (no words) and none of the characters people confuse.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Characters of a user code, shown as two halves joined by `-`: 20^8 ≈ 2^34.6 codes.
const USER_CODE_LEN: usize = 8;

/// The bounds of the numeric settings.
const LIFETIMES: std::ops::RangeInclusive<i64> = 1..=86_400;
const CODE_LIFETIMES: std::ops::RangeInclusive<i64> = 1..=3_600;
const INTERVALS: std::ops::RangeInclusive<i64> = 1..=60;

/// An attachment's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    pub client_id: String,
    pub token_lifetime_secs: i64,
    /// How long a device code may be polled before `expired_token`.
    pub code_lifetime_secs: i64,
    /// Seconds between polls the client is asked to keep.
    pub poll_interval_secs: i64,
    /// `(attribute, claim)`, in the order given.
    pub claims: Vec<(String, String)>,
    /// A confidential client's secret; without one the client is public and must use PKCE.
    pub client_secret: Option<String>,
    /// Where the authorization code flow may send the browser back, compared exactly.
    pub redirect_uris: Vec<String>,
    /// The name of the service's RSA key pair that signs the tokens.
    pub signing_key: String,
}

impl OAuthSettings {
    /// Reads the merged settings (defaults filled in) of an SSI OAuth attachment.
    pub fn read(settings: &Map<String, Value>) -> Result<Self, ExtensionError> {
        let client_id = settings
            .get("client_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // `ssi-auth-lib` form-encodes with `encodeURI`, which leaves `& = + # ? /` as they are.
        let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        if client_id.is_empty() || client_id.len() > 128 || !client_id.bytes().all(unreserved) {
            return Err(refused(
                "setting `client_id`: 1 to 128 of A-Z a-z 0-9 - . _ ~",
            ));
        }
        let number = |name: &str, range: std::ops::RangeInclusive<i64>| {
            let value = settings.get(name).and_then(Value::as_i64);
            value.filter(|v| range.contains(v)).ok_or_else(|| {
                refused(format!(
                    "setting `{name}`: a whole number from {} to {}",
                    range.start(),
                    range.end()
                ))
            })
        };
        let mut claims = Vec::new();
        let mapping = settings.get("claims").and_then(Value::as_str);
        for line in mapping.unwrap_or_default().lines().map(str::trim) {
            if line.is_empty() {
                continue;
            }
            let Some((attribute, claim)) = line.split_once('=') else {
                return Err(refused(format!(
                    "setting `claims`: {line:?} is not `attribute = claim`"
                )));
            };
            let (attribute, claim) = (attribute.trim(), claim.trim());
            if attribute.is_empty() || claim.is_empty() || RESERVED_CLAIMS.contains(&claim) {
                return Err(refused(format!(
                    "setting `claims`: {line:?} needs an attribute and a claim other than {}",
                    RESERVED_CLAIMS.join(", ")
                )));
            }
            claims.push((attribute.to_owned(), claim.to_owned()));
        }
        let text = |name: &str| {
            settings
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let mut redirect_uris = Vec::new();
        for line in text("redirect_uris").unwrap_or_default().lines() {
            let line = line.trim();
            if !line.is_empty() {
                redirect_uris.push(redirect_uri(line)?);
            }
        }
        let signing_key = text("signing_key").unwrap_or_else(|| DEFAULT_SIGNING_KEY.to_owned());
        let client_secret = text("client_secret");
        if client_secret
            .as_ref()
            .is_some_and(|secret| secret.chars().count() < MIN_SECRET_CHARS)
        {
            return Err(refused(format!(
                "setting `client_secret`: at least {MIN_SECRET_CHARS} characters"
            )));
        }
        Ok(OAuthSettings {
            token_lifetime_secs: number("token_lifetime_secs", LIFETIMES)?,
            code_lifetime_secs: number("code_lifetime_secs", CODE_LIFETIMES)?,
            poll_interval_secs: number("poll_interval_secs", INTERVALS)?,
            client_secret,
            client_id,
            claims,
            redirect_uris,
            signing_key,
        })
    }

    /// Whether `given` is the client's secret: their SHA-256 digests compared in constant time,
    /// so neither the content nor the length shows in the timing. A public client has none.
    pub fn secret_matches(&self, given: &str) -> bool {
        self.client_secret.as_deref().is_some_and(|secret| {
            let (a, b) = (
                Sha256::digest(secret.as_bytes()),
                Sha256::digest(given.as_bytes()),
            );
            bool::from(a.as_slice().ct_eq(b.as_slice()))
        })
    }

    /// The registered redirect URI `given` names exactly (RFC 6749 §3.1.2.3); without one given,
    /// the only one registered.
    pub fn redirect_uri(&self, given: Option<&str>) -> Option<&str> {
        match given {
            Some(given) => self
                .redirect_uris
                .iter()
                .find(|uri| uri.as_str() == given)
                .map(String::as_str),
            None if self.redirect_uris.len() == 1 => Some(&self.redirect_uris[0]),
            None => None,
        }
    }

    /// The claims of the mapping, each the value the holder shared; a claim of an attribute no one
    /// shared is left out (OpenID Connect Core §5.3.2).
    pub fn claims_of<'a>(&self, shared: impl Fn(&str) -> Option<&'a str>) -> Map<String, Value> {
        self.claims
            .iter()
            .filter_map(|(attribute, claim)| {
                shared(attribute).map(|value| (claim.clone(), Value::from(value)))
            })
            .collect()
    }
}

/// The key that signs tokens unless the settings name another: an RSA key pair of the service
/// that signs nothing else (not its webhooks), made when SSI OAuth is first attached.
pub const DEFAULT_SIGNING_KEY: &str = "oauth";
/// The shortest client secret.
const MIN_SECRET_CHARS: usize = 16;

/// A registered redirect URI: absolute, without a fragment (RFC 6749 §3.1.2), https or, for a
/// site on the operator's own machine, http on a loopback host (RFC 8252 §7.3).
fn redirect_uri(text: &str) -> Result<String, ExtensionError> {
    let bad = |why: &str| refused(format!("setting `redirect_uris`: {text:?} {why}"));
    let url = Url::parse(text).map_err(|_| bad("is not an absolute URL"))?;
    if url.fragment().is_some() {
        return Err(bad("has a fragment"));
    }
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" => Ok(text.to_owned()),
        "http" if loopback => Ok(text.to_owned()),
        _ => Err(bad("is neither https nor http on a loopback host")),
    }
}

/// The claims psi sets itself, which the mapping may not name.
pub const RESERVED_CLAIMS: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "iat",
    "exp",
    "jti",
    "nbf",
    "kid",
    "nonce",
    "auth_time",
    "azp",
    "scope",
];

/// A new secret of a grant (256 random bits, base64url: a device code, an authorization code,
/// the authorization page's handle) and the hash psi stores of it.
pub fn secret() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let code = URL_SAFE_NO_PAD.encode(bytes);
    let hash = secret_hash(&code);
    (code, hash)
}

/// What psi stores and looks a grant's secret up by: its SHA-256, base64url. A lookup by hash
/// tells nothing of the secret through its timing.
pub fn secret_hash(code: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(code.as_bytes()))
}

/// A PKCE `code_challenge` with method S256 (RFC 7636 §4.2): 43 base64url characters.
pub fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` (RFC 7636 §4.1: 43 to 128 unreserved characters) hashes to `challenge`.
pub fn verifier_matches(challenge: &str, verifier: &str) -> bool {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(unreserved)
        && bool::from(secret_hash(verifier).as_bytes().ct_eq(challenge.as_bytes()))
}

/// A new user code, `XXXX-XXXX`.
pub fn user_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let mut code = String::with_capacity(USER_CODE_LEN + 1);
    for i in 0..USER_CODE_LEN {
        if i == USER_CODE_LEN / 2 {
            code.push('-');
        }
        code.push(char::from(
            USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())],
        ));
    }
    code
}

/// A user code as a holder's credential carries it: the library passes it verbatim, but a
/// holder typing it may use lower case, spaces or no dash.
pub fn normalise_user_code(text: &str) -> Option<String> {
    let letters: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid =
        letters.len() == USER_CODE_LEN && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then(|| format!("{}-{}", &letters[..4], &letters[4..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(value: Value) -> Map<String, Value> {
        let mut defaults = json!({"token_lifetime_secs": 3600, "code_lifetime_secs": 600,
            "poll_interval_secs": 5});
        defaults
            .as_object_mut()
            .unwrap()
            .extend(value.as_object().unwrap().clone());
        defaults.as_object().unwrap().clone()
    }

    #[test]
    fn settings_are_checked() {
        let read = OAuthSettings::read(&settings(
            json!({"client_id": "shop-1", "claims": "Email = email\n\n Name=name "}),
        ))
        .unwrap();
        assert_eq!(read.client_id, "shop-1");
        assert_eq!(
            read.claims,
            vec![
                ("Email".to_owned(), "email".to_owned()),
                ("Name".to_owned(), "name".to_owned())
            ]
        );
        let claims = read.claims_of(|a| (a == "Email").then_some("a@b.c"));
        assert_eq!(Value::Object(claims), json!({"email": "a@b.c"}));
        for bad in [
            json!({"client_id": "a&b"}),
            json!({"client_id": ""}),
            json!({"client_id": "ok", "claims": "Email"}),
            json!({"client_id": "ok", "claims": "Email = sub"}),
            json!({"client_id": "ok", "token_lifetime_secs": 0}),
            json!({"client_id": "ok", "poll_interval_secs": 1.5}),
        ] {
            assert!(
                OAuthSettings::read(&settings(bad.clone())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn codes_are_readable_and_hashed() {
        let code = user_code();
        assert_eq!(code.len(), 9);
        assert_eq!(normalise_user_code(&code).as_deref(), Some(code.as_str()));
        assert_eq!(
            normalise_user_code(" bcdf ghjk ").as_deref(),
            Some("BCDF-GHJK")
        );
        assert_eq!(normalise_user_code("BCDF-GHJA"), None);
        assert_eq!(normalise_user_code("BCDF-GHJ"), None);
        let (device, hash) = secret();
        assert_eq!(device.len(), 43);
        assert_eq!(secret_hash(&device), hash);
        assert_ne!(device, hash);
    }

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(valid_challenge(challenge));
        assert!(verifier_matches(challenge, verifier));
        assert!(!verifier_matches(challenge, &verifier[1..]));
        assert!(!verifier_matches(challenge, "short"));
        assert!(!valid_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
    }

    #[test]
    fn clients_secrets_and_redirect_uris_are_checked() {
        let read = OAuthSettings::read(&settings(json!({"client_id": "rp",
            "client_secret": "s3cret-of-the-rp", "redirect_uris":
            "https://rp.example/cb\nhttp://127.0.0.1:8080/cb\n"})))
        .unwrap();
        assert!(read.secret_matches("s3cret-of-the-rp"));
        assert!(!read.secret_matches("s3cret-of-the-r"));
        assert_eq!(read.signing_key, "oauth");
        assert_eq!(
            read.redirect_uri(Some("https://rp.example/cb")),
            Some("https://rp.example/cb")
        );
        assert_eq!(read.redirect_uri(Some("https://rp.example/cb/")), None);
        assert_eq!(read.redirect_uri(None), None);
        let public = OAuthSettings::read(&settings(json!({"client_id": "rp"}))).unwrap();
        assert!(!public.secret_matches(""));
        for bad in [
            "http://rp.example/cb",
            "https://rp.example/cb#x",
            "rp.example/cb",
            "javascript:alert(1)",
        ] {
            let result =
                OAuthSettings::read(&settings(json!({"client_id": "rp", "redirect_uris": bad})));
            assert!(result.is_err(), "{bad}");
        }
    }
}
