//! Verification of what the holder presents, against what the interaction requires: each required
//! credential once; self-attested values typed per schema and equal to the link's pre-filled
//! ones; service-attested credentials signed by their issuer (this service, or another on this
//! server whose public definition is required), of the right definition, the holder's own, not
//! revoked and, where the interaction says *only last*, the holder's latest.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use psi_link::CredentialDefinitionId;
use serde::Deserialize;
use utoipa::ToSchema;

use super::Stop;
use super::protocol::CredentialValues;
use crate::credentials::Field;
use crate::credentials::issue::check_values;
use crate::credentials::verify::verify;
use crate::db::credential_definitions::CredentialDefinition;
use crate::db::interactions::{RequiredCredential, SchemaRequirement};
use crate::db::{self, Db};
use crate::domain::Attestation;
use crate::event::{label, owner_of};
use crate::ids::{HolderDid, Jti};
use crate::scope::ServiceScope;

/// A credential the holder presents.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Presented {
    /// The definition, `<DID>:3:CL:<seq>:<tag>`.
    pub credential_id: String,
    /// Service-attested credentials: the VC-JWT the holder received.
    #[serde(default)]
    pub jwt: Option<String>,
    /// Self-attested credentials: every attribute of the schema.
    #[serde(default)]
    pub attributes: Option<Vec<Field>>,
    /// A credential issued to another of the holder's pairwise DIDs (another service issued
    /// it): proof that the holder controls that DID.
    #[serde(default)]
    pub binding: Option<Binding>,
}

/// Proof that the holder presenting a credential controls its subject DID: the subject's key
/// signs [`binding_message`], which names this service, this request's nonce and the credential,
/// so the proof is good for this one presentation only.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// Base58 Ed25519 public key of the credential's subject, whose DID is base58 of its first
    /// 16 bytes.
    pub verkey: String,
    /// Base64url (no padding) Ed25519 signature of the binding message.
    pub signature: String,
}

/// What a [`Binding`] signs: `psi-presentation`, the DID of the service the event runs at, the
/// presenting holder's DID there, the event request's `nonce` and the credential's `jti`, one
/// per line. Naming the presenter keeps another holder from replaying a captured binding (nonces
/// are accepted once per holder key).
pub fn binding_message(service_did: &str, holder_did: &str, nonce: &str, jti: &str) -> String {
    format!("psi-presentation\n{service_did}\n{holder_did}\n{nonce}\n{jti}")
}

/// Checks that `binding` proves control of `subject` for this presentation.
fn check_binding(
    binding: Option<&Binding>,
    subject: &str,
    message: &str,
) -> Result<(), &'static str> {
    let binding = binding.ok_or(
        "it was issued to another holder DID, and no `binding` proves it is this holder's",
    )?;
    let key: [u8; 32] = bs58::decode(&binding.verkey)
        .into_vec()
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("its `binding.verkey` is not base58 of a 32-byte key")?;
    if HolderDid::of_key(&key).as_str() != subject {
        return Err("its `binding.verkey` is not the key of the DID it was issued to");
    }
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(&binding.signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("its `binding.signature` is not base64url of 64 bytes")?;
    VerifyingKey::from_bytes(&key)
        .and_then(|key| key.verify_strict(message.as_bytes(), &Signature::from_bytes(&signature)))
        .map_err(|_| "its `binding.signature` does not verify")
}

/// Pre-filled values from the link (its `preparedCredentials`, as the link carries them).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Prefilled {
    pub credential_id: String,
    #[serde(default)]
    pub attributes: Vec<Field>,
}

/// A verified credential, as the webhooks will see it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Internal id of its definition.
    pub definition_id: String,
    /// Ask the definition's credential-check webhook too.
    pub external_verification: bool,
    pub values: CredentialValues,
}

/// What to verify.
pub struct Presentation<'a> {
    pub required: &'a [RequiredCredential],
    /// Required by schema, after `required`.
    pub required_schemas: &'a [SchemaRequirement],
    /// The service's definitions by internal id.
    pub definitions: &'a HashMap<String, CredentialDefinition>,
    pub holder_did: &'a HolderDid,
    pub prefilled: &'a [Prefilled],
    pub presented: &'a [Presented],
    /// The request's nonce, which bindings sign.
    pub nonce: &'a str,
    /// Unix milliseconds: the issue time of self-attested values.
    pub now: i64,
}

