//! Secrets at rest: the master key and the AEAD that seals private keys with it.
//!
//! Sealed blobs are `version (1 byte) || nonce (24 bytes) || XChaCha20-Poly1305 ciphertext`. The
//! associated data is the id of the row holding the blob, so a blob copied to another row does not
//! open.

pub mod did;
pub mod opened;

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::db::Backend;

const SEALED_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const MASTER_KEY_FILE: &str = "master.key";

/// The key that encrypts private material at rest. Its `Debug` is redacted.
#[derive(Clone)]
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

/// Why a master key could not be had or a blob could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key is not base64 of 32 bytes.
    #[error("must be base64 of 32 bytes (generate one with `openssl rand -base64 32`)")]
    BadMasterKey,
    /// PostgreSQL is shared by several servers: each must be given the same key.
    #[error(
        "master_key is required with PostgreSQL, where several servers share the database: \
         set PSI_MASTER_KEY (or PSI_MASTER_KEY_FILE) to base64 of 32 bytes, \
         e.g. from `openssl rand -base64 32`"
    )]
    MasterKeyRequired,
    /// Reading or creating `<data-dir>/master.key` failed.
    #[error("master key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    /// The blob was sealed with another key, for another row, or is damaged.
    #[error("sealed data does not open with this master key")]
    Open,
}

impl MasterKey {
    /// Parses base64 (standard alphabet, padded) of 32 bytes.
    ///
    /// ```
    /// use psi_server::crypto::MasterKey;
    /// let key = MasterKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
    /// let sealed = key.seal(b"row-1", b"secret");
    /// assert_eq!(&key.open(b"row-1", &sealed).unwrap()[..], b"secret");
    /// assert!(key.open(b"row-2", &sealed).is_err());
    /// ```
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| CryptoError::BadMasterKey)?,
        );
        let key: &[u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadMasterKey)?;
        Ok(Self {
            cipher: XChaCha20Poly1305::new(Key::from_slice(key)),
        })
    }

    /// The configured key; else, on SQLite, `<data-dir>/master.key`, created (mode 0600) on first
    /// run. On PostgreSQL an existing file is accepted, but none is created: every server sharing the
    /// database must be given the same key.
    pub fn load_or_create(config: &Config) -> Result<Self, CryptoError> {
        if let Some(key) = &config.master_key {
            return Self::from_base64(key.expose_secret());
        }
        let path = config.data_dir.join(MASTER_KEY_FILE);
        let file_error = |source| CryptoError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => return Self::from_base64(&text),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(file_error(e)),
            Err(_) if config.backend == Backend::Postgres => {
                return Err(CryptoError::MasterKeyRequired);
            }
            Err(_) => {}
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        let text = Zeroizing::new(STANDARD.encode(bytes.as_ref()));
        write_new_private_file(&path, text.as_bytes()).map_err(file_error)?;
        tracing::info!(path = %path.display(), "created a new master key");
        Self::from_base64(&text)
    }

    /// Encrypts `plaintext`, bound to `row_id`.
    pub fn seal(&self, row_id: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: row_id,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(SEALED_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Seals a JSON object of secrets, bound to `row_id`; `None` when there are none.
    pub fn seal_json(
        &self,
        row_id: &[u8],
        secrets: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<Vec<u8>> {
        if secrets.is_empty() {
            return None;
        }
        let text = Zeroizing::new(serde_json::Value::Object(secrets.clone()).to_string());
        Some(self.seal(row_id, text.as_bytes()))
    }

    /// Opens what [`seal_json`](Self::seal_json) produced (empty for `None`).
    pub fn open_json(
        &self,
        row_id: &[u8],
        sealed: Option<&[u8]>,
    ) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
        let Some(sealed) = sealed else {
            return Ok(serde_json::Map::new());
        };
        let text = self
            .open(row_id, sealed)
            .map_err(|e| anyhow::anyhow!("sealed settings do not open: {e}"))?;
        Ok(serde_json::from_slice(&text)?)
    }

    /// Decrypts what [`seal`](Self::seal) produced for the same `row_id`.
    pub fn open(&self, row_id: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Open)?;
        if version != SEALED_VERSION || rest.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: row_id,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }
}

/// Creates `path` readable by its owner only; fails if it exists (never overwrite a key).
fn write_new_private_file(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(content)?;
    file.sync_all()
}

/// Fills a new buffer of `len` random bytes from the operating system.
pub fn random_bytes(len: usize) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    OsRng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn a_sealed_blob_opens_only_with_its_key_and_row_id() {
        let sealed = key().seal(b"row", b"private");
        assert_eq!(&key().open(b"row", &sealed).unwrap()[..], b"private");
        assert!(key().open(b"other-row", &sealed).is_err());
        let other = MasterKey::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.open(b"row", &sealed).is_err());
        let mut damaged = sealed.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(key().open(b"row", &damaged).is_err());
    }

    #[test]
    fn sealing_twice_gives_different_blobs_without_the_plaintext() {
        let (a, b) = (
            key().seal(b"r", b"plaintext"),
            key().seal(b"r", b"plaintext"),
        );
        assert_ne!(a, b, "nonces are random");
        assert!(!a.windows(9).any(|w| w == b"plaintext"));
    }

    #[test]
    fn master_keys_that_are_not_32_bytes_of_base64_are_refused() {
        for bad in ["", "not base64!", &STANDARD.encode([1u8; 31])] {
            assert!(MasterKey::from_base64(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_debug_form_hides_the_key() {
        assert_eq!(format!("{:?}", key()), "MasterKey([REDACTED])");
    }
}
