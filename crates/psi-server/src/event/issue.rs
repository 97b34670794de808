//! What a third party asks psi to issue and revoke for a holder (the interaction webhook's
//! success reply, docs/protocol.md §4.1, and `credentials-issued`, §4.3), before anything is
//! written: the definition of each credential ([`issued_definitions`]), the credentials a
//! revocation names ([`revocations`]), and each credential checked against its definition's
//! schema and signed ([`sign`]). A credential that does not fit refuses the whole batch
//! ([`Refused`]), so nothing is half-issued.

use serde::Deserialize;

use super::{Definitions, Error, label};
use crate::credentials::Field;
use crate::credentials::issue::{Issuer, Signed, ValuesError, check_values};
use crate::credentials::vc::VcError;
use crate::db::credential_definitions::CredentialDefinition;
use crate::db::events::LogKind;
use crate::db::interactions::Interaction;
use crate::db::{self, now_ms};
use crate::http::AppState;
use crate::ids::{HolderDid, Jti};
use crate::scope::ServiceScope;

use super::Journal;

/// A credential to issue (`issuedCredentials`, `credentials`). `utcIssuedAt`, `revoked` and other
/// members that senders echo are ignored: psi sets the issue time.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedValues {
    pub credential_id: String,
    #[serde(default)]
    pub schema_id: Option<String>,
    /// Empty: issuing is declined (or postponed).
    #[serde(default)]
    pub fields: Vec<Field>,
}

/// An entry of `revokedCredentials`: a credential id (`jti`) as a string or `{jti}`, or a
/// definition (`{credentialId, fields?}`) meaning the holder's credentials of it, only those with
/// these values when `fields` is not empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RevokeRef {
    Jti(Jti),
    ById {
        jti: Jti,
    },
    ByDefinition {
        #[serde(rename = "credentialId")]
        credential_id: String,
        #[serde(default)]
        fields: Vec<Field>,
    },
}

/// Why the credentials asked for are refused; the message names the credential at fault.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{0} is not a credential definition of this service")]
    UnknownDefinition(String),
    #[error("credential definition {id} is not one interaction {interaction:?} issues")]
    NotIssued { id: String, interaction: String },
    #[error("credential {0} is given twice")]
    Twice(String),
    #[error("credential {label} names schema {given}, not {expected}")]
    OtherSchema {
        label: String,
        given: String,
        expected: String,
    },
    #[error("credential {label}: {source}")]
    Values { label: String, source: ValuesError },
    #[error("credential {label}: {source}")]
    Signing { label: String, source: VcError },
}

/// The definition each credential is of: one the interaction issues, each once.
pub fn issued_definitions<'a>(
    interaction: &Interaction,
    definitions: &'a Definitions,
    credentials: &[IssuedValues],
) -> Result<Vec<&'a CredentialDefinition>, Refused> {
    let mut found: Vec<&CredentialDefinition> = Vec::with_capacity(credentials.len());
    for values in credentials {
        let id = values.credential_id.as_str();
        let Some(issued) = interaction
            .issued
            .iter()
            .find(|c| c.credential_id.as_str() == id)
        else {
            let known = definitions.values().any(|d| d.credential_id.as_str() == id);
            return Err(if known {
                Refused::NotIssued {
                    id: id.to_owned(),
                    interaction: interaction.name.clone(),
                }
            } else {
                Refused::UnknownDefinition(id.to_owned())
            });
        };
        let definition = &definitions[&issued.definition_id];
        if found.iter().any(|d| d.id == definition.id) {
            return Err(Refused::Twice(label(definition)));
        }
        found.push(definition);
    }
    Ok(found)
}

/// A credential a revocation names, with its definition (for authorisation).
#[derive(Debug, Clone)]
pub struct Revocation {
    pub jti: Jti,
    pub definition_id: String,
}

