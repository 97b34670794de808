//! Platform identifiers (docs/protocol.md §1): service DIDs, credential definition ids and schema ids.
//!
//! Each is parsed once into a type with private fields, so code that holds one knows it is well formed.
//! They (de)serialise as plain JSON strings.

use std::fmt;
use std::str::FromStr;

/// Why an identifier was refused.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdError {
    /// The DID part is not 21 or 22 base58 characters.
    #[error("the DID is not 21 or 22 base58 characters")]
    BadDid,
    /// The text does not have the identifier's overall shape.
    #[error("expected `{expected}`")]
    WrongShape {
        /// The expected form.
        expected: &'static str,
    },
    /// The schema sequence number of a credential definition id is not a decimal number.
    #[error("the schema sequence number is not a decimal number")]
    BadSeqNo,
    /// The tag of a credential definition id is empty.
    #[error("the tag is empty")]
    EmptyTag,
    /// The name of a schema id is empty.
    #[error("the schema name is empty")]
    EmptyName,
    /// The version of a schema id is not dot-separated decimal numbers.
    #[error("the schema version is not dot-separated numbers such as `1.0`")]
    BadVersion,
}

const CRED_DEF_SHAPE: &str = "<DID>:3:CL:<number>:<tag>";
const SCHEMA_SHAPE: &str = "<DID>:2:<name>:<version>";

/// Whether `s` is an Indy-style DID as used for service and issuer DIDs: 21 or 22 base58 characters.
///
/// docs/protocol.md §1 shows 22 characters. An Indy DID is the base58 form of 16 bytes, which is 22 characters
/// for most values and 21 for some, so both lengths are accepted. The decoded byte length is *not*
/// checked: DIDs in circulation (and in the test vectors) include 22-character values that decode
/// to 17 bytes. No `did:` method prefix is accepted here.
///
/// ```
/// assert!(psi_link::is_valid_did("GbzPqgnU4XsMs7xg9mYJW8"));
/// assert!(!psi_link::is_valid_did("GbzPqgnU4XsMs7xg9mYJW0")); // `0` is not base58
/// assert!(!psi_link::is_valid_did("did:sov:GbzPqgnU4XsMs7xg9mYJW8"));
/// ```
pub fn is_valid_did(s: &str) -> bool {
    matches!(s.len(), 21 | 22) && s.bytes().all(is_base58)
}

fn is_base58(b: u8) -> bool {
    b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l')
}

/// Splits `<DID>:<rest>` and checks the DID.
fn split_did<'a>(s: &'a str, expected: &'static str) -> Result<(&'a str, &'a str), IdError> {
    let (did, rest) = s.split_once(':').ok_or(IdError::WrongShape { expected })?;
    if is_valid_did(did) {
        Ok((did, rest))
    } else {
        Err(IdError::BadDid)
    }
}

/// Implements the string conversions shared by every identifier type.
macro_rules! string_id {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl TryFrom<String> for $ty {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }
        impl From<$ty> for String {
            fn from(id: $ty) -> String {
                id.raw
            }
        }
    };
}

/// A service or issuer DID (see [`is_valid_did`]).
///
/// ```
/// use psi_link::Did;
/// let did: Did = "GbzPqgnU4XsMs7xg9mYJW8".parse().unwrap();
/// assert_eq!(did.as_str(), "GbzPqgnU4XsMs7xg9mYJW8");
/// assert!("not a did".parse::<Did>().is_err());
/// ```
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Did {
    raw: String,
}

impl Did {
    /// The DID as text.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl FromStr for Did {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if is_valid_did(s) {
            Ok(Self { raw: s.to_owned() })
        } else {
            Err(IdError::BadDid)
        }
    }
}
string_id!(Did);

