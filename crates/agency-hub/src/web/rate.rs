//! A per-person limit on how often something may be done (messages and files sent through the
//! API): a count per fixed window, kept by this instance (several instances each allow their
//! own).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ids::UserId;

pub struct RateLimit {
    per_window: u32,
    window: Duration,
    seen: Mutex<HashMap<UserId, (Instant, u32)>>,
}

impl RateLimit {
    pub fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one more for `user`; false when it would pass the limit.
    pub fn allow(&self, user: UserId) -> bool {
        self.allow_n(user, 1)
    }

    /// Counts `n` more for `user` (none when refused); false when they would pass the limit.
    pub fn allow_n(&self, user: UserId, n: u32) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Forget windows that ended, so the map holds only people active lately.
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = seen.entry(user).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1.saturating_add(n) > self.per_window {
            return false;
        }
        entry.1 += n;
        true
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
