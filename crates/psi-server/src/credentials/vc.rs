//! The credential format: a W3C Verifiable Credential in its JWT encoding (VC Data Model, "JWT and
//! JWS" securing), signed with EdDSA by the issuing service's DID key.
//!
//! Header `{"alg":"EdDSA","typ":"JWT","kid":"<DID>#key-1"}`; claims `iss` (the service DID), `sub`
//! (the holder's pairwise DID), `jti` (the credential id, also its revocation handle), `iat`
//! (seconds) and `vc` with the definition id, the schema id and the attribute values in
//! `credentialSubject`. Compact JWS: `base64url(header).base64url(claims).base64url(signature)`,
//! no padding.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use psi_link::{CredentialDefinitionId, SchemaId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Field;

/// The `@context` of every credential.
const CONTEXT: &str = "https://www.w3.org/2018/credentials/v1";
/// The `credentialSchema.type` naming how the schema id is to be read.
const SCHEMA_TYPE: &str = "psi";
/// The one key a service DID has, as JOSE `kid` suffix.
const KEY_FRAGMENT: &str = "#key-1";
/// `credentialSubject.id`: the subject, so no attribute may have this name.
const SUBJECT_ID: &str = "id";

/// What a credential says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialContent {
    /// The issuing service's DID.
    pub issuer: String,
    /// The holder's pairwise DID with the issuer.
    pub subject: String,
    /// The credential id and revocation handle.
    pub jti: String,
    /// Issue time, seconds since the epoch.
    pub issued_at: i64,
    pub credential_id: CredentialDefinitionId,
    pub schema_id: SchemaId,
    /// Values in schema order.
    pub attributes: Vec<Field>,
}

/// Why a string is not a credential psi can read or trust.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VcError {
    #[error("the credential is not a compact JWT (three base64url parts)")]
    NotCompact,
    #[error("the credential's header is not EdDSA with a `kid` of its issuer's DID")]
    Header,
    #[error("the credential's claims are malformed: {0}")]
    Claims(String),
    #[error("an attribute may not be named `id`: it is the subject's DID in a credential")]
    ReservedAttribute,
    #[error("the credential's signature does not verify with its issuer's key")]
    Signature,
    #[error("the issuer's key is not a valid Ed25519 public key")]
    IssuerKey,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    jti: String,
    iat: i64,
    vc: Vc,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vc {
    #[serde(rename = "@context")]
    context: Vec<String>,
    #[serde(rename = "type")]
    kind: Vec<String>,
    credential_schema: CredentialSchema,
    credential_definition_id: String,
    credential_subject: Map<String, Value>,
}