/// A credential definition id, `<issuer DID>:3:CL:<schema sequence number>:<tag>`.
///
/// The tag is everything after the fourth `:` and may itself contain `:`.
///
/// ```
/// use psi_link::CredentialDefinitionId;
/// let id: CredentialDefinitionId = "GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:tag".parse().unwrap();
/// assert_eq!(id.issuer(), "GbzPqgnU4XsMs7xg9mYJW8");
/// assert_eq!(id.schema_seq_no(), 200);
/// assert_eq!(id.tag(), "tag");
/// assert_eq!(id.to_string(), "GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:tag");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CredentialDefinitionId {
    raw: String,
    did_len: usize,
    seq_no: u64,
    tag_start: usize,
}

impl CredentialDefinitionId {
    /// The whole id as text, exactly as parsed.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// The issuer's DID.
    pub fn issuer(&self) -> &str {
        &self.raw[..self.did_len]
    }
    /// The sequence number of the schema on the ledger.
    pub fn schema_seq_no(&self) -> u64 {
        self.seq_no
    }
    /// The tag.
    pub fn tag(&self) -> &str {
        &self.raw[self.tag_start..]
    }
}

impl FromStr for CredentialDefinitionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let (did_len, seq_no, tag_start) = parse_credential_definition_id(s)?;
        Ok(Self {
            raw: s.to_owned(),
            did_len,
            seq_no,
            tag_start,
        })
    }
}

/// Checks a credential definition id without copying it, returning the DID length, the schema
/// sequence number and where the tag starts.
pub(crate) fn parse_credential_definition_id(s: &str) -> Result<(usize, u64, usize), IdError> {
    let shape = IdError::WrongShape {
        expected: CRED_DEF_SHAPE,
    };
    let (did, rest) = split_did(s, CRED_DEF_SHAPE)?;
    let rest = rest.strip_prefix("3:CL:").ok_or(shape)?;
    let (seq, tag) = rest.split_once(':').ok_or(shape)?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::BadSeqNo);
    }
    let seq_no = seq.parse().map_err(|_| IdError::BadSeqNo)?;
    if tag.is_empty() {
        return Err(IdError::EmptyTag);
    }
    Ok((did.len(), seq_no, s.len() - tag.len()))
}
string_id!(CredentialDefinitionId);

/// A schema id, `<issuer DID>:2:<schema name>:<version>`.
///
/// The version is the part after the last `:` and is dot-separated decimal numbers.
///
/// ```
/// use psi_link::SchemaId;
/// let id: SchemaId = "GbzPqgnU4XsMs7xg9mYJW8:2:Membership:1.0".parse().unwrap();
/// assert_eq!(id.issuer(), "GbzPqgnU4XsMs7xg9mYJW8");
/// assert_eq!(id.name(), "Membership");
/// assert_eq!(id.version(), "1.0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SchemaId {
    raw: String,
    did_len: usize,
    version_start: usize,
}

impl SchemaId {
    /// The whole id as text, exactly as parsed.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// The issuer's DID.
    pub fn issuer(&self) -> &str {
        &self.raw[..self.did_len]
    }
    /// The schema name.
    pub fn name(&self) -> &str {
        // Skip "<DID>:2:" and stop before ":<version>".
        &self.raw[self.did_len + 3..self.version_start - 1]
    }
    /// The schema version, such as `1.0`.
    pub fn version(&self) -> &str {
        &self.raw[self.version_start..]
    }
}

impl FromStr for SchemaId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let shape = IdError::WrongShape {
            expected: SCHEMA_SHAPE,
        };
        let (did, rest) = split_did(s, SCHEMA_SHAPE)?;
        let rest = rest.strip_prefix("2:").ok_or(shape)?;
        let (name, version) = rest.rsplit_once(':').ok_or(shape)?;
        if name.is_empty() {
            return Err(IdError::EmptyName);
        }
        let numeric = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !version.split('.').all(numeric) {
            return Err(IdError::BadVersion);
        }
        Ok(Self {
            raw: s.to_owned(),
            did_len: did.len(),
            version_start: s.len() - version.len(),
        })
    }
}
string_id!(SchemaId);

#[cfg(test)]
mod tests {
    use super::*;

    const DID: &str = "GbzPqgnU4XsMs7xg9mYJW8";

