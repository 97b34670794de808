//! Service public DIDs: Indy-style, the base58 of the first 16 bytes of an Ed25519 public key.
//! The DID type is the link codec's (`psi_link::Did`), whose rules every DID psi reads follows; the
//! DIDs psi makes are always 22 characters.

use ed25519_dalek::SigningKey;
use psi_link::Did;
use zeroize::Zeroizing;

use super::random_bytes;

/// Length of a DID in characters (docs/protocol.md §1).
const DID_LEN: usize = 22;

/// A new Ed25519 key and the DID and verkey derived from it.
pub struct DidKey {
    /// The 32-byte Ed25519 seed (the private key).
    pub seed: Zeroizing<[u8; 32]>,
    /// The DID: base58 of the public key's first 16 bytes.
    pub did: Did,
    /// The verkey: base58 of the whole 32-byte public key.
    pub verkey: String,
}

impl DidKey {
    /// Generates a key whose DID has 22 characters.
    ///
    /// 16 bytes encode to 21 base58 characters about 3% of the time (small values, or a leading
    /// zero byte); such keys are discarded and another drawn, so every DID has the documented form.
    pub fn generate() -> Self {
        loop {
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(&random_bytes(32));
            let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
            let did = bs58::encode(&public[..16]).into_string();
            if did.len() == DID_LEN {
                return DidKey {
                    seed,
                    did: did.parse().expect("22 base58 characters are a DID"),
                    verkey: bs58::encode(public).into_string(),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_dids_are_22_base58_characters_of_the_public_key() {
        for _ in 0..200 {
            let key = DidKey::generate();
            assert_eq!(key.did.as_str().len(), 22);
            let public = SigningKey::from_bytes(&key.seed).verifying_key().to_bytes();
            assert_eq!(
                bs58::decode(key.did.as_str()).into_vec().unwrap(),
                &public[..16]
            );
            assert_eq!(bs58::decode(&key.verkey).into_vec().unwrap(), public);
            assert!(key.did.as_str().parse::<Did>().is_ok());
        }
    }

    #[test]
    fn strings_that_are_not_dids_are_refused() {
        for bad in [
            "",
            "short",
            "GbzPqgnU4XsMs7xg9mYJW8x",
            "GbzPqgnU4XsMs7xg9mYJWl",
            "did:sov:GbzPqgnU4XsMs7xg9mYJW8",
        ] {
            assert!(bad.parse::<Did>().is_err(), "{bad:?}");
        }
    }
}
