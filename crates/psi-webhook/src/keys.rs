//! Key types: RSA private and public keys (PEM in and out) and the shared secret of HS256 and
//! Standard Webhooks.
//!
//! Every type's `Debug` prints only the key size, never key material.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::der::pem;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::traits::PublicKeyParts;
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::encoding::{STANDARD_LENIENT, URL_SAFE};
use crate::error::{Cause, Error, Result};

/// Modulus size of keys made by [`PrivateKey::generate`].
pub const GENERATED_KEY_BITS: usize = 2048;

const PRIVATE_PEM: &str = "RSA private key (PKCS#8 \"PRIVATE KEY\" or PKCS#1 \"RSA PRIVATE KEY\")";
const PUBLIC_PEM: &str = "RSA public key (SPKI \"PUBLIC KEY\" or PKCS#1 \"RSA PUBLIC KEY\")";

/// Decodes a PEM document with the decoder `by_label(label, pem)` picks for its label (`None`:
/// a label this key type does not take). Surrounding whitespace, as keys pasted into
/// configuration often have, is ignored.
fn read_pem<K>(
    pem: &str,
    expected: &'static str,
    by_label: impl FnOnce(&str, &str) -> Option<Result<K, Cause>>,
) -> Result<K> {
    let bad = |cause| Error::BadPem { expected, cause };
    let pem = pem.trim();
    let label = pem::decode_label(pem.as_bytes()).map_err(|e| bad(e.into()))?;
    match by_label(label, pem) {
        Some(decoded) => decoded.map_err(bad),
        None => Err(bad(format!("unexpected PEM label {label:?}").into())),
    }
}

/// A hash that PKCS#1 v1.5 signatures are made with: SHA3-256 (`X-Body-Signature`) or SHA-256
/// (RS256).
pub(crate) trait SignatureHash: sha2::Digest + rsa::pkcs8::AssociatedOid {
    /// The same hash in OpenSSL.
    #[cfg(feature = "openssl")]
    fn openssl() -> openssl::hash::MessageDigest;
}

impl SignatureHash for sha2::Sha256 {
    #[cfg(feature = "openssl")]
    fn openssl() -> openssl::hash::MessageDigest {
        openssl::hash::MessageDigest::sha256()
    }
}

impl SignatureHash for sha3::Sha3_256 {
    #[cfg(feature = "openssl")]
    fn openssl() -> openssl::hash::MessageDigest {
        openssl::hash::MessageDigest::sha3_256()
    }
}

/// An RSA private key: signs `X-Body-Signature` and RS256 tokens.
///
/// With the `openssl` feature the key is also loaded into OpenSSL, once, and signs there (about
/// eight times faster); the signatures are the same bytes either way.
///
/// ```
/// use psi_webhook::PrivateKey;
///
/// let key = PrivateKey::generate()?;
/// let pem = key.to_pkcs8_pem()?;
/// let again = PrivateKey::from_pem(&pem)?;
/// assert_eq!(again.public_key(), key.public_key());
/// assert_eq!(format!("{key:?}"), "PrivateKey { bits: 2048, .. }");
/// # Ok::<(), psi_webhook::Error>(())
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    rsa: Box<rsa::PrivateKey>, // boxed: the key with its CRT values is large
    #[cfg(feature = "openssl")]
    openssl: openssl::pkey::PKey<openssl::pkey::Private>,
}

impl PrivateKey {
    /// Wraps a key `rsa` has read or made (and loads it into OpenSSL with the `openssl` feature).
    fn from_rsa(key: rsa::PrivateKey) -> Result<Self, Cause> {
        #[cfg(feature = "openssl")]
        let openssl = {
            // A `SecretDocument`: the DER is wiped from memory when dropped.
            let der = key.to_pkcs8_der()?;
            openssl::pkey::PKey::private_key_from_pkcs8(der.as_bytes())?
        };
        Ok(Self {
            rsa: Box::new(key),
            #[cfg(feature = "openssl")]
            openssl,
        })
    }

