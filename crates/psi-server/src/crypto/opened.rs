//! Private keys kept open, so an event does not unseal and parse the same key again: the webhook
//! signers of key rows and the DID keys of services.
//!
//! Entries are keyed by the id of the row that holds the sealed material. Key rows are never
//! updated (a new key is a new row with a new id) and a service's DID seed never changes, so an
//! entry stays right while its row exists; callers look the row up first, so a deleted key is not
//! used. Each map holds at most [`CAPACITY`] entries and starts over when full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use psi_webhook::Signer;

/// Most entries of each map.
pub const CAPACITY: usize = 1024;

/// The open keys of one server. Cheap to clone; `Debug` shows only how many there are.
#[derive(Clone, Default)]
pub struct OpenedKeys {
    signers: Opened<Arc<Signer>>,
    did_keys: Opened<SigningKey>,
}

impl std::fmt::Debug for OpenedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedKeys")
            .field("signers", &self.signers.len())
            .field("did_keys", &self.did_keys.len())
            .finish()
    }
}

impl OpenedKeys {
    /// The signer of key row `key_id`, opened with `open` the first time.
    pub fn signer<E>(
        &self,
        key_id: &str,
        open: impl FnOnce() -> Result<Signer, E>,
    ) -> Result<Arc<Signer>, E> {
        self.signers.get_or_open(key_id, || open().map(Arc::new))
    }

    /// The signer of key row `key_id`, if it is open.
    pub fn open_signer(&self, key_id: &str) -> Option<Arc<Signer>> {
        self.signers.map().get(key_id).cloned()
    }

    /// The DID key of the service with internal id `service_id`, opened with `open` the first
    /// time.
    pub fn did_key<E>(
        &self,
        service_id: &str,
        open: impl FnOnce() -> Result<SigningKey, E>,
    ) -> Result<SigningKey, E> {
        self.did_keys.get_or_open(service_id, open)
    }
}

struct Opened<V>(Arc<Mutex<HashMap<String, V>>>);

impl<V> Clone for Opened<V> {
    fn clone(&self) -> Self {
        Opened(Arc::clone(&self.0))
    }
}

impl<V> Default for Opened<V> {
    fn default() -> Self {
        Opened(Arc::default())
    }
}

impl<V: Clone> Opened<V> {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, V>> {
        // A panic while the lock was held cannot leave a half-written entry behind.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn len(&self) -> usize {
        self.map().len()
    }

    /// The entry of `id`, or `open()`'s value, kept. The lock is not held while opening.
    fn get_or_open<E>(&self, id: &str, open: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        if let Some(value) = self.map().get(id) {
            return Ok(value.clone());
        }
        let value = open()?;
        let mut map = self.map();
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(id.to_owned(), value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_opened_once_and_the_maps_start_over_when_full() {
        let keys = OpenedKeys::default();
        let opened = std::cell::Cell::new(0);
        let open = || -> Result<SigningKey, ()> {
            opened.set(opened.get() + 1);
            Ok(SigningKey::from_bytes(&[1; 32]))
        };
        for _ in 0..3 {
            keys.did_key("service", open).unwrap();
        }
        assert_eq!(opened.get(), 1);
        for i in 0..CAPACITY {
            keys.did_key(&i.to_string(), open).unwrap();
        }
        keys.did_key("service", open).unwrap();
        assert_eq!(opened.get(), CAPACITY + 2, "the full map started over");
        assert!(
            keys.did_key("x", || Err("sealed data does not open"))
                .is_err()
        );
        keys.did_key("x", open).unwrap();
        assert_eq!(opened.get(), CAPACITY + 3, "failures are not kept");
        assert_eq!(
            format!("{keys:?}"),
            "OpenedKeys { signers: 0, did_keys: 3 }"
        );
    }
}