/// Verifies the presentation; the verified credentials are in the interaction's order.
pub(crate) async fn verify_presentation(
    db: &Db,
    scope: &ServiceScope,
    p: &Presentation<'_>,
) -> Result<Vec<Received>, Stop> {
    for (index, presented) in p.presented.iter().enumerate() {
        let id = &presented.credential_id;
        if p.presented[..index]
            .iter()
            .any(|other| &other.credential_id == id)
        {
            return Err(Stop::fail(format!("credential {id} is presented twice")));
        }
    }
    // What no definition requirement names is for the schema requirements, in their order.
    let mut by_schema: Vec<&Presented> = p
        .presented
        .iter()
        .filter(|c| {
            !p.required
                .iter()
                .any(|r| r.credential_id.as_str() == c.credential_id)
        })
        .collect();
    let mut received = Vec::with_capacity(p.required.len() + p.required_schemas.len());
    for required in p.required {
        let definition = p.definitions.get(&required.definition_id).ok_or_else(|| {
            Stop::Internal(anyhow::anyhow!(
                "a required definition is not the service's"
            ))
        })?;
        let Some(presented) = p
            .presented
            .iter()
            .find(|c| c.credential_id == required.credential_id.as_str())
        else {
            return Err(Stop::fail(format!(
                "credential {} is required but was not presented",
                label(definition)
            )));
        };
        let values = match definition.attestation {
            Attestation::SelfAttested => self_attested(p, required, definition, presented)?,
            Attestation::Service => {
                service_attested(db, scope, p, required, definition, presented).await?
            }
        };
        received.push(Received {
            definition_id: definition.id.clone(),
            external_verification: required.external_verification,
            values,
        });
    }
    for wanted in p.required_schemas {
        let (index, definition) = of_schema(db, scope, wanted, &by_schema).await?;
        let presented = by_schema.remove(index);
        // The definition found stands for the schema requirement, as if named.
        let required = RequiredCredential {
            definition_id: definition.id.clone(),
            credential_id: definition.credential_id.clone(),
            prefill_from_qr: false,
            external_verification: false,
            only_last: wanted.only_last,
            attestation: definition.attestation,
            attributes: definition.schema.attributes.clone(),
            added_by: wanted.added_by.clone(),
        };
        let values = service_attested(db, scope, p, &required, &definition, presented).await?;
        received.push(Received {
            definition_id: definition.id,
            external_verification: false,
            values,
        });
    }
    if let Some(extra) = by_schema.first() {
        return Err(Stop::fail(format!(
            "credential {} is not required by this interaction",
            extra.credential_id
        )));
    }
    Ok(received)
}

/// The first of `candidates` whose definition is a public, service-attested definition of
/// `wanted`'s schema by one of its trusted issuers, with that definition.
async fn of_schema(
    db: &Db,
    scope: &ServiceScope,
    wanted: &SchemaRequirement,
    candidates: &[&Presented],
) -> Result<(usize, CredentialDefinition), Stop> {
    for (index, presented) in candidates.iter().enumerate() {
        let Ok(credential_id) = presented.credential_id.parse::<CredentialDefinitionId>() else {
            continue;
        };
        if !wanted
            .trusted_issuers
            .iter()
            .any(|did| did == credential_id.issuer())
        {
            continue;
        }
        let Some(owner) = owner_of(db, scope, &credential_id).await? else {
            continue;
        };
        let found = db::credential_definitions::list_cached(db, &owner)
            .await?
            .into_iter()
            .find(|d| {
                d.credential_id == credential_id
                    && d.schema.schema_id == wanted.schema_id
                    && d.attestation == Attestation::Service
                    && (d.public || owner.did() == scope.did())
            });
        if let Some(definition) = found {
            return Ok((index, definition));
        }
    }
    Err(Stop::fail(format!(
        "a credential of schema {} issued by {} is required but was not presented",
        wanted.schema_id,
        wanted.trusted_issuers.join(" or ")
    )))
}