    /// Reads a PEM private key, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self> {
        let key = read_pem(pem, PRIVATE_PEM, |label, pem| match label {
            "PRIVATE KEY" => Some(rsa::PrivateKey::from_pkcs8_pem(pem).map_err(Into::into)),
            "RSA PRIVATE KEY" => Some(rsa::PrivateKey::from_pkcs1_pem(pem).map_err(Into::into)),
            _ => None,
        })?;
        Self::from_rsa(key).map_err(|cause| Error::BadPem {
            expected: PRIVATE_PEM,
            cause,
        })
    }

    /// Generates a new RSA key ([`GENERATED_KEY_BITS`] bits, exponent 65537) from the OS RNG
    /// (with the `openssl` feature, OpenSSL's generator, seeded from the OS).
    pub fn generate() -> Result<Self> {
        #[cfg(feature = "openssl")]
        let key = Self::generate_with_openssl();
        #[cfg(not(feature = "openssl"))]
        let key = Self::generate_with_rsa();
        key.map_err(Error::KeyGeneration)
    }

    #[cfg(any(test, not(feature = "openssl")))]
    fn generate_with_rsa() -> Result<Self, Cause> {
        Self::from_rsa(rsa::PrivateKey::new(
            &mut getrandom::SysRng,
            GENERATED_KEY_BITS,
        )?)
    }

    #[cfg(feature = "openssl")]
    fn generate_with_openssl() -> Result<Self, Cause> {
        use openssl::pkey::PKey;
        // Rsa::generate uses the exponent 65537.
        let openssl = PKey::from_rsa(openssl::rsa::Rsa::generate(GENERATED_KEY_BITS as u32)?)?;
        let der = Zeroizing::new(openssl.private_key_to_pkcs8()?);
        let key = rsa::PrivateKey::from_pkcs8_der(&der)?;
        Ok(Self {
            rsa: Box::new(key),
            openssl,
        })
    }

    /// The key as PKCS#8 PEM (`BEGIN PRIVATE KEY`), wiped from memory when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        self.rsa
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| Error::KeyEncoding(e.into()))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.rsa.to_public_key())
    }

    /// PKCS#1 v1.5 signature over `message` hashed with `D`. Deterministic: the same key and
    /// message always give the same bytes, whichever backend signs (the RNG only blinds the
    /// private operation).
    pub(crate) fn sign_pkcs1v15<D: SignatureHash>(&self, message: &[u8]) -> Result<Vec<u8>> {
        #[cfg(feature = "openssl")]
        let signature = self.sign_with_openssl::<D>(message);
        #[cfg(not(feature = "openssl"))]
        let signature = self.sign_with_rsa::<D>(message);
        signature.map_err(Error::Signing)
    }

    #[cfg(any(test, not(feature = "openssl")))]
    fn sign_with_rsa<D: SignatureHash>(&self, message: &[u8]) -> Result<Vec<u8>, Cause> {
        Ok(self.rsa.pkcs1v15_sign::<D>(message)?)
    }

    #[cfg(feature = "openssl")]
    fn sign_with_openssl<D: SignatureHash>(&self, message: &[u8]) -> Result<Vec<u8>, Cause> {
        let mut signer = openssl::sign::Signer::new(D::openssl(), &self.openssl)?;
        signer.set_rsa_padding(openssl::rsa::Padding::PKCS1)?;
        Ok(signer.sign_oneshot_to_vec(message)?)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey {{ bits: {}, .. }}", self.rsa.size() * 8)
    }
}

/// An RSA public key: verifies `X-Body-Signature` and RS256 tokens.
///
/// ```
/// use psi_webhook::PrivateKey;
///
/// let public = PrivateKey::generate()?.public_key();
/// let pem = public.to_spki_pem()?;
/// assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
/// assert_eq!(psi_webhook::PublicKey::from_pem(&pem)?, public);
/// # Ok::<(), psi_webhook::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(rsa::PublicKey);

