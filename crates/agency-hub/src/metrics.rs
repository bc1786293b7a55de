//! Prometheus metrics: the process's recorder and the names of what is measured. Counters and
//! histograms are recorded where things happen (`metrics` macros); `web::metrics` serves them
//! at `GET /metrics` and counts the HTTP requests.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "agency_http_requests_total";
pub const HTTP_DURATION: &str = "agency_http_request_duration_seconds";
pub const WEBHOOK_EVENTS: &str = "agency_stripe_webhook_events_total";
pub const FULFILMENT_DURATION: &str = "agency_fulfilment_duration_seconds";
pub const STRIPE_CALLS: &str = "agency_stripe_api_requests_total";
pub const STRIPE_DURATION: &str = "agency_stripe_api_request_duration_seconds";
pub const JOBS_WAITING: &str = "agency_jobs_waiting";
pub const JOB_FAILURES: &str = "agency_job_failures_total";
pub const EMAILS: &str = "agency_emails_total";

/// The process' recorder, installed on first use (one per process: app instances in one process,
/// as in the tests, share it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
            .expect("the buckets are not empty");
        match builder.install_recorder() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "another metrics recorder is installed: /metrics stays empty");
                PrometheusBuilder::new().build_recorder().handle()
            }
        }
    })
}

/// A Stripe path with its ids taken out: `/v1/checkout/sessions/{id}/expire`.
pub fn stripe_endpoint(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let is_id = seg.split_once('_').is_some_and(|(prefix, rest)| {
                !rest.is_empty()
                    && prefix.len() <= 5
                    && prefix.chars().all(|c| c.is_ascii_lowercase())
            });
            if is_id { "{id}" } else { seg }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    #[test]
    fn stripe_paths_lose_their_ids() {
        assert_eq!(
            super::stripe_endpoint("/v1/checkout/sessions/cs_test_a1B2/expire"),
            "/v1/checkout/sessions/{id}/expire"
        );
        assert_eq!(
            super::stripe_endpoint("/v1/prices/price_123"),
            "/v1/prices/{id}"
        );
        assert_eq!(super::stripe_endpoint("/v1/refunds"), "/v1/refunds");
        assert_eq!(
            super::stripe_endpoint("/v1/checkout/sessions"),
            "/v1/checkout/sessions"
        );
    }
}