#[derive(Serialize, Deserialize)]
struct CredentialSchema {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Signs `content` with the issuer's DID key.
///
/// ```
/// use ed25519_dalek::SigningKey;
/// use psi_server::credentials::vc::{CredentialContent, sign, verify};
/// use psi_server::credentials::Field;
///
/// let key = SigningKey::from_bytes(&[7; 32]);
/// let content = CredentialContent {
///     issuer: "GbzPqgnU4XsMs7xg9mYJW8".into(),
///     subject: "9s57yZDBqwfZHdodKXTjKH".into(),
///     jti: "0123456789abcdef0123456789abcdef".into(),
///     issued_at: 1_700_000_000,
///     credential_id: "GbzPqgnU4XsMs7xg9mYJW8:3:CL:1:member".parse().unwrap(),
///     schema_id: "GbzPqgnU4XsMs7xg9mYJW8:2:Member:1.0".parse().unwrap(),
///     attributes: vec![Field { name: "Name".into(), value: "Ada".into() }],
/// };
/// let jwt = sign(&content, &key).unwrap();
/// assert_eq!(verify(&jwt, &key.verifying_key()).unwrap(), content);
/// ```
pub fn sign(content: &CredentialContent, key: &SigningKey) -> Result<String, VcError> {
    let mut subject = Map::with_capacity(content.attributes.len() + 1);
    subject.insert(SUBJECT_ID.into(), Value::String(content.subject.clone()));
    for attribute in &content.attributes {
        if attribute.name == SUBJECT_ID {
            return Err(VcError::ReservedAttribute);
        }
        subject.insert(
            attribute.name.clone(),
            Value::String(attribute.value.clone()),
        );
    }
    let header = Header {
        alg: "EdDSA".into(),
        typ: Some("JWT".into()),
        kid: Some(format!("{}{KEY_FRAGMENT}", content.issuer)),
    };
    let claims = Claims {
        iss: content.issuer.clone(),
        sub: content.subject.clone(),
        jti: content.jti.clone(),
        iat: content.issued_at,
        vc: Vc {
            context: vec![CONTEXT.into()],
            kind: vec!["VerifiableCredential".into()],
            credential_schema: CredentialSchema {
                id: content.schema_id.to_string(),
                kind: SCHEMA_TYPE.into(),
            },
            credential_definition_id: content.credential_id.to_string(),
            credential_subject: subject,
        },
    };
    let input = format!("{}.{}", encode_json(&header), encode_json(&claims));
    let signature = key.sign(input.as_bytes());
    Ok(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

fn encode_json(value: &impl Serialize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON of strings and integers"))
}

/// A credential read without checking its signature: first step of verification, to learn its
/// issuer (whose key is then looked up).
#[derive(Debug, Clone)]
pub struct Unverified<'a> {
    input: &'a str,
    signature: Signature,
    /// What the credential claims.
    pub content: CredentialContent,
}

/// Reads a compact VC-JWT. The signature is not checked: call [`Unverified::verify`].
pub fn parse(jwt: &str) -> Result<Unverified<'_>, VcError> {
    let jwt = jwt.trim();
    let (input, signature) = jwt.rsplit_once('.').ok_or(VcError::NotCompact)?;
    let (header, claims) = input.split_once('.').ok_or(VcError::NotCompact)?;
    let header: Header = decode_json(header)?;
    let claims: Claims = decode_json(claims)?;
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(VcError::NotCompact)?;
    let kid_matches = header.kid.as_deref() == Some(&format!("{}{KEY_FRAGMENT}", claims.iss));
    if header.alg != "EdDSA" || !kid_matches {
        return Err(VcError::Header);
    }
    Ok(Unverified {
        input,
        signature: Signature::from_bytes(&signature),
        content: content_of(claims)?,
    })
}

fn decode_json<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, VcError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VcError::NotCompact)?;
    serde_json::from_slice(&bytes).map_err(|e| VcError::Claims(e.to_string()))
}

fn content_of(claims: Claims) -> Result<CredentialContent, VcError> {
    let malformed = |what: &str| VcError::Claims(what.to_owned());
    let vc = claims.vc;
    let mut attributes = Vec::with_capacity(vc.credential_subject.len());
    for (name, value) in vc.credential_subject {
        match (name.as_str(), value) {
            (SUBJECT_ID, Value::String(id)) if id == claims.sub => {}
            (SUBJECT_ID, _) => return Err(malformed("`credentialSubject.id` is not `sub`")),
            (_, Value::String(value)) => attributes.push(Field { name, value }),
            _ => return Err(malformed("an attribute value is not a string")),
        }
    }
    Ok(CredentialContent {
        credential_id: vc
            .credential_definition_id
            .parse()
            .map_err(|_| malformed("`vc.credentialDefinitionId` is not a definition id"))?,
        schema_id: vc
            .credential_schema
            .id
            .parse()
            .map_err(|_| malformed("`vc.credentialSchema.id` is not a schema id"))?,
        issuer: claims.iss,
        subject: claims.sub,
        jti: claims.jti,
        issued_at: claims.iat,
        attributes,
    })
}

impl Unverified<'_> {
    /// Checks the signature with the issuer's verkey (base58 of its Ed25519 public key).
    pub fn verify(self, verkey: &str) -> Result<CredentialContent, VcError> {
        let key: [u8; 32] = bs58::decode(verkey)
            .into_vec()
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(VcError::IssuerKey)?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| VcError::IssuerKey)?;
        self.verify_with(&key)
    }

    fn verify_with(self, key: &VerifyingKey) -> Result<CredentialContent, VcError> {
        key.verify_strict(self.input.as_bytes(), &self.signature)
            .map_err(|_| VcError::Signature)?;
        Ok(self.content)
    }
}

