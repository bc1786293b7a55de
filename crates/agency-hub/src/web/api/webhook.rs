//! `POST /api/webhooks/stripe`: the signature is checked on the raw body before anything else;
//! then the event is handled exactly once (see `stripe::events`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ErrorResponse;
use crate::AppState;
use crate::error::AppError;
use crate::metrics::WEBHOOK_EVENTS;
use crate::stripe::events::Event;
use crate::stripe::signature;
use crate::stripe_events::Handled;

#[utoipa::path(
    post,
    path = "/api/webhooks/stripe",
    tag = "stripe",
    summary = "Stripe's webhook",
    description = "Authenticated by the `Stripe-Signature` header (HMAC-SHA256 of `t.body`, 5 minutes' tolerance), not by a session. Each event id is handled once; a failure answers 500 so Stripe delivers again.",
    request_body(content = String, content_type = "application/json", description = "A Stripe event"),
    responses(
        (status = 200, description = "Handled, or a duplicate of a handled event"),
        (status = 400, description = "A missing or wrong signature, or a body that is not an event", body = ErrorResponse),
        (status = 500, description = "Handling failed; nothing was kept", body = ErrorResponse),
    ),
)]
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = signature::verify(&body, header, &state.config.stripe.webhook_secrets, now) {
        tracing::warn!(reason = %e, "Stripe webhook refused");
        metrics::counter!(WEBHOOK_EVENTS, "type" => "unknown", "outcome" => "invalid_signature")
            .increment(1);
        return AppError::new(StatusCode::BAD_REQUEST, "invalid_signature", e.to_string())
            .into_response();
    }
    let event: Event = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            return AppError::bad_request(format!("The body is not a Stripe event: {e}"))
                .into_response();
        }
    };
    let started = std::time::Instant::now();
    let raw = String::from_utf8_lossy(&body).into_owned();
    let (id, kind) = (event.id.clone(), event.kind.clone());
    let handled = state.stripe_events.handle(event, raw).await;
    let outcome = match &handled {
        Ok(Handled::Processed(outcome)) => outcome,
        Ok(Handled::Duplicate) => "duplicate",
        Err(e) if e.status.is_client_error() => "refused",
        Err(_) => "error",
    };
    metrics::counter!(WEBHOOK_EVENTS, "type" => kind.clone(), "outcome" => outcome).increment(1);
    match handled {
        Ok(Handled::Processed(outcome)) => {
            tracing::info!(stripe.event_id = %id, stripe.event_type = %kind, outcome, took_ms = started.elapsed().as_millis() as u64, "Stripe event handled");
            (
                StatusCode::OK,
                axum::Json(json!({"received": true, "outcome": outcome})),
            )
                .into_response()
        }
        Ok(Handled::Duplicate) => (
            StatusCode::OK,
            axum::Json(json!({"received": true, "outcome": "duplicate"})),
        )
            .into_response(),
        Err(e) if e.status.is_client_error() => e.into_response(),
        Err(e) => {
            tracing::error!(stripe.event_id = %id, error = %e, "Stripe event failed; Stripe will retry");
            AppError::internal(anyhow::anyhow!("handling {id}: {e}")).into_response()
        }
    }
}
