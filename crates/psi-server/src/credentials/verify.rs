//! Checking a presented credential: its issuer is a service on this server, the signature
//! verifies with that service's key, and the credential is known and not revoked.

use super::vc::{self, CredentialContent, VcError};
use crate::db::{self, Db};
use crate::ids::Jti;

/// Why a presented credential is not accepted. Messages are meant for the holder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Format(VcError),
    #[error("the credential's issuer {0} is not a service on this server: it cannot be verified")]
    UnknownIssuer(String),
    #[error("the credential's signature does not verify with its issuer's key")]
    Signature,
    #[error("the credential {0} was not issued by this server")]
    UnknownCredential(String),
    #[error("the credential {0} has been revoked")]
    Revoked(String),
}

/// Verifies `jwt`: issuer, signature, then revocation.
pub async fn verify(
    db: &Db,
    jwt: &str,
) -> Result<Result<CredentialContent, VerifyError>, sqlx::Error> {
    let unverified = match vc::parse(jwt) {
        Ok(unverified) => unverified,
        Err(e) => return Ok(Err(VerifyError::Format(e))),
    };
    let issuer = unverified.content.issuer.clone();
    let Some(verkey) = db::services::verkey_by_did(db, &issuer).await? else {
        return Ok(Err(VerifyError::UnknownIssuer(issuer)));
    };
    let content = match unverified.verify(&verkey) {
        Ok(content) => content,
        Err(VcError::Signature) => return Ok(Err(VerifyError::Signature)),
        Err(e) => return Ok(Err(VerifyError::Format(e))),
    };
    Ok(
        match db::credentials::status(db, &Jti::from(content.jti.as_str())).await? {
            None => Err(VerifyError::UnknownCredential(content.jti)),
            Some(Some(_)) => Err(VerifyError::Revoked(content.jti)),
            Some(None) => Ok(content),
        },
    )
}
