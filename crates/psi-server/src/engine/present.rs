//! Verification of what the holder presents, against what the interaction requires: each required
//! credential once; self-attested values typed per schema and equal to the link's pre-filled
//! ones; service-attested credentials signed by their issuer, of the right definition, the
//! holder's own, not revoked and, where the interaction says *only last*, the holder's latest.

use std::collections::HashMap;

use serde::Deserialize;
use utoipa::ToSchema;

use super::Stop;
use super::protocol::CredentialValues;
use crate::credentials::Field;
use crate::credentials::issue::check_values;
use crate::credentials::verify::verify;
use crate::db::credential_definitions::CredentialDefinition;
use crate::db::interactions::RequiredCredential;
use crate::db::{self, Db};
use crate::domain::Attestation;
use crate::event::label;
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
    /// The service's definitions by internal id.
    pub definitions: &'a HashMap<String, CredentialDefinition>,
    pub holder_did: &'a HolderDid,
    pub prefilled: &'a [Prefilled],
    pub presented: &'a [Presented],
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
        if !p.required.iter().any(|r| r.credential_id.as_str() == id) {
            return Err(Stop::fail(format!(
                "credential {id} is not required by this interaction"
            )));
        }
        if p.presented[..index]
            .iter()
            .any(|other| &other.credential_id == id)
        {
            return Err(Stop::fail(format!("credential {id} is presented twice")));
        }
    }
    let mut received = Vec::with_capacity(p.required.len());
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
    Ok(received)
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
    // The definition id names its issuer, so this also proves the issuer is this service.
    if content.issuer != required.credential_id.issuer() || content.issuer != scope.did().as_str() {
        return Err(fail(format!("it was issued by {}", content.issuer)));
    }
    if content.subject != p.holder_did.as_str() {
        return Err(fail("it was issued to another holder".into()));
    }
    if content.schema_id != definition.schema.schema_id {
        return Err(fail(format!(
            "it names schema {}, not {}",
            content.schema_id.as_str(),
            definition.schema.schema_id.as_str()
        )));
    }
    if required.only_last {
        let latest = db::credentials::latest_jti(db, scope, &definition.id, p.holder_did).await?;
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