/// Parses and verifies `jwt` with `key` (when the issuer's key is already known).
pub fn verify(jwt: &str, key: &VerifyingKey) -> Result<CredentialContent, VcError> {
    parse(jwt)?.verify_with(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> CredentialContent {
        CredentialContent {
            issuer: "GbzPqgnU4XsMs7xg9mYJW8".into(),
            subject: "9s57yZDBqwfZHdodKXTjKH".into(),
            jti: "00112233445566778899aabbccddeeff".into(),
            issued_at: 1_700_000_000,
            credential_id: "GbzPqgnU4XsMs7xg9mYJW8:3:CL:4:gold".parse().unwrap(),
            schema_id: "GbzPqgnU4XsMs7xg9mYJW8:2:Member:1.0".parse().unwrap(),
            attributes: vec![
                Field {
                    name: "Name".into(),
                    value: "Ada".into(),
                },
                Field {
                    name: "Level".into(),
                    value: "2".into(),
                },
            ],
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[3; 32])
    }

    fn part(jwt: &str, index: usize) -> Value {
        let text = jwt.split('.').nth(index).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).unwrap()).unwrap()
    }

    #[test]
    fn a_credential_is_a_vc_jwt_with_the_agreed_header_and_claims() {
        let jwt = sign(&content(), &key()).unwrap();
        assert_eq!(
            part(&jwt, 0),
            serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": "GbzPqgnU4XsMs7xg9mYJW8#key-1"})
        );
        let claims = part(&jwt, 1);
        assert_eq!(claims["iss"], "GbzPqgnU4XsMs7xg9mYJW8");
        assert_eq!(claims["sub"], "9s57yZDBqwfZHdodKXTjKH");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(
            claims["vc"]["type"],
            serde_json::json!(["VerifiableCredential"])
        );
        assert_eq!(claims["vc"]["@context"][0], CONTEXT);
        assert_eq!(
            claims["vc"]["credentialSchema"],
            serde_json::json!({"id": "GbzPqgnU4XsMs7xg9mYJW8:2:Member:1.0", "type": "psi"})
        );
        assert_eq!(
            claims["vc"]["credentialDefinitionId"],
            "GbzPqgnU4XsMs7xg9mYJW8:3:CL:4:gold"
        );
        assert_eq!(
            claims["vc"]["credentialSubject"],
            serde_json::json!({"id": "9s57yZDBqwfZHdodKXTjKH", "Name": "Ada", "Level": "2"})
        );
    }

    #[test]
    fn verification_returns_the_content_with_its_verkey() {
        let jwt = sign(&content(), &key()).unwrap();
        let verkey = bs58::encode(key().verifying_key().to_bytes()).into_string();
        let verified = parse(&jwt).unwrap().verify(&verkey).unwrap();
        assert_eq!(verified.jti, content().jti);
        let mut names: Vec<_> = verified
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["Level", "Name"]);
    }

    #[test]
    fn another_key_or_a_changed_claim_fails_the_signature() {
        let jwt = sign(&content(), &key()).unwrap();
        let other = SigningKey::from_bytes(&[4; 32]).verifying_key();
        assert_eq!(verify(&jwt, &other), Err(VcError::Signature));
        let mut claims = part(&jwt, 1);
        claims["vc"]["credentialSubject"]["Name"] = "Eve".into();
        let parts: Vec<&str> = jwt.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], encode_json(&claims), parts[2]);
        assert_eq!(
            verify(&forged, &key().verifying_key()),
            Err(VcError::Signature)
        );
    }

    #[test]
    fn malformed_credentials_are_refused_with_their_reason() {
        let public = key().verifying_key();
        assert_eq!(verify("abc", &public), Err(VcError::NotCompact));
        assert_eq!(verify("a.b.c", &public), Err(VcError::NotCompact));
        let jwt = sign(&content(), &key()).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let none_alg =
            encode_json(&serde_json::json!({"alg": "none", "kid": "GbzPqgnU4XsMs7xg9mYJW8#key-1"}));
        let forged = format!("{none_alg}.{}.{}", parts[1], parts[2]);
        assert_eq!(verify(&forged, &public), Err(VcError::Header));
        let other_kid = encode_json(
            &serde_json::json!({"alg": "EdDSA", "kid": "9s57yZDBqwfZHdodKXTjKH#key-1"}),
        );
        let forged = format!("{other_kid}.{}.{}", parts[1], parts[2]);
        assert_eq!(verify(&forged, &public), Err(VcError::Header));
    }

    #[test]
    fn an_attribute_named_id_cannot_be_signed() {
        let mut content = content();
        content.attributes[0].name = "id".into();
        assert_eq!(sign(&content, &key()), Err(VcError::ReservedAttribute));
    }
}
