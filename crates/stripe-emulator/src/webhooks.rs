//! Webhook delivery: Stripe's signature scheme, attempts with exponential backoff, and the
//! record of every attempt.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::api::App;
use crate::store::{Attempt, DeliveryState};

/// When and how often a failed delivery is tried again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Wait before the first retry; each later wait doubles, up to `max_delay`.
    pub initial_delay: Duration,
    pub max_delay: Duration,
    /// Retries after the first attempt; the delivery is marked failed after the last one.
    pub max_retries: u32,
    /// How long one attempt may take before it counts as failed.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_retries: 8,
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after attempt number `attempts` (1-based) failed.
    pub fn delay_after(&self, attempts: usize) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(30);
        self.initial_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }
}

/// The `Stripe-Signature` header value: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Starts each queued delivery in its own task so a slow receiver delays nothing else.
pub async fn dispatch(app: App, mut queue: UnboundedReceiver<String>) {
    while let Some(id) = queue.recv().await {
        tokio::spawn(run(app.clone(), id));
    }
}

/// Attempts a delivery, then retries on the policy's schedule until it succeeds or gives up.
pub async fn run(app: App, id: String) {
    loop {
        if attempt(&app, &id).await {
            return;
        }
        retry_after_failure(&app, &id).await;
        if !still_pending(&app, &id) {
            return;
        }
    }
}

/// Waits the backoff after a failed attempt, or marks the delivery failed when none are left.
async fn retry_after_failure(app: &App, id: &str) {
    let attempts = {
        let mut store = app.store();
        let Some(d) = store.deliveries.get_mut(id) else {
            return;
        };
        if d.attempts.len() > app.retry.max_retries as usize {
            d.state = DeliveryState::Failed;
            tracing::warn!(
                delivery.id = id,
                event.id = d.event,
                "webhook delivery gave up"
            );
            return;
        }
        d.attempts.len()
    };
    let mut shutdown = app.shutdown.clone();
    tokio::select! {
        () = tokio::time::sleep(app.retry.delay_after(attempts)) => {}
        _ = shutdown.changed() => {}
    }
}

fn still_pending(app: &App, id: &str) -> bool {
    !*app.shutdown.borrow()
        && app
            .store()
            .deliveries
            .get(id)
            .is_some_and(|d| d.state == DeliveryState::Pending)
}

/// One POST to the endpoint; true when the receiver answered 2xx.
pub async fn attempt(app: &App, id: &str) -> bool {
    let (url, secret, body, event_id) = {
        let mut store = app.store();
        let Some(delivery) = store.deliveries.get(id).cloned() else {
            return true;
        };
        let endpoint = store.webhook_endpoints.get(&delivery.endpoint).cloned();
        let event = store.events.get(&delivery.event).cloned();
        let (Some(endpoint), Some(event)) = (endpoint, event) else {
            // The endpoint was deleted since: nobody is left to deliver to.
            if let Some(d) = store.deliveries.get_mut(id) {
                d.state = DeliveryState::Failed;
            }
            return true;
        };
        if let Some(d) = store.deliveries.get_mut(id) {
            d.state = DeliveryState::Pending;
        }
        let body = serde_json::to_vec(&store.event_json(&event)).unwrap_or_default();
        (endpoint.url, endpoint.secret, body, event.id)
    };
    // Signed with wall time, not the emulator's clock: receivers compare it with their own
    // clock, and a test that advanced the emulator's clock must still see valid signatures.
    let timestamp = chrono::Utc::now().timestamp();
    let started = chrono::Utc::now().timestamp_millis();
    let result = app
        .http
        .post(&url)
        .timeout(app.retry.timeout)
        .header("content-type", "application/json; charset=utf-8")
        .header(
            "user-agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .header(
            "stripe-signature",
            signature_header(&secret, timestamp, &body),
        )
        .body(body)
        .send()
        .await;
    let (status, error) = match result {
        Ok(res) => (Some(res.status().as_u16()), None),
        Err(e) if e.is_timeout() => (None, Some("timed out".to_string())),
        Err(e) => (None, Some(e.to_string())),
    };
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    tracing::debug!(
        delivery.id = id,
        event.id = event_id,
        ?status,
        ?error,
        "webhook attempt"
    );
    let mut store = app.store();
    if let Some(d) = store.deliveries.get_mut(id) {
        d.attempts.push(Attempt {
            at_ms: started,
            status,
            error,
        });
        if ok {
            d.state = DeliveryState::Succeeded;
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retries: 5,
            timeout: Duration::from_secs(1),
        };
        let delays: Vec<u128> = (1..=5).map(|n| p.delay_after(n).as_millis()).collect();
        assert_eq!(delays, vec![10, 20, 40, 50, 50]);
    }

    #[test]
    fn signature_matches_a_known_vector() {
        // Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
        let header = signature_header("whsec_test", 1_700_000_000, b"{}");
        assert_eq!(
            header,
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }
}
