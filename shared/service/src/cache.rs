//! A per-process cache for the records the webhook reads on every delivery (settings
//! and signing secrets), so a warm Lambda container makes one DynamoDB transaction per
//! webhook and nothing else. Entries live [`CacheConfig::ttl`] (30 s by default,
//! `SETTINGS_CACHE_SECONDS`): an operator's change reaches every container within that
//! time. Writes through this process invalidate its own entries at once.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// What a cache entry holds: the stored value already parsed into its type, so a warm
/// webhook neither parses nor validates settings again (absent records are cached
/// too, so an unconfigured campaign costs no read either).
type Entry = (Instant, Option<Arc<dyn Any + Send + Sync>>);

#[derive(Debug)]
pub struct Cache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Cache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The fresh value under `key`: `Some(None)` for a cached absence, `None` for a miss
    /// (also when the entry holds another type than `T`).
    pub fn get<T: Any + Send + Sync + Clone>(&self, key: &str) -> Option<Option<T>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (_, value) = entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl)?;
        match value {
            None => Some(None),
            Some(value) => value.downcast_ref::<T>().map(|v| Some(v.clone())),
        }
    }

    pub fn put<T: Any + Send + Sync>(&self, key: String, value: Option<T>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a container serving many accounts drops everything past the limit
        // rather than growing without end.
        if entries.len() >= 10_000 {
            entries.clear();
        }
        let value = value.map(|v| Arc::new(v) as Arc<dyn Any + Send + Sync>);
        entries.insert(key, (Instant::now(), value));
    }

    pub fn forget(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(key);
    }
}

impl Default for Cache {
    fn default() -> Self {
        Self::new(DEFAULT_TTL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_value_and_a_cached_absence_are_both_hits_until_forgotten() {
        let cache = Cache::default();
        assert_eq!(cache.get::<u32>("a"), None);
        cache.put("a".into(), Some(1u32));
        cache.put::<u32>("b".into(), None);
        assert_eq!(cache.get::<u32>("a"), Some(Some(1)));
        assert_eq!(cache.get::<u32>("b"), Some(None));
        cache.forget("a");
        assert_eq!(cache.get::<u32>("a"), None);
    }

    #[test]
    fn a_value_asked_for_as_another_type_is_a_miss() {
        let cache = Cache::default();
        cache.put("a".into(), Some(String::from("text")));
        assert_eq!(cache.get::<u32>("a"), None);
        assert_eq!(cache.get::<String>("a"), Some(Some("text".into())));
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = Cache::new(Duration::ZERO);
        cache.put("a".into(), Some(1u32));
        assert_eq!(cache.get::<u32>("a"), None);
    }
}