/// What `revokedCredentials` names: ids as given (the service's credentials of any holder), and
/// for a definition the holder's valid credentials of it (only those with the given values when
/// some are given), each once. Entries naming nothing are logged, not refused.
pub async fn revocations(
    state: &AppState,
    scope: &ServiceScope,
    definitions: &Definitions,
    holder_did: &HolderDid,
    entries: &[RevokeRef],
    journal: &mut Journal,
) -> Result<Vec<Revocation>, Error> {
    let mut found: Vec<Revocation> = Vec::new();
    for entry in entries {
        match entry {
            RevokeRef::Jti(jti) | RevokeRef::ById { jti } => {
                let Some(credential) = db::credentials::get(&state.db, scope, jti).await? else {
                    journal.log(
                        LogKind::Revoked,
                        format!("nothing to revoke: {jti} is not a credential of this service"),
                    );
                    continue;
                };
                let definition = definitions
                    .values()
                    .find(|d| d.credential_id.as_str() == credential.credential_id)
                    .ok_or_else(|| {
                        anyhow::anyhow!("credential {jti}'s definition is not the service's")
                    })?;
                found.push(Revocation {
                    jti: jti.clone(),
                    definition_id: definition.id.clone(),
                });
            }
            RevokeRef::ByDefinition {
                credential_id,
                fields,
            } => {
                let Some(definition) = definitions
                    .values()
                    .find(|d| d.credential_id.as_str() == credential_id)
                else {
                    journal.log(
                        LogKind::Revoked,
                        format!(
                            "nothing to revoke: {credential_id} is not a definition of this service"
                        ),
                    );
                    continue;
                };
                let held = db::credentials::valid_of_holder(
                    state.db.pool(),
                    scope,
                    &definition.id,
                    holder_did,
                )
                .await?;
                found.extend(
                    held.into_iter()
                        .filter(|(_, values)| fields.iter().all(|f| values.contains(f)))
                        .map(|(jti, _)| Revocation {
                            jti,
                            definition_id: definition.id.clone(),
                        }),
                );
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|r| seen.insert(r.jti.clone()));
    Ok(found)
}

/// Credentials checked and signed, and those not issued: declined by the sender (empty
/// `fields`) or refused by a one-off definition (the holder has one).
#[derive(Debug, Default)]
pub struct Signing {
    pub batch: Vec<Signed>,
    /// Labels of the credentials not issued.
    pub declined: Vec<String>,
}

impl Signing {
    /// What the holder is told about the credentials not issued.
    pub fn declined_message(&self) -> Option<String> {
        (!self.declined.is_empty())
            .then(|| format!("the service declined to issue {}", self.declined.join(", ")))
    }
}

/// Checks each credential's values against its definition's schema and signs it for the holder.
/// `definitions` are the credentials' own, in order ([`issued_definitions`]).
pub async fn sign(
    state: &AppState,
    scope: &ServiceScope,
    holder_did: &HolderDid,
    credentials: &[IssuedValues],
    definitions: &[&CredentialDefinition],
    journal: &mut Journal,
) -> Result<Signing, Error> {
    let mut signing = Signing::default();
    let mut issuer = None;
    let now = now_ms();
    for (values, definition) in credentials.iter().zip(definitions) {
        let label = label(definition);
        if values.fields.is_empty() {
            journal.log(
                LogKind::Denied,
                format!("the service declined to issue {label}"),
            );
            signing.declined.push(label);
            continue;
        }
        let expected = definition.schema.schema_id.as_str();
        if let Some(given) = &values.schema_id
            && given != expected
        {
            return Err(Refused::OtherSchema {
                label,
                given: given.clone(),
                expected: expected.to_owned(),
            }
            .into());
        }
        let fields = match check_values(&definition.schema.attributes, &values.fields) {
            Ok(fields) => fields,
            Err(source) => return Err(Refused::Values { label, source }.into()),
        };
        if definition.one_off
            && db::credentials::holds_valid(&state.db, scope, &definition.id, holder_did).await?
        {
            journal.log(
                LogKind::Denied,
                format!("{label} is issued once only, and the holder has one"),
            );
            signing.declined.push(label);
            continue;
        }
        if issuer.is_none() {
            issuer = Some(Issuer::load(state, scope).await?);
        }
        let issuer = issuer.as_ref().expect("loaded above");
        match issuer.sign(definition, holder_did, fields, now) {
            Ok(signed) => signing.batch.push(signed),
            Err(source) => return Err(Refused::Signing { label, source }.into()),
        }
    }
    Ok(signing)
}
