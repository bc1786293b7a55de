//! `/healthz` (the process answers) and `/readyz` (the database answers and is migrated).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if let Err(e) = state.db.conn().ping().await {
        tracing::warn!(error = %e, "readiness: database unreachable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": "database unreachable"})),
        );
    }
    match crate::db::pending_migrations(&state.db).await {
        Ok(0) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Ok(n) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"status": "unavailable", "reason": format!("{n} migration(s) not applied")}),
            ),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: migrations unreadable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "reason": "migrations unreadable"})),
            )
        }
    }
}
