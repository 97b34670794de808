//! A holder's pairwise identity with one service: an Ed25519 key, its DID and verkey, and the
//! signature the wallet API asks for on every holder call.
//!
//! Self-contained on purpose (no `super::` imports): the load generator in `examples/` compiles
//! this file too.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use psi_server::crypto::did::DidKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A pairwise key: what the wallet is to one service. `Debug` shows the DID only.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "StoredKey", into = "StoredKey")]
pub struct HolderKey {
    signing: SigningKey,
    did: String,
    verkey: String,
}

/// A stored key that does not hold together.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The seed is not 32 bytes of URL-safe base64.
    #[error("the key seed is not 32 bytes of URL-safe base64")]
    BadSeed,
    /// The stored verkey is not the seed's public key (a damaged or edited wallet file).
    #[error("the verkey {verkey} is not the public key of the stored seed")]
    VerkeyMismatch {
        /// The stored verkey.
        verkey: String,
    },
}

impl HolderKey {
    /// A new random key, its DID derived by the same rule as service DIDs.
    pub fn generate() -> Self {
        let key = DidKey::generate();
        HolderKey {
            signing: SigningKey::from_bytes(&key.seed),
            did: key.did.to_string(),
            verkey: key.verkey,
        }
    }

    /// The pairwise DID (22 base58 characters).
    pub fn did(&self) -> &str {
        &self.did
    }

    /// The verkey: base58 of the 32-byte public key.
    pub fn verkey(&self) -> &str {
        &self.verkey
    }

    /// The `X-Holder-Signature` value for a body: URL-safe base64 (no padding) of the Ed25519
    /// signature over its exact bytes.
    pub fn sign(&self, body: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.signing.sign(body).to_bytes())
    }
}

impl fmt::Debug for HolderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HolderKey")
            .field("did", &self.did)
            .finish_non_exhaustive()
    }
}

/// The wallet file's form of a key.
#[derive(Serialize, Deserialize)]
struct StoredKey {
    did: String,
    verkey: String,
    /// URL-safe base64 of the 32-byte Ed25519 seed.
    seed: Zeroizing<String>,
}

impl TryFrom<StoredKey> for HolderKey {
    type Error = KeyError;

    fn try_from(stored: StoredKey) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(stored.seed.as_bytes())
                .map_err(|_| KeyError::BadSeed)?,
        );
        let seed: &[u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::BadSeed)?;
        let signing = SigningKey::from_bytes(seed);
        if bs58::encode(signing.verifying_key().as_bytes()).into_string() != stored.verkey {
            return Err(KeyError::VerkeyMismatch {
                verkey: stored.verkey,
            });
        }
        Ok(HolderKey {
            signing,
            did: stored.did,
            verkey: stored.verkey,
        })
    }
}

impl From<HolderKey> for StoredKey {
    fn from(key: HolderKey) -> StoredKey {
        StoredKey {
            seed: Zeroizing::new(URL_SAFE_NO_PAD.encode(key.signing.to_bytes())),
            did: key.did,
            verkey: key.verkey,
        }
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    use super::*;

    #[test]
    fn signatures_verify_with_the_verkey() {
        let key = HolderKey::generate();
        let body = br#"{"holderDid":"x","nonce":"n"}"#;
        let signature = URL_SAFE_NO_PAD.decode(key.sign(body)).unwrap();
        let public: [u8; 32] = bs58::decode(key.verkey())
            .into_vec()
            .unwrap()
            .try_into()
            .unwrap();
        let verifying = VerifyingKey::from_bytes(&public).unwrap();
        let signature = Signature::from_slice(&signature).unwrap();
        assert!(verifying.verify(body, &signature).is_ok());
        assert!(verifying.verify(b"other bytes", &signature).is_err());
    }

    #[test]
    fn a_key_survives_the_wallet_file_and_debug_hides_the_seed() {
        let key = HolderKey::generate();
        let json = serde_json::to_string(&key).unwrap();
        let back: HolderKey = serde_json::from_str(&json).unwrap();
        assert_eq!(back.did(), key.did());
        assert_eq!(back.sign(b"m"), key.sign(b"m"));
        let seed = serde_json::from_str::<serde_json::Value>(&json).unwrap()["seed"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!format!("{key:?}").contains(&seed));
        assert!(format!("{key:?}").contains(key.did()));
    }

    #[test]
    fn a_seed_that_does_not_match_its_verkey_is_refused() {
        let json = serde_json::to_value(HolderKey::generate()).unwrap();
        let mut other = json.clone();
        other["verkey"] = serde_json::to_value(HolderKey::generate()).unwrap()["verkey"].clone();
        let err = serde_json::from_value::<HolderKey>(other).unwrap_err();
        assert!(err.to_string().contains("is not the public key"), "{err}");
        let mut short = json;
        short["seed"] = "AAAA".into();
        let err = serde_json::from_value::<HolderKey>(short).unwrap_err();
        assert!(err.to_string().contains("32 bytes"), "{err}");
    }
}
