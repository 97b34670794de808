//! Credentials as psi issues them: W3C VC-JWTs signed with EdDSA by the service's DID key
//! (`psi_server::credentials::vc` reads and verifies them). Before storing one, the wallet checks
//! the signature with the service's verkey and that it was issued to the wallet itself.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use psi_link::Attribute;
use psi_server::credentials::vc::{self, VcError};
use serde_json::Value;

use super::client::IssuedCredential;
use super::file::{Status, StoredCredential};

/// Why a credential is refused.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Not a psi credential, or the signature does not verify.
    #[error(transparent)]
    Vc(#[from] VcError),
    /// Verified, but not what the server said it is, or not the wallet's.
    #[error("the credential's {claim} is {found:?}, expected {expected:?}")]
    Mismatch {
        claim: &'static str,
        found: String,
        expected: String,
    },
}

/// Checks a credential the server handed over, and makes the wallet's record of it: signed by
/// `service_did`'s key `verkey`, issued to `holder_did`, and saying what the server said it is.
/// The signed values are what is stored.
pub fn accept(
    issued: &IssuedCredential,
    service_did: &str,
    verkey: &str,
    holder_did: &str,
    event_id: Option<&str>,
    received_at: u64,
) -> Result<StoredCredential, CredentialError> {
    let content = vc::parse(&issued.jwt)?.verify(verkey)?;
    let credential_id = content.credential_id.to_string();
    let schema_id = content.schema_id.to_string();
    expect("iss", &content.issuer, service_did)?;
    expect("sub", &content.subject, holder_did)?;
    expect("jti", &content.jti, &issued.jti)?;
    expect(
        "credentialDefinitionId",
        &credential_id,
        &issued.credential_id,
    )?;
    expect("credentialSchema.id", &schema_id, &issued.schema_id)?;
    Ok(StoredCredential {
        jti: content.jti,
        service_did: content.issuer,
        holder_did: content.subject,
        credential_id,
        schema_id,
        attributes: content
            .attributes
            .into_iter()
            .map(|field| Attribute {
                name: field.name,
                value: field.value,
            })
            .collect(),
        issued_at: content.issued_at,
        received_at,
        event_id: issued.event_id.clone().or(event_id.map(str::to_owned)),
        status: Status::Valid,
        revoked_at: None,
        jwt: issued.jwt.clone(),
    })
}

fn expect(claim: &'static str, found: &str, expected: &str) -> Result<(), CredentialError> {
    if found == expected {
        Ok(())
    } else {
        Err(CredentialError::Mismatch {
            claim,
            found: found.to_owned(),
            expected: expected.to_owned(),
        })
    }
}

/// The JWT's header and claims as JSON, for display (`None` for a part that is not base64url
/// JSON; stored credentials were verified when received).
pub fn header_and_claims(jwt: &str) -> (Option<Value>, Option<Value>) {
    let mut parts = jwt.trim().split('.');
    let mut next = || {
        parts
            .next()
            .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    };
    let header = next();
    (header, next())
}

/// Whether `did` belongs to the base58 Ed25519 public key `verkey`: a DID is the base58 of the
/// key's first 16 bytes (the rule `psi_server::crypto::did` creates DIDs by).
pub fn verkey_matches_did(verkey: &str, did: &str) -> bool {
    bs58::decode(verkey)
        .into_vec()
        .is_ok_and(|key| key.len() == 32 && bs58::encode(&key[..16]).into_string() == did)
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use psi_server::credentials::Field;
    use psi_server::credentials::vc::CredentialContent;

    use super::*;

    const SERVICE: &str = "GbzPqgnU4XsMs7xg9mYJW8";
    const HOLDER: &str = "8mJwYzXHkpkQoMXsU5YnqZ";
    const DEFINITION: &str = "GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:member";
    const SCHEMA: &str = "GbzPqgnU4XsMs7xg9mYJW8:2:Member:1.0";

    fn key() -> (SigningKey, String) {
        let key = SigningKey::from_bytes(&[7; 32]);
        let verkey = bs58::encode(key.verifying_key().as_bytes()).into_string();
        (key, verkey)
    }

    fn signed(key: &SigningKey) -> String {
        let content = CredentialContent {
            issuer: SERVICE.into(),
            subject: HOLDER.into(),
            jti: "c1".into(),
            issued_at: 1_700_000_000,
            credential_id: DEFINITION.parse().unwrap(),
            schema_id: SCHEMA.parse().unwrap(),
            attributes: vec![
                Field {
                    name: "Name".into(),
                    value: "Alice".into(),
                },
                Field {
                    name: "Level".into(),
                    value: "3".into(),
                },
            ],
        };
        vc::sign(&content, key).unwrap()
    }

    fn issued(jwt: String) -> IssuedCredential {
        IssuedCredential {
            jti: "c1".to_owned(),
            credential_id: DEFINITION.to_owned(),
            schema_id: SCHEMA.to_owned(),
            jwt,
            event_id: None,
        }
    }

    #[test]
    fn a_signed_credential_is_accepted_with_its_signed_values() {
        let (key, verkey) = key();
        let jwt = signed(&key);
        let stored = accept(
            &issued(jwt.clone()),
            SERVICE,
            &verkey,
            HOLDER,
            Some("e1"),
            9,
        )
        .unwrap();
        assert_eq!(stored.jti, "c1");
        assert_eq!(stored.issued_at, 1_700_000_000);
        assert_eq!(stored.event_id.as_deref(), Some("e1"));
        let mut values: Vec<_> = stored
            .attributes
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_str()))
            .collect();
        values.sort_unstable();
        assert_eq!(values, [("Level", "3"), ("Name", "Alice")]);
        assert_eq!(stored.jwt, jwt);
        let (header, claims) = header_and_claims(&jwt);
        assert_eq!(header.unwrap()["alg"], "EdDSA");
        assert_eq!(claims.unwrap()["sub"], HOLDER);
    }

    #[test]
    fn another_key_another_holder_or_another_definition_is_refused() {
        let (key, verkey) = key();
        let jwt = signed(&key);
        let other = SigningKey::from_bytes(&[8; 32]);
        let other_verkey = bs58::encode(other.verifying_key().as_bytes()).into_string();
        let err = accept(
            &issued(jwt.clone()),
            SERVICE,
            &other_verkey,
            HOLDER,
            None,
            0,
        )
        .unwrap_err();
        assert!(
            matches!(err, CredentialError::Vc(VcError::Signature)),
            "{err}"
        );

        let err = accept(
            &issued(jwt.clone()),
            SERVICE,
            &verkey,
            "someoneElse",
            None,
            0,
        )
        .unwrap_err();
        assert!(
            matches!(err, CredentialError::Mismatch { claim: "sub", .. }),
            "{err}"
        );

        let mut relabelled = issued(jwt);
        relabelled.credential_id = "GbzPqgnU4XsMs7xg9mYJW8:3:CL:201:gold".to_owned();
        let err = accept(&relabelled, SERVICE, &verkey, HOLDER, None, 0).unwrap_err();
        assert!(
            matches!(
                err,
                CredentialError::Mismatch {
                    claim: "credentialDefinitionId",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_did_matches_only_the_key_it_was_derived_from() {
        let (_, verkey) = key();
        let public = bs58::decode(&verkey).into_vec().unwrap();
        let did = bs58::encode(&public[..16]).into_string();
        assert!(verkey_matches_did(&verkey, &did));
        assert!(!verkey_matches_did(&verkey, SERVICE));
        assert!(!verkey_matches_did("not base58 0OIl", &did));
        assert!(!verkey_matches_did(&did, &did));
    }
}
