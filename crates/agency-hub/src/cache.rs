//! A small in-memory map whose entries are good for a short time: what every instance shares
//! through the database, read from memory instead, at most [`Fresh::ttl`] stale. What this
//! instance changes it forgets at once; what another instance changes is seen within the ttl.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Fresh<K, V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Fresh<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Instant, V)>> {
        // A panic while holding the lock leaves nothing half-written worth refusing.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value, if it was put less than the ttl ago.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries();
        let (at, value) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    pub fn put(&self, key: K, value: V) {
        let mut entries = self.entries();
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn remove(&self, key: &K) {
        self.entries().remove(key);
    }

    /// Forgets every entry `forget` picks.
    pub fn forget(&self, forget: impl Fn(&K, &V) -> bool) {
        self.entries().retain(|k, (_, v)| !forget(k, v));
    }

    pub fn clear(&self) {
        self.entries().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_good_for_its_ttl_and_the_map_stays_within_its_capacity() {
        let cache = Fresh::new(Duration::from_millis(50), 3);
        cache.put(1, "one");
        assert_eq!(cache.get(&1), Some("one"));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get(&1), None, "stale");
        for i in 0..10 {
            cache.put(i, "n");
        }
        assert!(cache.entries().len() <= 3);
        cache.forget(|k, _| *k == 9);
        assert_eq!(cache.get(&9), None);
    }
}
