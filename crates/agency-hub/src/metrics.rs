//! Prometheus metrics: `GET /metrics` in Prometheus' text format (behind `METRICS_TOKEN` when it
//! is set). Counters and histograms are recorded where things happen (`metrics` macros); the job
//! queue's depth is read from the database when scraped.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::db::entities::job::{self, JobStatus};
use crate::error::AppError;

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

/// Counts each request by route (its pattern, not its path: ids would explode the series),
/// method and status, with its latency.
pub async fn track_http(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
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

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            return AppError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Send the metrics token as `Authorization: Bearer …`.",
            )
            .into_response();
        }
    }
    // The queue's depth, by kind, as it is now.
    let waiting: Result<Vec<(String, i64)>, _> = job::Entity::find()
        .select_only()
        .column(job::Column::Kind)
        .column_as(job::Column::Id.count(), "n")
        .filter(job::Column::Status.is_in([JobStatus::Queued, JobStatus::Running]))
        .group_by(job::Column::Kind)
        .into_tuple()
        .all(&state.db)
        .await;
    match waiting {
        Ok(rows) => {
            for kind in crate::JOB_KINDS {
                let n = rows.iter().find(|(k, _)| k == kind).map_or(0, |r| r.1);
                metrics::gauge!(JOBS_WAITING, "kind" => kind).set(n as f64);
            }
        }
        Err(e) => tracing::error!(error = %e, "reading the job queue for /metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
        .into_response()
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
