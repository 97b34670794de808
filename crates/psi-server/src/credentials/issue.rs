//! Issuing: values checked against their definition's schema, signed with the service's DID key,
//! and stored in the caller's transaction together with the rest of their batch, so a batch is
//! issued whole or not at all.

use anyhow::Context;
use ed25519_dalek::SigningKey;
use sqlx::{Any, Transaction};

use super::vc::{self, CredentialContent, VcError};
use super::{Field, IssuedCredential};
use crate::db::credential_definitions::CredentialDefinition;
use crate::db::{self, credentials::NewCredential};
use crate::domain::{Attributes, ValueError};
use crate::http::AppState;
use crate::ids::{EventId, HolderDid, Jti};
use crate::scope::ServiceScope;

/// Why values do not fit a schema. Messages name the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValuesError {
    /// Not in the schema, or not of its type.
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("attribute {0:?} is missing")]
    Missing(String),
    #[error("attribute {0:?} is given twice")]
    Duplicate(String),
}

/// Checks `fields` against `attributes`: each schema attribute exactly once, each value of its
/// type. Returns the values in schema order.
///
/// ```
/// use psi_server::credentials::{Field, issue::check_values};
/// use psi_server::domain::{AttributeJson, AttributeKind, Attributes};
///
/// let schema = Attributes::parse(vec![AttributeJson {
///     name: "Born".into(), kind: AttributeKind::Date, enum_values: None,
/// }]).unwrap();
/// let field = |value: &str| Field { name: "Born".into(), value: value.into() };
/// assert!(check_values(&schema, &[field("631152000")]).is_ok());
/// let error = check_values(&schema, &[field("yesterday")]).unwrap_err();
/// assert!(error.to_string().starts_with("attribute \"Born\": a date is seconds"));
/// ```
pub fn check_values(attributes: &Attributes, fields: &[Field]) -> Result<Vec<Field>, ValuesError> {
    for (index, field) in fields.iter().enumerate() {
        attributes.check_value(&field.name, &field.value)?;
        if fields[..index].iter().any(|f| f.name == field.name) {
            return Err(ValuesError::Duplicate(field.name.clone()));
        }
    }
    attributes
        .iter()
        .map(|attribute| {
            fields
                .iter()
                .find(|f| f.name == attribute.name.as_str())
                .cloned()
                .ok_or_else(|| ValuesError::Missing(attribute.name.to_string()))
        })
        .collect()
}

/// The service's DID key, opened for signing credentials. `Debug` shows the DID only.
pub struct Issuer {
    did: String,
    key: SigningKey,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("did", &self.did)
            .finish_non_exhaustive()
    }
}

/// A credential signed and ready to store.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Internal id of the definition.
    pub definition_id: String,
    pub holder_did: HolderDid,
    /// Unix milliseconds.
    pub issued_at: i64,
    pub credential: IssuedCredential,
}

impl Issuer {
    /// The scoped service's DID key, unsealed at its first use.
    pub async fn load(state: &AppState, scope: &ServiceScope) -> anyhow::Result<Self> {
        let id = scope.service_id();
        let sealed = match state.opened_keys.did_key(id, || Err(())) {
            Ok(key) => return Ok(Issuer::new(scope, key)),
            Err(()) => db::services::did_seed_sealed(&state.db, scope).await?,
        };
        let key = state.opened_keys.did_key(id, || {
            let seed = state
                .master_key
                .open(id.as_bytes(), &sealed)
                .context("the service's DID seed")?;
            let seed: &[u8; 32] = seed
                .as_slice()
                .try_into()
                .context("the service's DID seed is not 32 bytes")?;
            anyhow::Ok(SigningKey::from_bytes(seed))
        })?;
        Ok(Issuer::new(scope, key))
    }

    fn new(scope: &ServiceScope, key: SigningKey) -> Self {
        Issuer {
            did: scope.did().to_string(),
            key,
        }
    }

    /// Signs a credential of `definition` for `holder_did` with values already checked by
    /// [`check_values`], issued at `now` (unix milliseconds).
    pub fn sign(
        &self,
        definition: &CredentialDefinition,
        holder_did: &HolderDid,
        attributes: Vec<Field>,
        now: i64,
    ) -> Result<Signed, VcError> {
        let content = CredentialContent {
            issuer: self.did.clone(),
            subject: holder_did.to_string(),
            jti: Jti::generate().into(),
            issued_at: now.div_euclid(1000),
            credential_id: definition.credential_id.clone(),
            schema_id: definition.schema.schema_id.clone(),
            attributes,
        };
        let jwt = vc::sign(&content, &self.key)?;
        Ok(Signed {
            definition_id: definition.id.clone(),
            holder_did: holder_did.clone(),
            issued_at: now,
            credential: IssuedCredential {
                jti: content.jti.into(),
                credential_id: content.credential_id.to_string(),
                schema_id: content.schema_id.to_string(),
                jwt,
                attributes: content.attributes,
                event_id: None,
            },
        })
    }
}

/// Stores a signed batch in `tx`. `collected`: the wallet receives them in the answer now;
/// otherwise they wait in its inbox.
pub async fn store(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    batch: &[Signed],
    event_id: Option<&EventId>,
    collected: bool,
) -> sqlx::Result<()> {
    for signed in batch {
        let credential = &signed.credential;
        let new = NewCredential {
            jti: &credential.jti,
            definition_id: &signed.definition_id,
            holder_did: &signed.holder_did,
            attributes: &credential.attributes,
            jwt: &credential.jwt,
            issued_at: signed.issued_at,
            event_id,
            collected_at: collected.then_some(signed.issued_at),
        };
        db::credentials::insert(&mut **tx, scope, &new).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AttributeJson;

    fn schema() -> Attributes {
        let json: Vec<AttributeJson> = serde_json::from_value(serde_json::json!([
            {"name": "Name", "type": "text"},
            {"name": "Level", "type": "number"}
        ]))
        .unwrap();
        Attributes::parse(json).unwrap()
    }

    fn field(name: &str, value: &str) -> Field {
        Field {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn values_come_back_in_schema_order() {
        let checked =
            check_values(&schema(), &[field("Level", "3"), field("Name", "Ada")]).unwrap();
        assert_eq!(checked, [field("Name", "Ada"), field("Level", "3")]);
    }

    #[test]
    fn a_missing_duplicate_unknown_or_mistyped_attribute_is_named() {
        let schema = schema();
        assert_eq!(
            check_values(&schema, &[field("Name", "Ada")]),
            Err(ValuesError::Missing("Level".into()))
        );
        assert_eq!(
            check_values(
                &schema,
                &[field("Name", "A"), field("Name", "B"), field("Level", "1")]
            ),
            Err(ValuesError::Duplicate("Name".into()))
        );
        let unknown = check_values(&schema, &[field("Colour", "red")]).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "attribute \"Colour\": the schema has no such attribute"
        );
        let mistyped = check_values(&schema, &[field("Name", "A"), field("Level", "high")]);
        assert!(
            mistyped
                .unwrap_err()
                .to_string()
                .starts_with("attribute \"Level\": a number"),
        );
    }
}