fn self_attested(
    p: &Presentation<'_>,
    required: &RequiredCredential,
    definition: &CredentialDefinition,
    presented: &Presented,
) -> Result<CredentialValues, Stop> {
    let label = label(definition);
    let (Some(attributes), None) = (&presented.attributes, &presented.jwt) else {
        return Err(Stop::fail(format!(
            "credential {label} is self-attested: present its `attributes`, not a `jwt`"
        )));
    };
    let schema = &definition.schema.attributes;
    let fields = check_values(schema, attributes)
        .map_err(|e| Stop::fail(format!("credential {label}: {e}")))?;
    let prefilled = p
        .prefilled
        .iter()
        .filter(|_| required.prefill_from_qr)
        .filter(|c| c.credential_id == required.credential_id.as_str())
        .flat_map(|c| &c.attributes)
        // Values for attributes the schema lacks are ignored (docs/protocol.md §2).
        .filter(|a| schema.get(&a.name).is_some());
    for expected in prefilled {
        schema
            .check_value(&expected.name, &expected.value)
            .map_err(|e| {
                Stop::fail(format!(
                    "credential {label}: the link's pre-filled value is not valid: {e}"
                ))
            })?;
        let given = fields.iter().find(|f| f.name == expected.name);
        if given.is_none_or(|f| f.value != expected.value) {
            return Err(Stop::fail(format!(
                "credential {label}: attribute {:?} was pre-filled by the link and cannot be \
                 changed",
                expected.name
            )));
        }
    }
    Ok(CredentialValues {
        credential_id: required.credential_id.to_string(),
        schema_id: definition.schema.schema_id.to_string(),
        fields,
        utc_issued_at: p.now,
        revoked: false,
    })
}

async fn service_attested(
    db: &Db,
    scope: &ServiceScope,
    p: &Presentation<'_>,
    required: &RequiredCredential,
    definition: &CredentialDefinition,
    presented: &Presented,
) -> Result<CredentialValues, Stop> {
    let label = label(definition);
    let (Some(jwt), None) = (&presented.jwt, &presented.attributes) else {
        return Err(Stop::fail(format!(
            "credential {label} is issued by the service: present its `jwt`, not `attributes`"
        )));
    };
    let fail = |reason: String| Stop::fail(format!("credential {label}: {reason}"));
    let content = verify(db, jwt).await?.map_err(|e| fail(e.to_string()))?;
    if content.credential_id != required.credential_id {
        return Err(fail(format!(
            "the presented credential is of definition {}",
            content.credential_id.as_str()
        )));
    }
    // The definition id names its issuer: this service, or another on this server whose public
    // definition the interaction requires; `verify` checked the signature with that issuer's key.
    if content.issuer != required.credential_id.issuer() {
        return Err(fail(format!(
            "it was issued by {}, not by {}",
            content.issuer,
            required.credential_id.issuer()
        )));
    }
    if content.subject != p.holder_did.as_str() {
        // Pairwise DIDs differ by service: a credential from another service names another.
        let message = binding_message(
            scope.did().as_str(),
            p.holder_did.as_str(),
            p.nonce,
            &content.jti,
        );
        check_binding(presented.binding.as_ref(), &content.subject, &message)
            .map_err(|reason| fail(reason.into()))?;
    }
    if content.schema_id != definition.schema.schema_id {
        return Err(fail(format!(
            "it names schema {}, not {}",
            content.schema_id.as_str(),
            definition.schema.schema_id.as_str()
        )));
    }
    if required.only_last {
        // The latest is among the issuer's credentials for the DID it issued them to (the
        // holder's pairwise DID there).
        let issuer = owner_of(db, scope, &required.credential_id)
            .await?
            .ok_or_else(|| fail("its issuer is no longer a service on this server".into()))?;
        let subject: HolderDid = content
            .subject
            .parse()
            .map_err(|_| fail("its subject is not a holder DID".into()))?;
        let latest = db::credentials::latest_jti(db, &issuer, &definition.id, &subject).await?;
        if latest.as_ref().map(Jti::as_str) != Some(content.jti.as_str()) {
            return Err(fail(
                "only the most recent credential of this kind is accepted, and this is an \
                 older one"
                    .into(),
            ));
        }
    }
    let fields = check_values(&definition.schema.attributes, &content.attributes)
        .map_err(|e| fail(e.to_string()))?;
    Ok(CredentialValues {
        credential_id: content.credential_id.to_string(),
        schema_id: content.schema_id.to_string(),
        fields,
        utc_issued_at: content.issued_at.saturating_mul(1000),
        revoked: false,
    })
}
