//! `credentials-issued` before anything is written: which definitions the call acts on (for
//! authorisation), what it revokes, and the credentials checked against their definitions and
//! signed, as the engine issues them (`credentials::issue`). A credential that does not fit its
//! definition refuses the whole call (422) and leaves the event waiting, so the sender can fix it
//! and call again.

use std::collections::HashMap;

use crate::credentials::issue::{Issuer, Signed, check_values};
use crate::db::credential_definitions::CredentialDefinition;
use crate::db::events::{LogEntry, LogKind};
use crate::db::interactions::Interaction;
use crate::db::{self, now_ms};
use crate::engine::present::label;
use crate::engine::protocol::{IssuedValues, RevokeRef};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::scope::ServiceScope;

/// The service's credential definitions, by internal id.
pub type Definitions = HashMap<String, CredentialDefinition>;

/// The definition each credential is of: one the interaction issues, each once. 422 otherwise.
pub fn issued_definitions<'a>(
    interaction: &Interaction,
    definitions: &'a Definitions,
    credentials: &[IssuedValues],
) -> Result<Vec<&'a CredentialDefinition>, ApiError> {
    let mut found: Vec<&CredentialDefinition> = Vec::with_capacity(credentials.len());
    for values in credentials {
        let id = values.credential_id.as_str();
        let issued = interaction
            .issued
            .iter()
            .find(|c| c.credential_id.as_str() == id)
            .ok_or_else(|| {
                let known = definitions.values().any(|d| d.credential_id.as_str() == id);
                ApiError::Validation(if known {
                    format!(
                        "credential definition {id} is not one interaction {:?} issues",
                        interaction.name
                    )
                } else {
                    format!("{id} is not a credential definition of this service")
                })
            })?;
        let definition = &definitions[&issued.definition_id];
        if found.iter().any(|d| d.id == definition.id) {
            return Err(ApiError::Validation(format!(
                "credential {} is given twice",
                label(definition)
            )));
        }
        found.push(definition);
    }
    Ok(found)
}

/// A credential `revokedCredentials` names, with its definition (for authorisation).
#[derive(Debug, Clone)]
pub struct Revocation {
    pub jti: String,
    pub definition_id: String,
}

/// What `revokedCredentials` names: ids as given (the service's credentials), and for a
/// definition the holder's valid credentials of it (only those with the given values when some
/// are given). Entries naming nothing are logged, not refused.
pub async fn revocations(
    state: &AppState,
    scope: &ServiceScope,
    definitions: &Definitions,
    holder_did: &str,
    entries: &[RevokeRef],
    log: &mut Vec<LogEntry>,
) -> Result<Vec<Revocation>, ApiError> {
    let mut found: Vec<Revocation> = Vec::new();
    for entry in entries {
        match entry {
            RevokeRef::Jti(jti) | RevokeRef::ById { jti } => {
                match db::credentials::get(&state.db, scope, jti).await? {
                    Some(credential) => {
                        let definition = definitions
                            .values()
                            .find(|d| d.credential_id.as_str() == credential.credential_id)
                            .ok_or_else(|| ApiError::not_found("credential definition"))?;
                        found.push(Revocation {
                            jti: jti.clone(),
                            definition_id: definition.id.clone(),
                        });
                    }
                    None => log.push(entry_now(
                        LogKind::Revoked,
                        format!("nothing to revoke: {jti} is not a credential of this service"),
                    )),
                }
            }
            RevokeRef::ByDefinition {
                credential_id,
                fields,
            } => {
                let Some(definition) = definitions
                    .values()
                    .find(|d| d.credential_id.as_str() == credential_id)
                else {
                    log.push(entry_now(
                        LogKind::Revoked,
                        format!(
                            "nothing to revoke: {credential_id} is not a definition of this service"
                        ),
                    ));
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

/// Credentials checked and signed, and those the sender declined (empty `fields`) or that a
/// one-off definition refuses (the holder has one).
#[derive(Debug, Default)]
pub struct Signing {
    pub batch: Vec<Signed>,
    /// Labels of the credentials not issued.
    pub declined: Vec<String>,
}

/// Checks each credential's values against its definition's schema and signs it for the holder.
/// `definitions` are the credentials' own, in order ([`issued_definitions`]). 422 with the
/// attribute at fault when one does not fit.
pub async fn sign(
    state: &AppState,
    scope: &ServiceScope,
    holder_did: &str,
    credentials: &[IssuedValues],
    definitions: &[&CredentialDefinition],
    log: &mut Vec<LogEntry>,
) -> Result<Signing, ApiError> {
    let mut signing = Signing::default();
    let mut issuer = None;
    let now = now_ms();
    for (values, definition) in credentials.iter().zip(definitions) {
        let label = label(definition);
        if values.fields.is_empty() {
            log.push(entry_now(
                LogKind::Denied,
                format!("the service declined to issue {label}"),
            ));
            signing.declined.push(label);
            continue;
        }
        if let Some(schema_id) = &values.schema_id
            && schema_id != definition.schema.schema_id.as_str()
        {
            return Err(ApiError::Validation(format!(
                "credential {label} names schema {schema_id}, not {}",
                definition.schema.schema_id.as_str()
            )));
        }
        let fields = check_values(&definition.schema.attributes, &values.fields)
            .map_err(|e| ApiError::Validation(format!("credential {label}: {e}")))?;
        if definition.one_off
            && db::credentials::holds_valid(&state.db, scope, &definition.id, holder_did).await?
        {
            log.push(entry_now(
                LogKind::Denied,
                format!("{label} is issued once only, and the holder has one"),
            ));
            signing.declined.push(label);
            continue;
        }
        if issuer.is_none() {
            issuer = Some(Issuer::load(state, scope).await?);
        }
        let issuer = issuer.as_ref().expect("loaded above");
        let signed = issuer
            .sign(definition, holder_did, fields, now)
            .map_err(|e| ApiError::Validation(format!("credential {label}: {e}")))?;
        log.push(entry_now(
            LogKind::Issued,
            format!(
                "issued {} as {}",
                definition.credential_id.as_str(),
                signed.credential.jti
            ),
        ));
        signing.batch.push(signed);
    }
    Ok(signing)
}

/// A log entry timestamped now.
pub fn entry_now(kind: LogKind, detail: impl Into<String>) -> LogEntry {
    LogEntry {
        at: now_ms(),
        kind,
        detail: detail.into(),
    }
}
