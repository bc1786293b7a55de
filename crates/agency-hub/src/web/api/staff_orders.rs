//! Orders for staff (`/api/orders`): the admin's list with its filters, an order, its notes,
//! refunds, cancelling and running fulfilment again; the same domain functions as the pages.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::CursorParam;
use super::orders::{OrderDetailBody, OrderSummary, detail_body};
use super::{ErrorResponse, Paginated, Pagination};
use crate::AppState;
use crate::activity::Actor;
use crate::error::{AppError, AppResult};
use crate::ids::{OrderId, ServiceId};
use crate::orders::{self, actions, listing};
use crate::web::auth::{RequireAdmin, RequireStaff};
use crate::web::extract::{Json, PageParams, Path, Query};
use crate::web::pages::admin_orders::OrdersQuery;

/// The largest page of orders.
const MAX_PER_PAGE: u64 = 200;

#[utoipa::path(
    get,
    path = "/api/orders",
    tag = "staff",
    summary = "Every order, with the admin's filters",
    description = "Newest first, 50 a page. Page with `page`, or, stable while orders arrive, with `cursor` (each answer's `pagination.nextCursor`; cursor pages run newest first by id). Token scope: `orders:read`.",
    params(
        ("status" = Option<String>, Query, description = "PENDING, PROCESSING, COMPLETED, CANCELLED or REFUNDED"),
        ("payment" = Option<String>, Query, description = "PENDING, PROCESSING, SUCCEEDED, FAILED, CANCELLED or REFUNDED"),
        ("client" = Option<i64>, Query, description = "A client company's id"),
        ("from" = Option<String>, Query, description = "Placed on or after this day (YYYY-MM-DD, UTC)"),
        ("to" = Option<String>, Query, description = "Placed on or before this day"),
        ("q" = Option<String>, Query, description = "Matched in the order number, the client's name and the buyer's email"),
        ("sort" = Option<String>, Query, description = "newest (default), oldest, total_desc or total_asc"),
        ("page" = Option<u64>, Query, description = "1-based page number"),
        ("perPage" = Option<u64>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "Go on after this `nextCursor`"),
    ),
    responses(
        (status = 200, description = "One page of orders", body = Paginated<OrderSummary>,
            example = json!({"data": [{"id": 12, "orderNumber": "AH-20261202-4F7Q", "createdAt": "2026-12-02T10:00:00Z", "status": "COMPLETED", "paymentStatus": "SUCCEEDED", "items": 1, "total": {"amountMinor": 49900, "currency": "USD", "formatted": "$499.00"}, "refunded": {"amountMinor": 0, "currency": "USD", "formatted": "$0.00"}}], "pagination": {"page": 1, "perPage": 50, "totalItems": 1, "totalPages": 1}})),
        (status = 403, description = "Not staff, or the token lacks `orders:read`", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    RequireStaff(_): RequireStaff,
    Query(query): Query<OrdersQuery>,
    Query(paging): Query<PageParams>,
    Query(cursor): Query<CursorParam>,
) -> AppResult<axum::Json<Paginated<OrderSummary>>> {
    let mut filter = query.filter()?;
    let (page, per_page, after) = cursor.window(&paging, 50, MAX_PER_PAGE)?;
    filter.before = after.map(OrderId);
    let listed = listing::admin_page(&state.db, &filter, page, per_page, true).await?;
    let last = listed.rows.last().map(|r| r.order.id.get());
    // Cursor pages count what is left after the cursor; pages count the whole list.
    let total = listed.total.unwrap_or_default();
    Ok(axum::Json(Paginated {
        data: listed.rows.iter().map(OrderSummary::from).collect(),
        pagination: Pagination::new(page, per_page, total).with_cursor(listed.has_next, last),
    }))
}

/// An order as staff see it: the client's view, with who bought it and the internal notes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaffOrderBody {
    #[serde(flatten)]
    pub order: OrderDetailBody,
    pub client_id: i64,
    pub client_name: String,
    pub buyer_email: Option<String>,
    /// Why a person must look at the order (Stripe's amounts differ from it), if they must.
    pub review_reason: Option<String>,
    pub notes: Vec<NoteBody>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteBody {
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

async fn staff_body(state: &AppState, id: OrderId) -> AppResult<StaffOrderBody> {
    let d = orders::staff_detail(&state.db, id).await?;
    Ok(StaffOrderBody {
        order: detail_body(&d.detail),
        client_id: d.detail.order.client_id.get(),
        client_name: d.client_name,
        buyer_email: d.buyer.map(|u| u.email),
        review_reason: d.detail.order.review_reason.clone(),
        notes: d
            .notes
            .into_iter()
            .map(|n| NoteBody {
                author: n.author_name,
                body: n.body,
                created_at: n.created_at,
            })
            .collect(),
    })
}

#[utoipa::path(
    get,
    path = "/api/orders/{id}",
    tag = "staff",
    summary = "One order, with its notes",
    description = "Token scope: `orders:read`.",
    params(("id" = i64, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order", body = StaffOrderBody),
        (status = 403, description = "Not staff", body = ErrorResponse),
        (status = 404, description = "No such order", body = ErrorResponse),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    RequireStaff(_): RequireStaff,
    Path(id): Path<OrderId>,
) -> AppResult<axum::Json<StaffOrderBody>> {
    Ok(axum::Json(staff_body(&state, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"body": "Called the client: they want the logo in blue."}))]
pub struct NoteInput {
    /// 1 to 5,000 characters.
    #[serde(default)]
    pub body: String,
}

#[utoipa::path(
    post,
    path = "/api/orders/{id}/notes",
    tag = "staff",
    summary = "Adds an internal note to an order",
    description = "Seen by staff only. Token scope: `orders:write`.",
    params(("id" = i64, Path, description = "The order's id")),
    request_body = NoteInput,
    responses(
        (status = 201, description = "The order with its notes", body = StaffOrderBody),
        (status = 403, description = "Not staff", body = ErrorResponse),
        (status = 404, description = "No such order", body = ErrorResponse),
    ),
)]
pub async fn add_note(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    Path(id): Path<OrderId>,
    Json(input): Json<NoteInput>,
) -> AppResult<(StatusCode, axum::Json<StaffOrderBody>)> {
    actions::add_note(&state.db, &Actor::from(&user), id, &input.body).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(staff_body(&state, id).await?),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"amountMinor": 5000, "reason": "requested_by_customer", "cancelServices": [31]}))]