impl PublicKey {
    /// Reads a PEM public key, SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<Self> {
        read_pem(pem, PUBLIC_PEM, |label, pem| match label {
            "PUBLIC KEY" => Some(rsa::PublicKey::from_public_key_pem(pem).map_err(Into::into)),
            "RSA PUBLIC KEY" => Some(rsa::PublicKey::from_pkcs1_pem(pem).map_err(Into::into)),
            _ => None,
        })
        .map(Self)
    }

    /// Reads an RSA JSON Web Key (`kty: "RSA"`, `n`, `e`), as a JWKS publishes it; other
    /// members are not read.
    ///
    /// ```
    /// use psi_webhook::{Claims, PrivateKey, PublicKey, Signer, UnixTime, Validation, Verifier};
    ///
    /// let key = PrivateKey::generate()?;
    /// let jwk = key.public_key().to_jwk();
    /// let now = UnixTime::now();
    /// let claims = Claims::new(now).with_subject("holder").with_claim("email", "a@b.c".into());
    /// let token = Signer::rsa(key).bearer_token_with_key_id(jwk["kid"].as_str().unwrap(), &claims)?;
    /// let verifier = Verifier::rsa(PublicKey::from_jwk(&jwk)?);
    /// let verified = verifier.verify_bearer(&token, b"", &Validation::new(), now)?;
    /// assert_eq!(verified.sub.as_deref(), Some("holder"));
    /// assert_eq!(verified.extra["email"], "a@b.c");
    /// # Ok::<(), psi_webhook::Error>(())
    /// ```
    pub fn from_jwk(jwk: &serde_json::Value) -> Result<Self> {
        let bad = |cause: &str| Error::BadJwk(cause.to_owned());
        if jwk["kty"] != "RSA" {
            return Err(bad("`kty` is not RSA"));
        }
        let number = |name: &str| {
            let text = jwk[name]
                .as_str()
                .ok_or_else(|| bad(&format!("no `{name}`")))?;
            let bytes = URL_SAFE
                .decode(text)
                .map_err(|_| bad(&format!("`{name}` is not base64url")))?;
            Ok::<_, Error>(rsa::BoxedUint::from_be_slice_vartime(&bytes))
        };
        rsa::PublicKey::new(number("n")?, number("e")?)
            .map(Self)
            .map_err(|e| bad(&e.to_string()))
    }

    /// The key as SPKI PEM (`BEGIN PUBLIC KEY`), the form third parties load.
    pub fn to_spki_pem(&self) -> Result<String> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| Error::KeyEncoding(e.into()))
    }

    /// The key as an RFC 7517 JSON Web Key for verifying RS256 signatures: `kty`, the modulus `n`
    /// and exponent `e` (big-endian, base64url without padding), `alg: "RS256"`, `use: "sig"`, and
    /// a `kid` that is the key's RFC 7638 thumbprint, so the same key has the same `kid` wherever
    /// it is computed and a receiver can pick the key a token names.
    ///
    /// ```
    /// use psi_webhook::PrivateKey;
    ///
    /// let jwk = PrivateKey::generate()?.public_key().to_jwk();
    /// assert_eq!(jwk["kty"], "RSA");
    /// assert_eq!(jwk["e"], "AQAB");
    /// assert_eq!(jwk["alg"], "RS256");
    /// assert_eq!(jwk["kid"].as_str().unwrap().len(), 43); // SHA-256 in base64url
    /// # Ok::<(), psi_webhook::Error>(())
    /// ```
    pub fn to_jwk(&self) -> serde_json::Value {
        let n = URL_SAFE.encode(self.0.n_bytes());
        let e = URL_SAFE.encode(self.0.e_bytes());
        // RFC 7638 §3.2: the required members only, in lexicographic order, without whitespace.
        // base64url text needs no JSON escaping, so formatting it in is exact.
        let required = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE.encode(sha2::Sha256::digest(required.as_bytes()));
        serde_json::json!({
            "kty": "RSA",
            "n": n,
            "e": e,
            "alg": "RS256",
            "use": "sig",
            "kid": kid,
        })
    }

    /// Checks a PKCS#1 v1.5 signature over `message` hashed with `D`.
    /// The padding and hash comparison inside `rsa` are constant-time.
    pub(crate) fn verify_pkcs1v15<D: SignatureHash>(
        &self,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        self.0.pkcs1v15_verify::<D>(message, signature).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey {{ bits: {}, .. }}", self.0.size() * 8)
    }
}

/// A shared "SHA secret": the HMAC-SHA256 key of HS256 Bearer tokens and of Standard Webhooks
/// signatures.
///
/// The HMAC key is the secret's raw bytes; it travels and is stored as standard base64
/// (the vectors' `sha_secret_base64`: their HS256 token verifies with the decoded bytes,
/// not with the base64 text).
///
/// ```
/// use psi_webhook::SharedSecret;
///
/// let secret = SharedSecret::generate()?;
/// let again = SharedSecret::from_base64(&secret.to_base64())?;
/// assert_eq!(again, secret);
/// assert_eq!(format!("{secret:?}"), "SharedSecret { len: 32, .. }");
/// # Ok::<(), psi_webhook::Error>(())
/// ```
#[derive(Clone)]
pub struct SharedSecret(Zeroizing<Vec<u8>>);

impl SharedSecret {
    /// Minimum length: RFC 7518 §3.2 requires an HS256 key of at least the hash size.
    pub const MIN_LEN: usize = 32;
    /// Length of secrets made by [`SharedSecret::generate`].
    pub const GENERATED_LEN: usize = 32;
    /// The prefix Standard Webhooks puts before a secret's base64.
    pub const STANDARD_WEBHOOKS_PREFIX: &'static str = "whsec_";

