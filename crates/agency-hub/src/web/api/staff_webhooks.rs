//! Outbound webhook endpoints (`/api/webhook-endpoints`), for admins: the Integrations pages'
//! data and forms, checked by the same form.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CursorParam, ErrorResponse, Paginated, Pagination};
use crate::AppState;
use crate::activity::Actor;
use crate::db::entities::{webhook_delivery, webhook_endpoint};
use crate::error::AppResult;
use crate::integrations::webhooks::{self, EndpointForm};
use crate::web::auth::RequireAdmin;
use crate::web::extract::{Json, PageParams, Path, Query};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointBody {
    pub id: i64,
    pub url: String,
    pub description: String,
    /// The event types it receives.
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why it is off, when it is (an admin, or three days of failures).
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    /// The signing secret (`whsec_…`): in the answers that make it (a new endpoint, a rolled
    /// secret) only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The secret before the last rotation, and until when it signs too.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl EndpointBody {
    /// The endpoint with its secret, for the answers that make one.
    fn with_secret(e: &webhook_endpoint::Model) -> Self {
        Self {
            secret: Some(e.secret.clone()),
            ..Self::from(e)
        }
    }
}

impl From<&webhook_endpoint::Model> for EndpointBody {
    fn from(e: &webhook_endpoint::Model) -> Self {
        Self {
            id: e.id,
            url: e.url.clone(),
            description: e.description.clone(),
            events: e.events.split_whitespace().map(str::to_string).collect(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since,
            secret: None,
            previous_secret_expires_at: e.previous_secret_expires_at.filter(|at| *at > Utc::now()),
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryBody {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    /// pending (another attempt is due), succeeded or failed.
    pub status: String,
    pub attempts: i32,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub response_code: Option<i32>,
    /// The first KB of the last answer, or why there was none.
    pub response_body: Option<String>,
    pub duration_ms: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// The JSON body sent.
    pub payload: String,
}

impl From<webhook_delivery::Model> for DeliveryBody {
    fn from(d: webhook_delivery::Model) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status.as_str().to_string(),
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            response_code: d.response_code,
            response_body: d.response_body,
            duration_ms: d.duration_ms,
            created_at: d.created_at,
            payload: d.payload,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"url": "https://hooks.example.com/agency", "description": "Accounting", "events": ["order.paid", "order.refunded"]}))]
pub struct EndpointInput {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Event types: order.paid, order.refunded, order.cancelled, service.created,
    /// service.status_changed, task.completed, client.created, subscription.started,
    /// subscription.changed, subscription.period_paid, subscription.payment_failed,
    /// subscription.ended, message.created.
    #[serde(default)]
    pub events: Vec<String>,
    /// On unless false (a change that leaves it out keeps it as it is).
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl EndpointInput {
    /// The form; `enabled` left out is `enabled_now` (on for a new endpoint).
    fn form(self, enabled_now: bool) -> EndpointForm {
        EndpointForm {
            url: self.url,
            description: self.description,
            events: self.events,
            enabled: self.enabled.unwrap_or(enabled_now),
        }
    }
}

async fn valid(state: &AppState, form: EndpointForm) -> AppResult<webhooks::ValidEndpoint> {
    let policy = webhooks::policy(&state.db, &state.config).await?;
    Ok(form.validate(policy, &state.config).await?)
}

#[utoipa::path(
    get,
    path = "/api/webhook-endpoints",
    tag = "staff",
    summary = "Every webhook endpoint",
    description = "Admins only. Token scope: `operations:read`.",
    responses(
        (status = 200, description = "The endpoints (without their secrets)", body = Vec<EndpointBody>),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
) -> AppResult<axum::Json<Vec<EndpointBody>>> {
    let all = webhooks::list(&state.db).await?;
    Ok(axum::Json(all.iter().map(EndpointBody::from).collect()))
}

#[utoipa::path(
    post,
    path = "/api/webhook-endpoints",
    tag = "staff",
    summary = "Registers a webhook endpoint",
    description = "`https://` only, never to private, loopback or link-local addresses unless the admin setting allows private networks (`http://` to this machine while the app runs on http). The answer holds the signing secret. Admins only. Token scope: `operations:write`.",
    request_body = EndpointInput,
    responses(
        (status = 201, description = "The new endpoint, with its secret", body = EndpointBody),
        (status = 400, description = "A field is wrong (the URL refused, say)", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 409, description = "Too many endpoints", body = ErrorResponse),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Json(input): Json<EndpointInput>,
) -> AppResult<(StatusCode, axum::Json<EndpointBody>)> {
    let valid = valid(&state, input.form(true)).await?;
    let actor = Actor::from(&admin);
    let made = state
        .db
        .in_transaction(async |txn| webhooks::create(txn, &actor, valid).await)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(EndpointBody::with_secret(&made)),
    ))
}

