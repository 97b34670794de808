//! Identifiers, each its own type so that one cannot be passed for another. On the wire and in
//! the database each is the plain string it wraps; the wire format does not change.
//!
//! Row ids (interactions, instances, events, credentials' `jti`) are opaque: psi makes them
//! ([`InteractionId::generate`]) and anything a client names is looked up as given (an id that is
//! no row's finds nothing). A holder's pairwise DID has a rule and is parsed ([`HolderDid`]); a
//! service's DID is `psi_link::Did`.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A new random row id: 32 hex characters.
pub fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new random id.
            pub fn generate() -> Self {
                $name(random())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

row_id!(
    /// An interaction: also the wire `actionId`.
    InteractionId
);
row_id!(
    /// An instance of an interaction: the wire `actionInstanceId`.
    InstanceId
);
row_id!(
    /// An event: the wire `actionEventId` (`subscriberEventId` in calls from third parties).
    EventId
);
row_id!(
    /// A credential psi issued: its VC-JWT's `jti`, the revocation handle.
    Jti
);
row_id!(
    /// A notification endpoint.
    EndpointId
);
row_id!(
    /// A notification message: the `messageId` (and `webhook-id`) every delivery of it carries.
    MessageId
);

/// A holder's pairwise DID with a service (`subscriberConnectDid`): base58 of 16 bytes.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(try_from = "String", into = "String")]
#[sqlx(transparent)]
pub struct HolderDid(String);

/// A string that is not a pairwise DID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a pairwise DID (base58 of 16 bytes)")]
pub struct InvalidHolderDid(pub String);

impl HolderDid {
    /// The pairwise DID of an Ed25519 public key: base58 of its first 16 bytes.
    pub fn of_key(public_key: &[u8; 32]) -> Self {
        HolderDid(bs58::encode(&public_key[..16]).into_string())
    }

    /// The DID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for HolderDid {
    type Err = InvalidHolderDid;

    fn from_str(s: &str) -> Result<Self, InvalidHolderDid> {
        match bs58::decode(s).into_vec() {
            Ok(bytes) if bytes.len() == 16 => Ok(HolderDid(s.to_owned())),
            _ => Err(InvalidHolderDid(s.to_owned())),
        }
    }
}

impl TryFrom<String> for HolderDid {
    type Error = InvalidHolderDid;

    fn try_from(s: String) -> Result<Self, InvalidHolderDid> {
        s.parse()
    }
}

impl From<HolderDid> for String {
    fn from(did: HolderDid) -> String {
        did.0
    }
}

impl fmt::Display for HolderDid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for HolderDid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_their_strings_on_the_wire() {
        let id = EventId::from("e1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"e1\"");
        assert_eq!(serde_json::from_str::<EventId>("\"e1\"").unwrap(), id);
        assert_eq!(EventId::generate().as_str().len(), 32);
        assert!(id == "e1");
    }

    #[test]
    fn a_holder_did_is_base58_of_16_bytes() {
        let did = bs58::encode([7u8; 16]).into_string();
        assert_eq!(did.parse::<HolderDid>().unwrap().as_str(), did);
        for bad in ["", "0OIl", &bs58::encode([7u8; 17]).into_string()] {
            assert!(bad.parse::<HolderDid>().is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<HolderDid>("\"x0\"").is_err());
    }
}
