//! One event of an interaction, as the engine (a holder's run) and inbound calls (a third party
//! issuing later) both handle it: which interaction and instance may start ([`check_active`],
//! [`instance_of`]), its journal ([`journal`]), what a third party asks to issue and revoke,
//! checked and signed ([`issue`]), and the one transaction that settles it ([`settle`]).
//!
//! Errors are this layer's own ([`Error`]); the HTTP handlers map them to `ApiError`.

pub mod issue;
pub mod journal;
pub mod settle;

use std::collections::HashMap;

use psi_link::{CredentialDefinitionId, Did};

use crate::db::credential_definitions::{self, CredentialDefinition};
use crate::db::instances::Instance;
use crate::db::interactions::Interaction;
use crate::db::{self, Db};
use crate::http::error::ApiError;
use crate::ids::InstanceId;
use crate::scope::ServiceScope;
pub use issue::Refused;
pub use journal::Journal;

/// A service's credential definitions, by internal id.
pub type Definitions = HashMap<String, CredentialDefinition>;

/// Why an event cannot start or settle as asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such interaction or instance (`what`).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The interaction is paused (its name).
    #[error("interaction {0:?} is paused: it cannot be started")]
    Paused(String),
    /// The holder's signed request reuses a nonce.
    #[error("this request's nonce was used before: sign every request with a new nonce")]
    NonceReused,
    /// What a third party asked to issue does not fit: nothing is issued.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// psi itself failed (the database, a sealed key).
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::Internal(anyhow::Error::new(error).context("database query"))
    }
}

impl From<anyhow::Error> for Error {
    fn from(error: anyhow::Error) -> Self {
        Error::Internal(error)
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound(what) => ApiError::not_found(what),
            Error::Paused(_) => ApiError::Conflict(error.to_string()),
            Error::NonceReused => ApiError::Forbidden(error.to_string()),
            Error::Refused(refused) => ApiError::Validation(refused.to_string()),
            Error::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

/// A paused interaction cannot be started.
pub fn check_active(interaction: &Interaction) -> Result<(), Error> {
    if interaction.active {
        return Ok(());
    }
    Err(Error::Paused(interaction.name.clone()))
}

/// The instance a request names, or the default one.
pub fn instance_of<'a>(
    interaction: &'a Interaction,
    id: Option<&InstanceId>,
) -> Result<&'a Instance, Error> {
    match id {
        Some(id) => interaction.instances.iter().find(|i| &i.id == id),
        None => interaction.default_instance(),
    }
    .ok_or(Error::NotFound("instance"))
}

/// How a definition is named in messages for holders and logs: its schema's name and its id.
pub fn label(definition: &CredentialDefinition) -> String {
    format!(
        "{:?} ({})",
        definition.schema.name,
        definition.credential_id.as_str()
    )
}

/// The definitions an event of `interaction` needs, by internal id, through the configuration
/// cache: the service's own (the only ones it issues) and the other services' public ones it
/// requires.
pub async fn definitions_for(
    db: &Db,
    scope: &ServiceScope,
    interaction: &Interaction,
) -> sqlx::Result<Definitions> {
    let mut definitions: Definitions = credential_definitions::list_cached(db, scope)
        .await?
        .into_iter()
        .map(|d| (d.id.clone(), d))
        .collect();
    for required in &interaction.required {
        if definitions.contains_key(&required.definition_id) {
            continue;
        }
        let Some(owner) = owner_of(db, scope, &required.credential_id).await? else {
            continue;
        };
        let found = credential_definitions::list_cached(db, &owner)
            .await?
            .into_iter()
            .find(|d| d.id == required.definition_id);
        if let Some(found) = found {
            definitions.insert(found.id.clone(), found);
        }
    }
    Ok(definitions)
}

/// The service whose definition `credential_id` is: `scope` itself, or another service on this
/// server (`None` when there is none).
pub async fn owner_of(
    db: &Db,
    scope: &ServiceScope,
    credential_id: &CredentialDefinitionId,
) -> sqlx::Result<Option<ServiceScope>> {
    if credential_id.issuer() == scope.did().as_str() {
        return Ok(Some(scope.clone()));
    }
    let Ok(issuer) = credential_id.issuer().parse::<Did>() else {
        return Ok(None);
    };
    Ok(db::services::by_did(db, &issuer)
        .await?
        .map(|(owner, _)| owner))
}