    #[test]
    fn dids_of_21_and_22_base58_characters_are_valid_and_others_are_not() {
        assert!(is_valid_did(DID));
        assert!(is_valid_did(&DID[1..]));
        assert!(!is_valid_did(&DID[2..]));
        assert!(!is_valid_did(&format!("{DID}1")));
        for bad in ['0', 'O', 'I', 'l', '-', 'é'] {
            let did = format!("{bad}{}", &DID[1..]);
            assert!(!is_valid_did(&did), "{did}");
        }
        assert!(!is_valid_did(""));
    }

    #[test]
    fn credential_definition_ids_report_each_malformation() {
        let parse = |s: &str| s.parse::<CredentialDefinitionId>().map(|_| ());
        assert_eq!(parse(&format!("{DID}:3:CL:12:a:b")), Ok(()));
        assert_eq!(parse("x:3:CL:1:tag"), Err(IdError::BadDid));
        assert_eq!(
            parse(DID),
            Err(IdError::WrongShape {
                expected: CRED_DEF_SHAPE
            })
        );
        assert_eq!(
            parse(&format!("{DID}:2:CL:1:tag")),
            Err(IdError::WrongShape {
                expected: CRED_DEF_SHAPE
            })
        );
        assert_eq!(
            parse(&format!("{DID}:3:CL:1")),
            Err(IdError::WrongShape {
                expected: CRED_DEF_SHAPE
            })
        );
        assert_eq!(parse(&format!("{DID}:3:CL:x1:tag")), Err(IdError::BadSeqNo));
        assert_eq!(parse(&format!("{DID}:3:CL::tag")), Err(IdError::BadSeqNo));
        assert_eq!(parse(&format!("{DID}:3:CL:+1:tag")), Err(IdError::BadSeqNo));
        assert_eq!(
            parse(&format!("{DID}:3:CL:99999999999999999999999:tag")),
            Err(IdError::BadSeqNo)
        );
        assert_eq!(parse(&format!("{DID}:3:CL:1:")), Err(IdError::EmptyTag));
    }

    #[test]
    fn credential_definition_id_accessors_and_display_round_trip() {
        let text = format!("{DID}:3:CL:007:a:b");
        let id: CredentialDefinitionId = text.parse().unwrap();
        assert_eq!((id.issuer(), id.schema_seq_no(), id.tag()), (DID, 7, "a:b"));
        assert_eq!(id.to_string(), text);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<CredentialDefinitionId>(&json).unwrap(),
            id
        );
        assert!(serde_json::from_str::<CredentialDefinitionId>("\"x:3:CL:1:t\"").is_err());
    }

    #[test]
    fn schema_ids_parse_and_report_each_malformation() {
        let id: SchemaId = format!("{DID}:2:My:Schema:10.2.3").parse().unwrap();
        assert_eq!(
            (id.issuer(), id.name(), id.version()),
            (DID, "My:Schema", "10.2.3")
        );
        assert_eq!(id.to_string(), format!("{DID}:2:My:Schema:10.2.3"));
        let parse = |s: &str| s.parse::<SchemaId>().map(|_| ());
        let shape = Err(IdError::WrongShape {
            expected: SCHEMA_SHAPE,
        });
        assert_eq!(parse("bad:2:n:1.0"), Err(IdError::BadDid));
        assert_eq!(parse(&format!("{DID}:3:n:1.0")), shape);
        assert_eq!(parse(&format!("{DID}:2:n")), shape);
        assert_eq!(parse(&format!("{DID}:2::1.0")), Err(IdError::EmptyName));
        for version in ["", "1.", ".1", "1..0", "v1", "1.x"] {
            assert_eq!(
                parse(&format!("{DID}:2:n:{version}")),
                Err(IdError::BadVersion),
                "{version}"
            );
        }
    }

    #[test]
    fn did_serialises_as_a_string_and_refuses_bad_values() {
        let did: Did = serde_json::from_str(&format!("\"{DID}\"")).unwrap();
        assert_eq!(did.to_string(), DID);
        assert_eq!(String::from(did), DID);
        assert!(serde_json::from_str::<Did>("\"0bzPqgnU4XsMs7xg9mYJW8\"").is_err());
    }
}