    /// Generates [`Self::GENERATED_LEN`] random bytes from the OS RNG.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new(vec![0u8; Self::GENERATED_LEN]);
        getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.into()))?;
        Ok(Self(bytes))
    }

    /// Reads a secret from standard base64 (padded or not; surrounding whitespace ignored),
    /// optionally prefixed `whsec_` as Standard Webhooks shows secrets.
    ///
    /// ```
    /// use psi_webhook::SharedSecret;
    ///
    /// let secret = SharedSecret::generate()?;
    /// let shown = format!("whsec_{}", secret.to_base64().as_str());
    /// assert_eq!(SharedSecret::from_base64(&shown)?, secret);
    /// # Ok::<(), psi_webhook::Error>(())
    /// ```
    pub fn from_base64(text: &str) -> Result<Self> {
        let text = text.trim();
        let text = text
            .strip_prefix(Self::STANDARD_WEBHOOKS_PREFIX)
            .unwrap_or(text);
        let bytes =
            Zeroizing::new(
                STANDARD_LENIENT
                    .decode(text)
                    .map_err(|_| Error::BadBase64 {
                        what: "shared secret",
                    })?,
            );
        Self::from_bytes(&bytes)
    }

    /// Uses `bytes` as the secret; they must be at least [`Self::MIN_LEN`] long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < Self::MIN_LEN {
            return Err(Error::SecretTooShort {
                len: bytes.len(),
                min: Self::MIN_LEN,
            });
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// The secret as standard padded base64, wiped from memory when dropped.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(&*self.0))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq for SharedSecret {
    /// Constant-time: the comparison does not reveal where two secrets differ.
    fn eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(self.as_bytes(), other.as_bytes()).into()
    }
}

impl Eq for SharedSecret {}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedSecret {{ len: {}, .. }}", self.0.len())
    }
}

/// The OpenSSL backend against the pure-Rust one: PKCS#1 v1.5 is deterministic, so both must
/// give the same bytes for the same key, hash and message.
#[cfg(all(test, feature = "openssl"))]
mod openssl_backend {
    use proptest::prelude::*;
    use sha2::Sha256;
    use sha3::Sha3_256;

    use super::*;

    fn vector_keys() -> [PrivateKey; 2] {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../../vectors/signatures.json")).unwrap();
        ["rsa_private_key_pkcs8_pem", "rsa_private_key_pkcs1_pem"]
            .map(|field| PrivateKey::from_pem(v[field].as_str().unwrap()).unwrap())
    }

    fn assert_same_signatures(key: &PrivateKey, message: &[u8]) {
        let public = key.public_key();
        let openssl = key.sign_with_openssl::<Sha3_256>(message).unwrap();
        assert_eq!(openssl, key.sign_with_rsa::<Sha3_256>(message).unwrap());
        assert!(public.verify_pkcs1v15::<Sha3_256>(message, &openssl));
        let openssl = key.sign_with_openssl::<Sha256>(message).unwrap();
        assert_eq!(openssl, key.sign_with_rsa::<Sha256>(message).unwrap());
        assert!(public.verify_pkcs1v15::<Sha256>(message, &openssl));
        // What the crate's signing calls use.
        assert_eq!(key.sign_pkcs1v15::<Sha256>(message).unwrap(), openssl);
    }

    const MESSAGES: [&[u8]; 4] = [
        b"",
        b"{}",
        br#"{"publicServiceDid":"9s57yZDBqwfZHdodKXTjKH","actionId":"101"}"#,
        &[0xff; 100_000],
    ];

    #[test]
    fn both_backends_sign_the_same_bytes_with_the_vector_keys() {
        for key in &vector_keys() {
            for message in MESSAGES {
                assert_same_signatures(key, message);
            }
        }
    }

    #[test]
    fn both_backends_sign_the_same_bytes_with_keys_either_generated() {
        let by_openssl = PrivateKey::generate_with_openssl().unwrap();
        let by_rsa = PrivateKey::generate_with_rsa().unwrap();
        for key in [&by_openssl, &by_rsa] {
            assert_eq!(format!("{key:?}"), "PrivateKey { bits: 2048, .. }");
            assert_same_signatures(key, MESSAGES[2]);
        }
        // A key OpenSSL made reads back from its PEM into both backends, still signing alike.
        let again = PrivateKey::from_pem(&by_openssl.to_pkcs8_pem().unwrap()).unwrap();
        assert!(again.openssl.public_eq(&by_openssl.openssl));
        assert_eq!(again.public_key(), by_openssl.public_key());
        assert_same_signatures(&again, MESSAGES[2]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn both_backends_sign_any_message_alike(message in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let [key, _] = vector_keys();
            assert_same_signatures(&key, &message);
        }
    }
}
