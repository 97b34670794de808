//! The wallet file: the holder's pairwise keys (one per service) and credentials, as JSON.
//!
//! It holds private keys, so it is created with mode 0600 in a directory of mode 0700, and every
//! save writes a temporary file in the same directory and renames it over the old one: a crash
//! or a full disk leaves the previous wallet intact, never half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use psi_link::Attribute;
use serde::{Deserialize, Serialize};

use super::holder::HolderKey;

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Where the wallet lives unless `--wallet` or `PSI_WALLET` say otherwise.
const DEFAULT_RELATIVE: &str = "psi/wallet.json";

/// A wallet file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WalletFileError {
    #[error("cannot read the wallet file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the wallet file {path} is not a valid wallet: {source}")]
    Invalid {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "the wallet file {path} has format version {found}; this psi reads version {FORMAT_VERSION}"
    )]
    UnknownVersion { path: PathBuf, found: u32 },
    #[error("cannot write the wallet file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no wallet file given and no home directory: set --wallet or PSI_WALLET")]
    NoHome,
}

/// Everything the wallet keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Wallet {
    pub version: u32,
    /// One per service the holder has met, in the order met.
    #[serde(default)]
    pub connections: Vec<Connection>,
    /// In the order received.
    #[serde(default)]
    pub credentials: Vec<StoredCredential>,
}

/// The holder's pairwise relationship with one service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Connection {
    pub service_did: String,
    pub service_name: String,
    /// The service's credential-signing key (base58), checked against its DID when first met.
    pub service_verkey: String,
    /// The psi server the service was reached on, used again by `sync` and `show`.
    pub server: String,
    /// The holder's pairwise key with this service.
    pub holder: HolderKey,
    /// Unix ms.
    pub created_at: u64,
}

/// Whether a credential may still be presented, as last seen by the wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Valid,
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Revoked => "revoked",
        }
    }
}

/// A credential the holder received: the signed JWT and its decoded fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCredential {
    /// The credential id, also its revocation handle.
    pub jti: String,
    /// The issuing service (`iss`).
    pub service_did: String,
    /// The holder's pairwise DID it was issued to (`sub`).
    pub holder_did: String,
    pub credential_id: String,
    pub schema_id: String,
    pub attributes: Vec<Attribute>,
    /// Unix seconds (`iat`).
    pub issued_at: i64,
    /// Unix ms when this wallet stored it.
    pub received_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub status: Status,
    /// Unix ms, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    pub jwt: String,
}

impl Default for Wallet {
    fn default() -> Self {
        Wallet {
            version: FORMAT_VERSION,
            connections: Vec::new(),
            credentials: Vec::new(),
        }
    }
}

