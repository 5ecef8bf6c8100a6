//! A per-process cache for the records the webhook reads on every delivery (settings
//! and signing secrets), so a warm Lambda container makes one DynamoDB transaction per
//! webhook and nothing else. Entries live [`CacheConfig::ttl`] (30 s by default,
//! `SETTINGS_CACHE_SECONDS`): an operator's change reaches every container within that
//! time. Writes through this process invalidate its own entries at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// What a cache entry holds: the raw stored value (absent records are cached too, so
/// an unconfigured campaign costs no read either).
type Entry = (Instant, Option<Value>);

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

    /// The fresh value under `key`: `Some(None)` for a cached absence, `None` for a miss.
    pub fn get(&self, key: &str) -> Option<Option<Value>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    pub fn put(&self, key: String, value: Option<Value>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a container serving many accounts drops everything past the limit
        // rather than growing without end.
        if entries.len() >= 10_000 {
            entries.clear();
        }
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
        assert_eq!(cache.get("a"), None);
        cache.put("a".into(), Some(Value::from(1)));
        cache.put("b".into(), None);
        assert_eq!(cache.get("a"), Some(Some(Value::from(1))));
        assert_eq!(cache.get("b"), Some(None));
        cache.forget("a");
        assert_eq!(cache.get("a"), None);
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = Cache::new(Duration::ZERO);
        cache.put("a".into(), Some(Value::from(1)));
        assert_eq!(cache.get("a"), None);
    }
}
