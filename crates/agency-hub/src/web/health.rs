//! `/healthz` (the process answers) and `/readyz` (the database is migrated, and takes a read
//! and a write now).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::AppError;

/// How long the readiness probe waits for the database before it says not ready.
const PROBE_WITHIN: Duration = Duration::from_secs(2);

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// 200 `{"status": "ready"}`, or 503 with the error envelope whose code is `not_ready` and
/// whose message says why.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let unavailable = |reason: &str| {
        Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            reason,
        ))
    };
    // A read: the migrations table.
    match tokio::time::timeout(PROBE_WITHIN, crate::db::pending_migrations(&state.db)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => return unavailable(&format!("{n} migration(s) not applied")),
        Ok(Err(e)) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "readiness: the database cannot be read"
            );
            return unavailable("the database cannot be read");
        }
        Err(_) => return unavailable("the database did not answer a read in time"),
    }
    // A write, committed.
    match tokio::time::timeout(PROBE_WITHIN, crate::db::check_writable(&state.db)).await {
        Ok(Ok(())) => Ok(Json(json!({"status": "ready"}))),
        Ok(Err(e)) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "readiness: the database cannot write"
            );
            unavailable("the database cannot write")
        }
        Err(_) => unavailable("the database did not take a write in time"),
    }
}
