//! Password hashing with argon2id, off the async threads, a few at a time.
//!
//! Each hash holds argon2's memory cost (19 MiB) while it runs, and takes a core: run
//! unbounded, a burst of sign-ins would take the process's memory to hundreds of MB and every
//! sign-in would wait for all the others. So at most one hash per core runs at once; a few
//! more wait their turn (a sign-in still answers within a second); past that, the request is
//! refused at once with a 503 to try again.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// How many hashes run at once: one per core.
static RUNNING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(cores()));
/// How many hashes wait or run now, and the most that ever ran at once.
static ADMITTED: AtomicUsize = AtomicUsize::new(0);
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The most hashes that ran at the same moment since the process started.
pub fn peak_concurrent_hashes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Runs `work` (a hash or a check) on the blocking pool when its turn comes, or refuses it at
/// once when too many wait already (a hash takes ~50 ms a core: 8 waiting per core is a
/// wait of well under a second).
async fn in_turn<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    struct Admitted;
    impl Drop for Admitted {
        fn drop(&mut self) {
            ADMITTED.fetch_sub(1, Ordering::AcqRel);
        }
    }
    if ADMITTED.fetch_add(1, Ordering::AcqRel) >= cores() * 9 {
        ADMITTED.fetch_sub(1, Ordering::AcqRel);
        tracing::warn!("password hashing is saturated: a request was refused");
        return Err(AppError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Too many sign-ins at once: try again in a moment.",
        ));
    }
    let _admitted = Admitted;
    let _turn = RUNNING
        .acquire()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("the hashing semaphore: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let now = IN_FLIGHT.fetch_add(1, Ordering::AcqRel) + 1;
        PEAK.fetch_max(now, Ordering::Relaxed);
        let out = work();
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
        out
    })
    .await
    .context("password hashing task")
    .map_err(AppError::internal)
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

/// An argon2id PHC string for `password`.
pub async fn hash(password: String) -> AppResult<String> {
    in_turn(move || hash_blocking(&password))
        .await?
        .map_err(AppError::internal)
}

/// Whether `password` matches `stored`; with no stored hash, does the same work and says no.
pub async fn verify(password: String, stored: Option<String>) -> AppResult<bool> {
    in_turn(move || {
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
        let checks: Vec<_> = (0..64)
            .map(|_| tokio::spawn(verify("wrong horse".into(), Some(h.clone()))))
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
        assert!(
            peak_concurrent_hashes() <= cores(),
            "{}",
            peak_concurrent_hashes()
        );
        assert!(answered >= cores() * 8, "{answered} answered, {busy} busy");
        assert!(busy > 0, "64 at once is more than may wait");
    }

    #[test]
    fn length_rules() {
        assert!(validate("short").is_err());
        assert!(validate("long enough").is_ok());
        assert!(validate(&"x".repeat(201)).is_err());
    }
}
