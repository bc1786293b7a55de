//! The client's orders as JSON: the same data as `/store/orders` and each order's page.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::store::{MoneyBody, QuestionBody};
use super::{ErrorResponse, Paginated, Pagination};
use crate::AppState;
use crate::db::entities::order;
use crate::error::AppResult;
use crate::ids::OrderId;
use crate::orders::{
    self,
    listing::{self, CLIENT_PER_PAGE, OrderRow},
};
use crate::web::auth::RequireClient;
use crate::web::extract::{PageParams, Path, Query};

/// An order in a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummary {
    pub id: i64,
    #[schema(example = "AH-20261127-4F7Q")]
    pub order_number: String,
    pub created_at: DateTime<Utc>,
    /// PENDING, PROCESSING, COMPLETED, CANCELLED or REFUNDED.
    pub status: String,
    /// PENDING, PROCESSING, SUCCEEDED, FAILED, CANCELLED or REFUNDED.
    pub payment_status: String,
    /// Units bought, all items together.
    pub items: i64,
    pub total: MoneyBody,
    pub refunded: MoneyBody,
}

fn summary(o: &order::Model, units: i64) -> OrderSummary {
    OrderSummary {
        id: o.id.get(),
        order_number: o.order_number.clone(),
        created_at: o.created_at,
        status: o.status.as_str().into(),
        payment_status: o.payment_status.as_str().into(),
        items: units,
        total: o.money(o.total_minor).into(),
        refunded: o.money(o.refunded_minor).into(),
    }
}

impl From<&OrderRow> for OrderSummary {
    fn from(r: &OrderRow) -> Self {
        summary(&r.order, r.units)
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineBody {
    pub service_name: String,
    pub quantity: i32,
    pub unit_price: MoneyBody,
    pub total: MoneyBody,
    /// The line's share of the order's discount and its tax, as Stripe computed them (zero
    /// until they are read from Stripe, shortly after payment).
    pub discount: MoneyBody,
    pub tax: MoneyBody,
    /// The service's questions as asked at checkout, with the answers given in the cart.
    pub questions: Vec<QuestionBody>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderServiceBody {
    pub id: i64,
    pub name: String,
    pub status: String,
    /// The questions asked of this service, with their answers so far (those asked after
    /// payment are answered on the service).
    pub questions: Vec<QuestionBody>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineStep {
    pub at: DateTime<Utc>,
    pub label: String,
}

/// An order with its items, money, payment, the services it made and its timeline.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetailBody {
    #[serde(flatten)]
    pub order: OrderSummary,
    pub lines: Vec<OrderLineBody>,
    pub subtotal: MoneyBody,
    pub discount: MoneyBody,
    pub tax: MoneyBody,
    pub payment_method: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub services: Vec<OrderServiceBody>,
    pub timeline: Vec<TimelineStep>,
}

#[utoipa::path(
    get,
    path = "/api/store/orders",
    tag = "orders",
    summary = "The company's orders",
    description = "Newest first, 20 a page.",
    params(("page" = Option<u64>, Query, description = "1-based page number")),
    responses(
        (status = 200, description = "One page of orders", body = Paginated<OrderSummary>),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Query(paging): Query<PageParams>,
) -> AppResult<axum::Json<Paginated<OrderSummary>>> {
    let page = paging.page()?;
    let (rows, total) =
        listing::client_page(&state.db, client_id, false, page, CLIENT_PER_PAGE).await?;
    Ok(axum::Json(Paginated {
        data: rows.iter().map(OrderSummary::from).collect(),
        pagination: Pagination::new(page, CLIENT_PER_PAGE, total),
    }))
}

#[utoipa::path(
    get,
    path = "/api/store/orders/{id}",
    tag = "orders",
    summary = "One of the company's orders",
    params(("id" = i64, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order", body = OrderDetailBody),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "No such order of this company", body = ErrorResponse),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Path(id): Path<OrderId>,
) -> AppResult<axum::Json<OrderDetailBody>> {
    let d = orders::client_detail(&state.db, client_id, id).await?;
    Ok(axum::Json(detail_body(&d)))
}

/// An order's detail as the API shows it (to its client and to staff).
pub fn detail_body(d: &orders::Detail) -> OrderDetailBody {
    let o = &d.order;
    let units = d.items.iter().map(|i| i64::from(i.quantity)).sum();
    OrderDetailBody {
        order: summary(o, units),
        lines: d
            .items
            .iter()
            .map(|i| OrderLineBody {
                service_name: i.service_name.clone(),
                quantity: i.quantity,
                unit_price: o.money(i.unit_price_minor).into(),
                total: o.money(i.total_minor).into(),
                discount: o.money(i.discount_minor).into(),
                tax: o.money(i.tax_minor).into(),
                questions: QuestionBody::of(&i.intake()),
            })
            .collect(),
        subtotal: o.money(o.subtotal_minor).into(),
        discount: o.money(o.discount_minor).into(),
        tax: o.money(o.tax_minor).into(),
        payment_method: o.payment_method.clone(),
        paid_at: o.paid_at,
        services: d
            .services
            .iter()
            .map(|s| OrderServiceBody {
                id: s.id.get(),
                name: s.name.clone(),
                status: s.status.as_str().into(),
                questions: QuestionBody::of(&s.intake()),
            })
            .collect(),
        timeline: d
            .timeline
            .iter()
            .map(|s| TimelineStep {
                at: s.at,
                label: s.label.clone(),
            })
            .collect(),
    }
}