impl Wallet {
    /// Reads the wallet at `path`; a missing file is an empty wallet (created on first save).
    pub fn load(path: &Path) -> Result<Wallet, WalletFileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Wallet::default()),
            Err(source) => {
                return Err(WalletFileError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let invalid = |source| WalletFileError::Invalid {
            path: path.to_owned(),
            source,
        };
        // The version is read first so a newer file is reported as such, not as a field error.
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let found = serde_json::from_str::<Version>(&text)
            .map_err(invalid)?
            .version;
        if found != FORMAT_VERSION {
            return Err(WalletFileError::UnknownVersion {
                path: path.to_owned(),
                found,
            });
        }
        serde_json::from_str(&text).map_err(invalid)
    }

    /// Writes the wallet to `path` atomically (temporary file, then rename), mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), WalletFileError> {
        let failed = |source| WalletFileError::Write {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        create_private_dir(dir).map_err(failed)?;
        // tempfile creates the file with mode 0600 on Unix, before any secret is written to it.
        let mut temp = tempfile::Builder::new()
            .prefix(".wallet-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(failed)?;
        let json = serde_json::to_vec_pretty(self)
            .map_err(std::io::Error::other)
            .map_err(failed)?;
        temp.write_all(&json).map_err(failed)?;
        temp.write_all(b"\n").map_err(failed)?;
        temp.as_file().sync_all().map_err(failed)?;
        temp.persist(path).map_err(|e| failed(e.error))?;
        Ok(())
    }

    /// The connection with a service.
    pub fn connection(&self, service_did: &str) -> Option<&Connection> {
        self.connections
            .iter()
            .find(|c| c.service_did == service_did)
    }

    /// The connection with a service, made with a new pairwise key on first contact. The
    /// service's name, key and server are refreshed from what the server said now.
    pub fn connect(&mut self, service: &super::client::ServiceInfo, server: &str) -> &Connection {
        let index = match self
            .connections
            .iter()
            .position(|c| c.service_did == service.did)
        {
            Some(index) => index,
            None => {
                self.connections.push(Connection {
                    service_did: service.did.clone(),
                    service_name: service.name.clone(),
                    service_verkey: service.verkey.clone(),
                    server: server.to_owned(),
                    holder: HolderKey::generate(),
                    created_at: super::client::unix_ms(),
                });
                self.connections.len() - 1
            }
        };
        let connection = &mut self.connections[index];
        connection.service_name.clone_from(&service.name);
        connection.service_verkey.clone_from(&service.verkey);
        connection.server = server.to_owned();
        connection
    }

    /// Adds a credential unless one with its `jti` is stored; returns whether it was added.
    pub fn add_credential(&mut self, credential: StoredCredential) -> bool {
        if self.credentials.iter().any(|c| c.jti == credential.jti) {
            return false;
        }
        self.credentials.push(credential);
        true
    }

    /// Marks a stored credential revoked; returns whether it was valid until now.
    pub fn mark_revoked(&mut self, jti: &str, revoked_at: Option<i64>) -> bool {
        match self.credentials.iter_mut().find(|c| c.jti == jti) {
            Some(credential) if credential.status == Status::Valid => {
                credential.status = Status::Revoked;
                credential.revoked_at = revoked_at;
                true
            }
            _ => false,
        }
    }

    /// A credential by its `jti`, or by its 1-based position as `list` numbers them.
    pub fn find(&self, jti_or_index: &str) -> Option<(usize, &StoredCredential)> {
        if let Some(found) = self
            .credentials
            .iter()
            .enumerate()
            .find(|(_, c)| c.jti == jti_or_index)
        {
            return Some((found.0 + 1, found.1));
        }
        let index: usize = jti_or_index.parse().ok()?;
        let credential = self.credentials.get(index.checked_sub(1)?)?;
        Some((index, credential))
    }
}

/// The wallet path when neither `--wallet` nor `PSI_WALLET` is given:
/// `$XDG_DATA_HOME/psi/wallet.json`, else `~/.local/share/psi/wallet.json`.
pub fn default_path() -> Result<PathBuf, WalletFileError> {
    let non_empty = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(data) = non_empty("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return Ok(data.join(DEFAULT_RELATIVE));
    }
    let home = non_empty("HOME").ok_or(WalletFileError::NoHome)?;
    Ok(home.join(".local/share").join(DEFAULT_RELATIVE))
}

/// Creates `dir` (and parents) if missing; a directory this call creates gets mode 0700.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::super::client::ServiceInfo;
    use super::*;

    fn credential(jti: &str) -> StoredCredential {
        StoredCredential {
            jti: jti.to_owned(),
            service_did: "GbzPqgnU4XsMs7xg9mYJW8".to_owned(),
            holder_did: "8mJwYzXHkpkQoMXsU5YnqZ".to_owned(),
            credential_id: "GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:member".to_owned(),
            schema_id: "GbzPqgnU4XsMs7xg9mYJW8:2:Member:1.0".to_owned(),
            attributes: vec![Attribute {
                name: "Name".to_owned(),
                value: "Alice".to_owned(),
            }],
            issued_at: 1_700_000_000,
            received_at: 1_700_000_000_123,
            event_id: Some("ev1".to_owned()),
            status: Status::Valid,
            revoked_at: None,
            jwt: "a.b.c".to_owned(),
        }
    }

    fn service() -> ServiceInfo {
        ServiceInfo {
            did: "GbzPqgnU4XsMs7xg9mYJW8".to_owned(),
            name: "Shop".to_owned(),
            verkey: "verkey".to_owned(),
        }
    }

    #[test]
    fn a_missing_file_is_an_empty_wallet_and_saving_creates_it_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/sub/wallet.json");
        let mut wallet = Wallet::load(&path).unwrap();
        assert!(wallet.connections.is_empty() && wallet.credentials.is_empty());
        let holder_did = wallet
            .connect(&service(), "http://127.0.0.1:8080")
            .holder
            .did()
            .to_owned();
        wallet.add_credential(credential("j1"));
        wallet.save(&path).unwrap();

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        let back = Wallet::load(&path).unwrap();
        assert_eq!(back.connections[0].holder.did(), holder_did);
        assert_eq!(back.credentials, vec![credential("j1")]);
        // Only the wallet itself is left in the directory: the temporary file was renamed.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("wallet.json")]);
    }

    #[test]
    fn a_service_keeps_its_pairwise_key_and_each_service_gets_its_own() {
        let mut wallet = Wallet::default();
        let first = wallet
            .connect(&service(), "http://a")
            .holder
            .did()
            .to_owned();
        let renamed = ServiceInfo {
            name: "Shop 2".to_owned(),
            ..service()
        };
        let again = wallet.connect(&renamed, "http://b");
        assert_eq!(again.holder.did(), first);
        assert_eq!(
            (again.service_name.as_str(), again.server.as_str()),
            ("Shop 2", "http://b")
        );
        let other = ServiceInfo {
            did: "8mJwYzXHkpkQoMXsU5YnqZ".to_owned(),
            ..service()
        };
        assert_ne!(wallet.connect(&other, "http://a").holder.did(), first);
        assert_eq!(wallet.connections.len(), 2);
    }

    #[test]
    fn credentials_are_found_by_jti_or_position_and_revoked_once() {
        let mut wallet = Wallet::default();
        assert!(wallet.add_credential(credential("j1")));
        assert!(wallet.add_credential(credential("j2")));
        assert!(!wallet.add_credential(credential("j1")));
        assert_eq!(wallet.find("j2").unwrap().0, 2);
        assert_eq!(wallet.find("1").unwrap().1.jti, "j1");
        assert!(wallet.find("0").is_none() && wallet.find("3").is_none());
        assert!(wallet.find("nope").is_none());
        assert!(wallet.mark_revoked("j1", Some(5)));
        assert!(!wallet.mark_revoked("j1", Some(6)));
        assert_eq!(wallet.credentials[0].revoked_at, Some(5));
        assert!(!wallet.mark_revoked("unknown", None));
    }

    #[test]
    fn damaged_and_newer_files_are_refused_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = Wallet::load(&path).unwrap_err();
        assert!(matches!(err, WalletFileError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("wallet.json"));
        std::fs::write(&path, r#"{"version": 2, "credentials": []}"#).unwrap();
        let err = Wallet::load(&path).unwrap_err();
        assert!(
            matches!(err, WalletFileError::UnknownVersion { found: 2, .. }),
            "{err}"
        );
        std::fs::write(&path, r#"{"version": 1, "credentials": [{"jti": 1}]}"#).unwrap();
        assert!(matches!(
            Wallet::load(&path),
            Err(WalletFileError::Invalid { .. })
        ));
    }
}