pub struct RefundInput {
    /// In the order's currency's minor units; the whole refundable rest when absent.
    pub amount_minor: Option<i64>,
    /// requested_by_customer, duplicate or fraudulent.
    #[serde(default)]
    pub reason: String,
    /// Services of the order to cancel with the refund.
    #[serde(default)]
    pub cancel_services: Vec<i64>,
}

#[utoipa::path(
    post,
    path = "/api/orders/{id}/refund",
    tag = "staff",
    summary = "Refunds an order, in full or in part",
    description = "Through Stripe; applied at once. Admins only. Token scope: `orders:write`.",
    params(("id" = i64, Path, description = "The order's id")),
    request_body = RefundInput,
    responses(
        (status = 200, description = "The order after the refund", body = StaffOrderBody),
        (status = 403, description = "Not an admin, or the token lacks `orders:write`", body = ErrorResponse),
        (status = 404, description = "No such order", body = ErrorResponse),
        (status = 409, description = "Nothing left to refund", body = ErrorResponse),
        (status = 502, description = "Stripe refused or did not answer", body = ErrorResponse),
    ),
)]
pub async fn refund(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<OrderId>,
    Json(input): Json<RefundInput>,
) -> AppResult<axum::Json<StaffOrderBody>> {
    let order = orders::get(&state.db, id).await?;
    let amount = match input.amount_minor {
        Some(a) => a,
        None => actions::refundable(&order).map_err(AppError::conflict)?,
    };
    let cancel: Vec<ServiceId> = input.cancel_services.into_iter().map(ServiceId).collect();
    actions::refund(
        &state.db,
        &state.stripe,
        &Actor::from(&admin),
        id,
        amount,
        &input.reason,
        &cancel,
    )
    .await?;
    Ok(axum::Json(staff_body(&state, id).await?))
}

#[utoipa::path(
    post,
    path = "/api/orders/{id}/cancel",
    tag = "staff",
    summary = "Cancels an unpaid order",
    description = "Its Checkout Session is expired first, so it can no longer be paid. Admins only. Token scope: `orders:write`.",
    params(("id" = i64, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The cancelled order", body = StaffOrderBody),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such order", body = ErrorResponse),
        (status = 409, description = "The order is not pending", body = ErrorResponse),
        (status = 502, description = "Stripe refused or did not answer", body = ErrorResponse),
    ),
)]
pub async fn cancel(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<OrderId>,
) -> AppResult<axum::Json<StaffOrderBody>> {
    actions::cancel(&state.db, &state.stripe, &Actor::from(&admin), id).await?;
    Ok(axum::Json(staff_body(&state, id).await?))
}

#[utoipa::path(
    post,
    path = "/api/orders/{id}/rerun",
    tag = "staff",
    summary = "Runs the order's fulfilment again",
    description = "From Stripe's view of its session: a paid order gets the services it is missing; anything else changes nothing. Admins only. Token scope: `orders:write`.",
    params(("id" = i64, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order afterwards", body = StaffOrderBody),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such order", body = ErrorResponse),
        (status = 409, description = "The order has no Checkout Session", body = ErrorResponse),
        (status = 502, description = "Stripe refused or did not answer", body = ErrorResponse),
    ),
)]
pub async fn rerun(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<OrderId>,
) -> AppResult<axum::Json<StaffOrderBody>> {
    actions::rerun_fulfilment(&state.db, &state.stripe, &Actor::from(&admin), id).await?;
    Ok(axum::Json(staff_body(&state, id).await?))
}
