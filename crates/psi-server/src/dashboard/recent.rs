//! Aggregates a screen reuses for a while: counting a busy service's events takes tens of
//! milliseconds, and a glance at a list or a chart need not be fresher than [`TTL`]. Kept per
//! key (a service and what the screen counts), in this process only.

use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long an aggregate is reused.
pub(super) const TTL: Duration = Duration::from_secs(15);

/// Aggregates by key with when they were read, at most `capacity` of them.
pub(super) struct Recent<K, V> {
    capacity: usize,
    cache: OnceLock<quick_cache::sync::Cache<K, (Instant, Arc<V>)>>,
}

impl<K: Eq + Hash + Clone, V> Recent<K, V> {
    pub(super) const fn new(capacity: usize) -> Self {
        Recent {
            capacity,
            cache: OnceLock::new(),
        }
    }

    /// The aggregate of `key`, read by `read` when there is none younger than [`TTL`].
    pub(super) async fn get<E>(
        &self,
        key: K,
        read: impl Future<Output = Result<V, E>>,
    ) -> Result<Arc<V>, E> {
        let cache = self
            .cache
            .get_or_init(|| quick_cache::sync::Cache::new(self.capacity));
        if let Some((at, value)) = cache.get(&key)
            && at.elapsed() < TTL
        {
            return Ok(value);
        }
        let value = Arc::new(read.await?);
        cache.insert(key, (Instant::now(), Arc::clone(&value)));
        Ok(value)
    }
}
