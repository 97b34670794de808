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

use crate::db::credential_definitions::CredentialDefinition;
use crate::db::instances::Instance;
use crate::db::interactions::Interaction;
use crate::http::error::ApiError;
use crate::ids::InstanceId;
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
