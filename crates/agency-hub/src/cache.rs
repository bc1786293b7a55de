//! A small in-memory map whose entries are good for a short time: what every instance shares
//! through the database, read from memory instead, at most [`Fresh::ttl`] stale. What this
//! instance changes it forgets at once; what another instance changes is seen within the ttl.
//!
//! When an entry goes stale, the first reader is told to read it again and the others keep the
//! stale value for a tenth of the ttl more, while it does: otherwise every request in flight
//! (64 under load) would miss the same entries at the same instant, once a ttl, and queue for
//! the database together — the slowest hundredth of the store's requests.

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

    /// The value, if it was put less than the ttl ago (or is being read again by another
    /// caller, for at most a tenth of the ttl more).
    pub fn get(&self, key: &K) -> Option<V> {
        let mut entries = self.entries();
        let (at, value) = entries.get_mut(key)?;
        if at.elapsed() < self.ttl {
            return Some(value.clone());
        }
        // This caller reads it again; for the others it stays good a little longer.
        let grace = self.ttl / 10;
        *at = Instant::now()
            .checked_sub(self.ttl - grace)
            .unwrap_or_else(Instant::now);
        None
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
        assert_eq!(
            cache.get(&1),
            None,
            "stale: the first reader reads it again"
        );
        assert_eq!(cache.get(&1), Some("one"), "the others wait for it");
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(cache.get(&1), None, "a tenth of the ttl at most");
        for i in 0..10 {
            cache.put(i, "n");
        }
        assert!(cache.entries().len() <= 3);
        cache.forget(|k, _| *k == 9);
        assert_eq!(cache.get(&9), None);
    }
}
