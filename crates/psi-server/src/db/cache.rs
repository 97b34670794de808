//! What services are configured with, kept between reads: services by DID, interactions (with
//! everything an event or a link needs), credential definitions and the keys' signing material.
//! Events, links and pages read these on every request and the management API changes them
//! rarely, so a read that hits costs no query.
//!
//! Freshness: every entry carries the [`ConfigVersion`] it was read at, and only entries of the
//! current version are used. Every write to these tables through `db` advances the version once
//! committed (`Db::config_changed`), so this process never reads older than its last write.
//! Another process on the same PostgreSQL database advances it through a `NOTIFY` sent after its
//! commit (`listen`), a few milliseconds later; a listener that reconnects advances it too, since
//! it may have missed some. A process killed between its commit and its notification tells no
//! one, so no entry is used after [`MAX_AGE`] either. The version is read before the query that
//! fills an entry, so a write committed during that query leaves the entry stale, never wrong.
//!
//! Only rows that exist are kept: unknown DIDs and ids, which anyone can ask for, always reach the
//! database and never fill the cache.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::credential_definitions::CredentialDefinition;
use super::interactions::Interaction;
use super::keys::SigningMaterial;
use super::listen::Channel;
use super::services::Service;
use crate::scope::ServiceScope;

/// The PostgreSQL channel on which processes tell each other that they changed configuration.
const CHANNEL: &str = "psi_config";

/// How long an entry is used at most, whatever the notifications say.
const MAX_AGE: Duration = Duration::from_secs(5);

/// Entries of each kind kept at most (the least used go first).
const ENTRIES: usize = 4096;

/// The version of the services' configuration (services, keys, schemas, credential definitions,
/// interactions, instances): this process's writes and the others' that it heard of advance it.
/// The public read cache (`public::cache`) and [`ConfigCache`] keep what they read with it.
#[derive(Debug, Clone)]
pub struct ConfigVersion(Arc<Version>);

#[derive(Debug)]
struct Version {
    current: AtomicU64,
    /// Changes at each of this process's writes, for the notifier.
    told: watch::Sender<u64>,
}

impl Default for ConfigVersion {
    fn default() -> Self {
        ConfigVersion(Arc::new(Version {
            current: AtomicU64::new(0),
            told: watch::channel(0).0,
        }))
    }
}

impl ConfigVersion {
    /// The current version.
    pub fn current(&self) -> u64 {
        self.0.current.load(Ordering::Acquire)
    }

    /// Another process changed configuration, or may have.
    fn advance(&self) {
        self.0.current.fetch_add(1, Ordering::AcqRel);
    }

    /// This process committed a change: advances, and has the notifier tell the others.
    pub(super) fn written(&self) {
        self.advance();
        self.0.told.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The news of configuration changes between processes.
    pub(crate) fn channel(&self) -> Channel {
        let version = self.clone();
        Channel {
            name: CHANNEL,
            told: self.0.told.subscribe(),
            heard: Some(Box::new(move || version.advance())),
        }
    }
}

/// One kept row and the version it was read at.
struct Entry<T> {
    version: u64,
    read: Instant,
    value: Arc<T>,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry {
            version: self.version,
            read: self.read,
            value: Arc::clone(&self.value),
        }
    }
}

/// Rows of one kind, keyed as their read is, each with the version it was read at.
pub(crate) struct Kept<K, T> {
    version: ConfigVersion,
    entries: quick_cache::sync::Cache<K, Entry<T>>,
}

impl<K: Eq + Hash + Clone, T: Clone> Kept<K, T> {
    fn new(version: &ConfigVersion) -> Self {
        Kept {
            version: version.clone(),
            entries: quick_cache::sync::Cache::new(ENTRIES),
        }
    }

    /// The row under `key` if kept at the current version, else what `load` reads (kept when it
    /// exists).
    pub async fn through(
        &self,
        key: K,
        load: impl Future<Output = sqlx::Result<Option<T>>>,
    ) -> sqlx::Result<Option<T>> {
        let version = self.version.current();
        let read = Instant::now();
        if let Some(entry) = self.entries.get(&key)
            && entry.version == version
            && read.duration_since(entry.read) < MAX_AGE
        {
            return Ok(Some(T::clone(&entry.value)));
        }
        let loaded = load.await?;
        if let Some(value) = &loaded {
            let value = Arc::new(value.clone());
            let entry = Entry {
                version,
                read,
                value,
            };
            self.entries.insert(key, entry);
        }
        Ok(loaded)
    }
}

/// The kept configuration rows.
pub(crate) struct ConfigCache {
    version: ConfigVersion,
    /// By DID.
    pub services: Kept<String, (ServiceScope, Service)>,
    /// By service id and interaction id.
    pub interactions: Kept<(String, String), Interaction>,
    /// A service's definitions, by service id.
    pub definitions: Kept<String, Vec<CredentialDefinition>>,
    /// By service id and key name.
    pub keys: Kept<(String, String), SigningMaterial>,
}

impl std::fmt::Debug for ConfigCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigCache")
            .field("version", &self.version.current())
            .field("services", &self.services.entries.len())
            .field("interactions", &self.interactions.entries.len())
            .field("definitions", &self.definitions.entries.len())
            .field("keys", &self.keys.entries.len())
            .finish()
    }
}

impl ConfigCache {
    pub fn new(version: ConfigVersion) -> Self {
        ConfigCache {
            services: Kept::new(&version),
            interactions: Kept::new(&version),
            definitions: Kept::new(&version),
            keys: Kept::new(&version),
            version,
        }
    }

    pub fn version(&self) -> &ConfigVersion {
        &self.version
    }
}
