//! Password hashing with argon2id, off the async threads, a few at a time.
//!
//! Each hash holds argon2's memory cost (19 MiB) while it runs, and takes a core: run
//! unbounded, a burst of sign-ins would take the process's memory to hundreds of MB and every
//! sign-in would wait for all the others. So at most one hash per core runs at once; a few
//! more wait their turn (a sign-in still answers within a second); past that, the request is
//! refused at once with a 503 to try again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 200;

/// A hash of a throw-away password, checked when the email is unknown so that the answer
/// takes as long as for a known email.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("not-a-real-password").expect("hashing a constant"));

/// At most one hash per core at once, a short queue, and a refusal past it.
struct Limiter {
    running: Semaphore,
    /// How many wait or run now.
    admitted: AtomicUsize,
    in_flight: Arc<AtomicUsize>,
    /// The most that ran at the same moment.
    peak: Arc<AtomicUsize>,
    may_wait: usize,
}

/// The process's hashing: one per core; 8 more per core may wait (a hash takes ~50 ms a
/// core, so well under a second).
static HASHING: LazyLock<Limiter> = LazyLock::new(|| Limiter::new(cores()));

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Limiter {
    fn new(cores: usize) -> Self {
        Self {
            running: Semaphore::new(cores),
            admitted: AtomicUsize::new(0),
            in_flight: Arc::default(),
            peak: Arc::default(),
            may_wait: cores * 9,
        }
    }

    /// Runs `work` (a hash or a check) on the blocking pool when its turn comes, or refuses
    /// it at once when too many wait already.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        struct Admitted<'a>(&'a AtomicUsize);
        impl Drop for Admitted<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let admitted = Admitted(&self.admitted);
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.may_wait {
            drop(admitted);
            tracing::warn!("password hashing is saturated: a request was refused");
            return Err(AppError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Too many sign-ins at once: try again in a moment.",
            ));
        }
        let _turn = self
            .running
            .acquire()
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("the hashing semaphore: {e}")))?;
        let (in_flight, peak) = (self.in_flight.clone(), self.peak.clone());
        let out = tokio::task::spawn_blocking(move || {
            let now = in_flight.fetch_add(1, Ordering::AcqRel) + 1;
            peak.fetch_max(now, Ordering::Relaxed);
            let out = work();
            in_flight.fetch_sub(1, Ordering::AcqRel);
            out
        })
        .await
        .context("password hashing task")
        .map_err(AppError::internal);
        drop(admitted);
        out
    }
}

/// Checks a new password's length; the message names the rule broken.
pub fn validate(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return Err(format!("Use at least {MIN_LENGTH} characters."));
    }
    if len > MAX_LENGTH {
        return Err(format!("Use at most {MAX_LENGTH} characters."));
    }
    Ok(())
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(hash.to_string())
}

/// The hash of a random password no one knows: an account's until its person sets theirs
/// through an emailed link.
pub async fn unusable_hash() -> AppResult<String> {
    hash(format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4())).await
}

/// An argon2id PHC string for `password`.
pub async fn hash(password: String) -> AppResult<String> {
    HASHING
        .run(move || hash_blocking(&password))
        .await?
        .map_err(AppError::internal)
}

/// Whether `password` matches `stored`; with no stored hash, does the same work and says no.
pub async fn verify(password: String, stored: Option<String>) -> AppResult<bool> {
    HASHING
        .run(move || {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
            let Ok(parsed) = PasswordHash::new(&stored) else {
                tracing::error!("a stored password hash does not parse");
                return false;
            };
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
                && known
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify("correct horse".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!verify("not-a-real-password".into(), None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_checks_runs_one_per_core_and_refuses_what_would_wait_too_long() {
        let h = hash("correct horse".into()).await.unwrap();
        // A limiter of its own, so that the other tests' hashing does not count here.
        let limiter = Arc::new(Limiter::new(2));
        let checks: Vec<_> = (0..64)
            .map(|_| {
                let (limiter, h) = (limiter.clone(), h.clone());
                tokio::spawn(async move {
                    limiter
                        .run(move || {
                            let parsed = PasswordHash::new(&h).unwrap();
                            Argon2::default()
                                .verify_password(b"wrong horse", &parsed)
                                .is_ok()
                        })
                        .await
                })
            })
            .collect();
        let (mut answered, mut busy) = (0, 0);
        for c in checks {
            match c.await.unwrap() {
                Ok(matched) => {
                    assert!(!matched);
                    answered += 1;
                }
                Err(e) => {
                    assert_eq!((e.status.as_u16(), e.code), (503, "busy"));
                    busy += 1;
                }
            }
        }
        let peak = limiter.peak.load(Ordering::Relaxed);
        assert!(peak <= 2, "{peak} at once");
        assert!(answered >= 16, "{answered} answered, {busy} busy");
        assert!(busy > 0, "64 at once is more than may wait");
    }

    #[test]
    fn length_rules() {
        assert!(validate("short").is_err());
        assert!(validate("long enough").is_ok());
        assert!(validate(&"x".repeat(201)).is_err());
    }
}
