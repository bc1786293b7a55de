//! Subscriptions (`/api/subscriptions`): the Subscriptions pages' list (with their filters) and
//! detail for staff, a client's own for a client; an admin's changes (cancel at the period's
//! end or now, resume, pause or resume collection), made at Stripe as the page makes them.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ErrorResponse, Paginated, Pagination};
use crate::AppState;
use crate::activity::Actor;
use crate::auth::CurrentUser;
use crate::db::entities::{subscription, subscription_invoice};
use crate::error::{AppError, AppResult};
use crate::ids::SubscriptionId;
use crate::subscriptions::actions::{self, Change};
use crate::subscriptions::{self, listing};
use crate::web::auth::RequireAdmin;
use crate::web::extract::{Json, PageParams, Path, Query};
use crate::web::pages::admin_subscriptions::ListQuery;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionBody {
    pub id: i64,
    pub client_id: i64,
    pub template_id: i64,
    pub order_id: i64,
    pub service_id: Option<i64>,
    /// Stripe's status: trialing, active, past_due, unpaid, paused or canceled.
    pub status: String,
    /// The status in words ("Active, ends on 2026-12-31").
    pub status_label: String,
    /// "$298.00 every month".
    pub terms: String,
    pub quantity: i32,
    pub unit_amount_minor: i64,
    pub currency: String,
    pub interval: String,
    pub interval_count: i32,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&subscription::Model> for SubscriptionBody {
    fn from(s: &subscription::Model) -> Self {
        Self {
            id: s.id.get(),
            client_id: s.client_id.get(),
            template_id: s.template_id.get(),
            order_id: s.order_id.get(),
            service_id: s.service_id.map(|id| id.get()),
            status: s.status.clone(),
            status_label: subscriptions::status_label(s),
            terms: subscriptions::terms(s),
            quantity: s.quantity,
            unit_amount_minor: s.unit_amount_minor,
            currency: s.currency.clone(),
            interval: s.interval.clone(),
            interval_count: s.interval_count,
            current_period_end: s.current_period_end,
            cancel_at_period_end: s.cancel_at_period_end,
            ended_at: s.ended_at,
            created_at: s.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionListBody {
    #[serde(flatten)]
    pub subscription: SubscriptionBody,
    /// What it is (the template's name).
    pub name: String,
    pub client_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceBody {
    pub id: i64,
    pub number: Option<String>,
    pub status: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// Stripe's page of the invoice.
    pub hosted_invoice_url: Option<String>,
}

impl From<subscription_invoice::Model> for InvoiceBody {
    fn from(i: subscription_invoice::Model) -> Self {
        Self {
            id: i.id,
            number: i.number,
            status: i.status,
            amount_due: i.amount_due,
            amount_paid: i.amount_paid,
            period_start: i.period_start,
            period_end: i.period_end,
            hosted_invoice_url: i.hosted_invoice_url,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionDetailBody {
    #[serde(flatten)]
    pub subscription: SubscriptionBody,
    pub name: String,
    pub invoices: Vec<InvoiceBody>,
}

#[utoipa::path(
    get,
    path = "/api/subscriptions",
    tag = "staff",
    summary = "Subscriptions, newest first",
    description = "Staff see every company's, with the Subscriptions page's filters (25 a page); a client sees its company's (filters ignored, one page). Token scope: `subscriptions:read`.",
    params(
        ("status" = Option<String>, Query, description = "trialing, active, past_due, unpaid, paused or canceled"),
        ("client" = Option<i64>, Query, description = "A client company's id"),
        ("template" = Option<i64>, Query, description = "A service template's id"),
        ("q" = Option<String>, Query, description = "Part of the client's or service's name, or Stripe's id"),
        ("page" = Option<u64>, Query, description = "1-based page number"),
    ),
    responses(
        (status = 200, description = "One page of subscriptions", body = Paginated<SubscriptionListBody>),
        (status = 400, description = "A bad filter", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
    Query(paging): Query<PageParams>,
) -> AppResult<axum::Json<Paginated<SubscriptionListBody>>> {
    let page = paging.page()?;
    if let Some(client_id) = user.client_id.filter(|_| !user.role.is_staff()) {
        let mine = actions::for_client(&state.db, client_id).await?;
        let total = mine.len() as u64;
        let data = mine
            .iter()
            .map(|(s, t)| SubscriptionListBody {
                subscription: SubscriptionBody::from(s),
                name: t.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                client_name: String::new(),
            })
            .collect();
        return Ok(axum::Json(Paginated {
            data,
            pagination: Pagination::new(1, total.max(1), total),
        }));
    }
    if !user.role.is_staff() {
        return Err(AppError::forbidden(
            "Only staff and client users have subscriptions to see.",
        ));
    }
    let filter = q.filter()?;
    let (rows, total) = listing::page(&state.db, &filter, page).await?;
    Ok(axum::Json(Paginated {
        data: rows
            .into_iter()
            .map(|r| SubscriptionListBody {
                subscription: SubscriptionBody::from(&r.sub),
                name: r.template_name,
                client_name: r.client_name,
            })
            .collect(),
        pagination: Pagination::new(page, listing::PER_PAGE, total),
    }))
}

async fn detail(state: &AppState, sub: subscription::Model) -> AppResult<SubscriptionDetailBody> {
    Ok(SubscriptionDetailBody {
        name: subscriptions::name_of(&state.db, &sub).await?,
        invoices: subscriptions::invoices_of(&state.db, sub.id)
            .await?
            .into_iter()
            .map(InvoiceBody::from)
            .collect(),
        subscription: SubscriptionBody::from(&sub),
    })
}

#[utoipa::path(
    get,
    path = "/api/subscriptions/{id}",
    tag = "staff",
    summary = "One subscription, with its invoices",
    description = "Staff: any; a client: its company's (another's is 404). Token scope: `subscriptions:read`.",
    params(("id" = i64, Path, description = "The subscription's id")),
    responses(
        (status = 200, description = "The subscription", body = SubscriptionDetailBody),
        (status = 404, description = "No such subscription (for you)", body = ErrorResponse),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<SubscriptionId>,
) -> AppResult<axum::Json<SubscriptionDetailBody>> {
    let sub = match (user.role.is_staff(), user.client_id) {
        (true, _) => actions::get(&state.db, id).await?,
        (false, Some(client_id)) => actions::get_for_client(&state.db, client_id, id).await?,
        (false, None) => return Err(AppError::not_found()),
    };
    Ok(axum::Json(detail(&state, sub).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"action": "cancel"}))]
pub struct ActionInput {
    /// `cancel` (at the period's end), `cancel_now`, `resume` (undo a cancel at the period's
    /// end), `pause_collection` (its invoices voided) or `resume_collection`.
    pub action: String,
}

#[utoipa::path(
    post,
    path = "/api/subscriptions/{id}/actions",
    tag = "staff",
    summary = "Changes a subscription at Stripe",
    description = "As the admin's subscription page does (`cancel_now` ends it today, without a confirmation step). Admins only. Token scope: `subscriptions:write`.",
    params(("id" = i64, Path, description = "The subscription's id")),
    request_body = ActionInput,
    responses(
        (status = 200, description = "The subscription as Stripe now has it", body = SubscriptionDetailBody),
        (status = 400, description = "An unknown action", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such subscription", body = ErrorResponse),
        (status = 409, description = "Not possible now (it has ended, it is not set to end…)", body = ErrorResponse),
        (status = 502, description = "Stripe refused or did not answer; nothing changed", body = ErrorResponse),
    ),
)]
pub async fn act(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<SubscriptionId>,
    Json(input): Json<ActionInput>,
) -> AppResult<axum::Json<SubscriptionDetailBody>> {
    let change = match input.action.trim() {
        "cancel" => Change::CancelAtPeriodEnd,
        "cancel_now" => Change::CancelNow,
        "resume" => Change::Resume,
        "pause_collection" => Change::Collection(Some("void")),
        "resume_collection" => Change::Collection(None),
        other => {
            return Err(AppError::invalid(
                "action",
                format!(
                    "Unknown action '{other}': use cancel, cancel_now, resume, pause_collection or resume_collection."
                ),
            ));
        }
    };
    let sub = actions::get(&state.db, id).await?;
    let changed =
        actions::change(&state.db, &state.stripe, &Actor::from(&admin), &sub, change).await?;
    Ok(axum::Json(detail(&state, changed).await?))
}
