//! The shared vectors (`vectors/signatures.json`) and key loaders for the integration tests.

use psi_webhook::{PrivateKey, PublicKey, SharedSecret, UnixTime, Verifier};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Vectors {
    pub service_did: String,
    pub rsa_private_key_pkcs8_pem: String,
    pub rsa_private_key_pkcs1_pem: String,
    pub rsa_public_key_spki_pem: String,
    pub sha_secret_base64: String,
    pub signatures: Vec<SignedBody>,
    pub tampered: Tampered,
    pub tokens: Vec<TokenVector>,
}

#[derive(Deserialize)]
pub struct SignedBody {
    pub body: String,
    pub x_body_signature: String,
}

#[derive(Deserialize)]
pub struct Tampered {
    pub body: String,
    pub x_body_signature: String,
    pub valid: bool,
}

#[derive(Deserialize)]
pub struct TokenVector {
    pub alg: String,
    pub direction: String,
    pub token: String,
    pub claims: VectorClaims,
    #[serde(default)]
    pub secret_is_base64: bool,
}

#[derive(Deserialize, Debug, PartialEq)]
pub struct VectorClaims {
    pub iss: Option<String>,
    pub aud: Option<String>,
    pub iat: u64,
    pub exp: u64,
}

impl TokenVector {
    /// A clock inside the token's lifetime.
    pub fn valid_at(&self) -> UnixTime {
        UnixTime::from_secs(self.claims.iat + 100)
    }
}

pub fn vectors() -> Vectors {
    serde_json::from_str(include_str!("../../../../vectors/signatures.json"))
        .expect("vectors/signatures.json parses")
}

impl Vectors {
    pub fn pkcs8_key(&self) -> PrivateKey {
        PrivateKey::from_pem(&self.rsa_private_key_pkcs8_pem).expect("PKCS#8 vector key")
    }

    pub fn pkcs1_key(&self) -> PrivateKey {
        PrivateKey::from_pem(&self.rsa_private_key_pkcs1_pem).expect("PKCS#1 vector key")
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_pem(&self.rsa_public_key_spki_pem).expect("SPKI vector key")
    }

    pub fn secret(&self) -> SharedSecret {
        SharedSecret::from_base64(&self.sha_secret_base64).expect("vector secret")
    }

    /// The verifier each token vector is meant for, by its `alg`.
    pub fn verifier_for(&self, token: &TokenVector) -> Verifier {
        match token.alg.as_str() {
            "RS256" => Verifier::rsa(self.public_key()),
            "HS256" => Verifier::shared_secret(self.secret()),
            other => panic!("vector with unknown alg {other}"),
        }
    }
}
