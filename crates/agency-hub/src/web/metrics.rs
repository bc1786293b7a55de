//! `GET /metrics` in Prometheus' text format (behind `METRICS_TOKEN` when it is set), and the
//! middleware that counts every request. The job queue's depth is read when scraped.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::AppError;
use crate::jobs;
use crate::metrics::{HTTP_DURATION, HTTP_REQUESTS, JOBS_WAITING, handle};

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
    match jobs::waiting_by_kind(&state.db).await {
        Ok(rows) => {
            for kind in state.jobs.kinds() {
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
