//! Identifiers, each its own type so that one cannot be passed for another. On the wire and in
//! the database each is the plain string it wraps; the wire format does not change.
//!
//! Row ids (interactions, instances, events, credentials' `jti`) are opaque: psi makes them
//! ([`InteractionId::generate`]) and anything a client names is looked up as given (an id that is
//! no row's finds nothing), whatever its length or alphabet: interactions and instances made
//! before ids were shortened keep their 32 hex characters. A holder's pairwise DID has a rule and
//! is parsed ([`HolderDid`]); a service's DID is `psi_link::Did`.

use std::borrow::Borrow;
use std::fmt;

use rand::Rng;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

/// A new random row id: 32 hex characters.
pub fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Characters in an interaction or instance id made by [`random_short`].
pub const SHORT_ID_LEN: usize = 10;

/// A new random id for interactions and instances: [`SHORT_ID_LEN`] letters and digits
/// (`A-Z a-z 0-9`, uniform), drawn from the operating system's CSPRNG.
///
/// Every link carries two such ids (`id` and `actionId`), and each character costs 4/3 bytes of
/// the base64 payload and so of the QR code: with 32 hex characters a link with one short
/// pre-filled value was a version 15 code at level M, with 10 it is version 13, the smallest the
/// request's other members allow (docs/protocol.md §2, "QR codes", has the byte budget).
/// Letters and digits need no escaping in JSON, URL paths or query strings, and unlike `-` and
/// `_` never split a word when copied nor read as a command-line option.
///
/// Entropy: 10 · log2(62) ≈ 59.5 bits (62^10 ≈ 8.4e17 ids). The ids are primary keys across the
/// whole database, not one service: among n ids the chance that any two are equal is about
/// n²/(2 · 62^10), 6e-7 for a million interactions and instances and 6e-5 for ten million; one
/// new id meets one of n existing with chance n/62^10, 1.2e-12 at a million. psi relies on that
/// probability and does not retry: a collision fails that one insert with a unique violation
/// (answered 409 or 500; the next try draws a new id). Older ids have 32 characters and cannot
/// collide with these.
pub fn random_short() -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(SHORT_ID_LEN)
        .map(char::from)
        .collect()
}

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        row_id!($(#[$doc])* $name, random);
    };
    ($(#[$doc:meta])* $name:ident, $random:ident) => {
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
                $name($random())
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
    /// An interaction: also the wire `actionId`. New ones are short ([`random_short`]).
    InteractionId,
    random_short
);
row_id!(
    /// An instance of an interaction: the wire `actionInstanceId` (a link's `id`). New ones are
    /// short ([`random_short`]).
    InstanceId,
    random_short
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
    fn interaction_and_instance_ids_are_short_letters_and_digits() {
        let ids: Vec<String> = (0..10_000)
            .map(|i| match i % 2 {
                0 => InteractionId::generate().0,
                _ => InstanceId::generate().0,
            })
            .collect();
        for id in &ids {
            assert_eq!(id.len(), SHORT_ID_LEN, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // All 62 characters are drawn (each about 1,600 times here), not a smaller alphabet.
        let used: std::collections::HashSet<u8> = ids.iter().flat_map(|id| id.bytes()).collect();
        assert_eq!(used.len(), 62);
        // Other row ids keep their form.
        assert_eq!(Jti::generate().as_str().len(), 32);
    }

    #[test]
    fn a_legacy_hex_id_is_an_id_like_any_other() {
        let legacy = "db512a15258745679d17d26b1b2006b4";
        let id = InteractionId::from(legacy);
        assert_eq!(id.as_str(), legacy);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{legacy}\""));
        assert_eq!(
            serde_json::from_str::<InstanceId>(&format!("\"{legacy}\"")).unwrap(),
            legacy
        );
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
