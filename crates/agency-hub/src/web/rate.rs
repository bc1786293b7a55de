//! A limit on how often someone may do something (messages and files sent through the API per
//! person, requests per API token): a count per fixed window, kept by this instance (several
//! instances each allow their own).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ids::UserId;

pub struct RateLimit<K = UserId> {
    per_window: u32,
    window: Duration,
    seen: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K: Eq + Hash> RateLimit<K> {
    pub fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one more for `key`; false when it would pass the limit.
    pub fn allow(&self, key: K) -> bool {
        self.allow_n(key, 1)
    }

    /// Counts `n` more for `key` (none when refused); false when they would pass the limit.
    pub fn allow_n(&self, key: K, n: u32) -> bool {
        self.check(key, n).is_ok()
    }

    /// Counts `n` more for `key`, or says how long until its window ends (none counted).
    pub fn check(&self, key: K, n: u32) -> Result<(), Duration> {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Forget windows that ended, so the map holds only people active lately.
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = seen.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1.saturating_add(n) > self.per_window {
            return Err(self.window.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_allows_so_many_then_refuses() {
        let limit = RateLimit::new(2, Duration::from_secs(60));
        assert!(limit.allow(UserId(1)));
        assert!(limit.allow(UserId(1)));
        assert!(!limit.allow(UserId(1)));
        assert!(limit.allow(UserId(2)));
        assert!(!limit.allow_n(UserId(2), 2), "two more pass the limit");
        assert!(limit.allow(UserId(2)), "a refusal counts nothing");
    }
}
