//! Credentials psi issues and checks.
//!
//! - [`vc`]: the format, a W3C VC-JWT signed with EdDSA by the service's DID key;
//! - [`issue`]: checking values against their definition, signing, storing a batch at once;
//! - [`verify`]: checking a presented credential: signature by its issuer, revocation.

pub mod issue;
pub mod vc;
pub mod verify;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{EventId, Jti};

/// An attribute value on the wire, `{name, value}`: webhook `fields`, wallet `attributes`.
/// Unknown members are ignored (docs/protocol.md §2: forward compatibility).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Field {
    #[schema(example = "Name")]
    pub name: String,
    /// Every type travels as a string (docs/protocol.md §1).
    #[schema(example = "Ada Lovelace")]
    pub value: String,
}

/// A credential as the wallet receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IssuedCredential {
    /// The credential's id and revocation handle (the JWT's `jti`).
    #[schema(value_type = String)]
    pub jti: Jti,
    /// The definition, `<DID>:3:CL:<seq>:<tag>`.
    #[serde(rename = "credentialId")]
    pub credential_id: String,
    /// The schema, `<DID>:2:<name>:<version>`.
    #[serde(rename = "schemaId")]
    pub schema_id: String,
    /// The VC-JWT.
    pub jwt: String,
    /// The values, in schema order.
    pub attributes: Vec<Field>,
    /// The event that issued it (inbox only; absent for credentials issued outside an event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub event_id: Option<EventId>,
}

impl From<crate::db::credentials::StoredCredential> for IssuedCredential {
    fn from(stored: crate::db::credentials::StoredCredential) -> Self {
        IssuedCredential {
            jti: stored.jti,
            credential_id: stored.credential_id,
            schema_id: stored.schema_id,
            jwt: stored.jwt,
            attributes: stored.attributes,
            event_id: stored.event_id,
        }
    }
}