#[utoipa::path(
    get,
    path = "/api/webhook-endpoints/{id}",
    tag = "staff",
    summary = "One webhook endpoint",
    description = "Admins only. Token scope: `operations:read`.",
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointBody),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such endpoint", body = ErrorResponse),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<EndpointBody>> {
    let e = webhooks::get(&state.db, id).await?;
    Ok(axum::Json(EndpointBody::from(&e)))
}

#[utoipa::path(
    put,
    path = "/api/webhook-endpoints/{id}",
    tag = "staff",
    summary = "Changes a webhook endpoint",
    description = "Every field, as the form saves them; `enabled: true` on an endpoint turned off starts it afresh. Admins only. Token scope: `operations:write`.",
    params(("id" = i64, Path, description = "The endpoint's id")),
    request_body = EndpointInput,
    responses(
        (status = 200, description = "The endpoint", body = EndpointBody),
        (status = 400, description = "A field is wrong", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such endpoint", body = ErrorResponse),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<i64>,
    Json(input): Json<EndpointInput>,
) -> AppResult<axum::Json<EndpointBody>> {
    let current = webhooks::get(&state.db, id).await?;
    let valid = valid(&state, input.form(current.enabled)).await?;
    let actor = Actor::from(&admin);
    let saved = state
        .db
        .in_transaction(async |txn| webhooks::update(txn, &actor, id, valid).await)
        .await?;
    Ok(axum::Json(EndpointBody::from(&saved)))
}

#[utoipa::path(
    delete,
    path = "/api/webhook-endpoints/{id}",
    tag = "staff",
    summary = "Deletes a webhook endpoint and its log",
    description = "Admins only. Token scope: `operations:write`.",
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such endpoint", body = ErrorResponse),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    let actor = Actor::from(&admin);
    state
        .db
        .in_transaction(async |txn| webhooks::delete(txn, &actor, id).await)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/webhook-endpoints/{id}/roll-secret",
    tag = "staff",
    summary = "Gives the endpoint a new signing secret",
    description = "Deliveries carry a signature under each secret for the next 24 hours, so the receiver can change its secret meanwhile. Admins only. Token scope: `operations:write`.",
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint, with its new secret", body = EndpointBody),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such endpoint", body = ErrorResponse),
    ),
)]
pub async fn roll_secret(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<EndpointBody>> {
    let actor = Actor::from(&admin);
    let rolled = state
        .db
        .in_transaction(async |txn| webhooks::roll_secret(txn, &actor, id).await)
        .await?;
    Ok(axum::Json(EndpointBody::with_secret(&rolled)))
}

#[utoipa::path(
    get,
    path = "/api/webhook-endpoints/{id}/deliveries",
    tag = "staff",
    summary = "The endpoint's delivery log, newest first",
    description = "Each event sent: its status, attempts, last answer (code, first KB, duration) and body. Admins only. Token scope: `operations:read`.",
    params(
        ("id" = i64, Path, description = "The endpoint's id"),
        ("page" = Option<u64>, Query, description = "1-based page number"),
        ("perPage" = Option<u64>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "Go on after this `nextCursor` (stable while rows arrive)"),
    ),
    responses(
        (status = 200, description = "One page of deliveries", body = Paginated<DeliveryBody>),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such endpoint", body = ErrorResponse),
    ),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    Path(id): Path<i64>,
    Query(paging): Query<PageParams>,
    Query(cursor): Query<CursorParam>,
) -> AppResult<axum::Json<Paginated<DeliveryBody>>> {
    webhooks::get(&state.db, id).await?;
    let (page, per_page, after) = cursor.window(&paging, 50, 200)?;
    let (rows, total) = webhooks::deliveries(&state.db, id, after, page, per_page).await?;
    let last = rows.last().map(|d| d.id);
    Ok(axum::Json(Paginated {
        data: rows.into_iter().map(DeliveryBody::from).collect(),
        pagination: Pagination::with_next(page, per_page, total, last),
    }))
}

#[utoipa::path(
    post,
    path = "/api/webhook-endpoints/{id}/deliveries/{delivery_id}/resend",
    tag = "staff",
    summary = "Sends a delivery again now",
    description = "The same event (same id and body, a fresh signature). Admins only. Token scope: `operations:write`.",
    params(
        ("id" = i64, Path, description = "The endpoint's id"),
        ("delivery_id" = i64, Path, description = "The delivery's id"),
    ),
    responses(
        (status = 202, description = "Queued", body = DeliveryBody),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such endpoint or delivery", body = ErrorResponse),
        (status = 409, description = "The endpoint is turned off", body = ErrorResponse),
    ),
)]
pub async fn resend(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> AppResult<(StatusCode, axum::Json<DeliveryBody>)> {
    let actor = Actor::from(&admin);
    let queued = state
        .db
        .in_transaction(async |txn| webhooks::resend(txn, &actor, id, delivery_id).await)
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(DeliveryBody::from(queued))))
}
