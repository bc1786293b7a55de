//! The staff's orders: the filtered list with its totals and a CSV export, and each order's
//! page with its Stripe side, notes and actions. Managers read and write notes; refunds,
//! cancelling, re-running fulfilment and retrying events are the admins'.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::db::entities::order::{OrderStatus, PaymentStatus};
use crate::db::entities::user::Role;
use crate::db::entities::{activity as activity_entity, order_note, stripe_event, user};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, OrderId, ServiceId};
use crate::invoicing;
use crate::money::{Currency, Money};
use crate::notify::inapp;
use crate::orders::fulfil::Outcome;
use crate::orders::health::{self, WebhookHealth};
use crate::orders::listing::{self, Filter, OrderRow, Sort, Totals};
use crate::orders::{self, Detail, StaffDetail, actions};
use crate::stripe::client::REFUND_REASONS;
use crate::stripe_events::{self, Handled};
use crate::web::auth::{RequireAdmin, RequireStaff};
use crate::web::extract::{Form, PageParams, Path, Query, optional_id};
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

const PER_PAGE: u64 = 50;
/// Rows read at a time while the CSV streams.
const CSV_CHUNK: u64 = 500;

/// The list's query string, as typed; `filter()` checks it.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct OrdersQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    payment: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
}

impl OrdersQuery {
    pub fn filter(&self) -> AppResult<Filter> {
        let date = |field: &str, raw: &str| -> AppResult<Option<NaiveDate>> {
            match raw.trim() {
                "" => Ok(None),
                raw => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| {
                        AppError::invalid(field, format!("'{raw}' is not a date (YYYY-MM-DD)."))
                    }),
            }
        };
        let status = match self.status.trim() {
            "" => None,
            raw => Some(
                OrderStatus::ALL
                    .into_iter()
                    .find(|s| s.as_str().eq_ignore_ascii_case(raw))
                    .ok_or_else(|| {
                        AppError::invalid("status", format!("Unknown order status '{raw}'."))
                    })?,
            ),
        };
        let payment = match self.payment.trim() {
            "" => None,
            raw => Some(
                PaymentStatus::ALL
                    .into_iter()
                    .find(|s| s.as_str().eq_ignore_ascii_case(raw))
                    .ok_or_else(|| {
                        AppError::invalid("payment", format!("Unknown payment status '{raw}'."))
                    })?,
            ),
        };
        let client_id = optional_id("client", &self.client)?;
        let (from, to) = (date("from", &self.from)?, date("to", &self.to)?);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(AppError::invalid(
                "to",
                "The end date is before the start date.",
            ));
        }
        let sort = Sort::parse(self.sort.trim()).ok_or_else(|| {
            AppError::invalid(
                "sort",
                format!(
                    "Unknown sort '{}': use newest, oldest, total_desc or total_asc.",
                    self.sort.trim()
                ),
            )
        })?;
        Ok(Filter {
            status,
            payment,
            client_id,
            from,
            to,
            search: self.q.trim().to_string(),
            sort,
            settled: false,
            before: None,
        })
    }

    /// The filters as a query string (empty ones left out), for links that keep them.
    fn encoded(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("status", &self.status),
            ("payment", &self.payment),
            ("client", &self.client),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
            ("sort", &self.sort),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.trim()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// A currency's totals, formatted.
pub struct TotalsRow {
    pub currency: Currency,
    pub orders: i64,
    pub paid: String,
    pub refunded: String,
    pub net: String,
}

fn totals_rows(totals: Vec<Totals>) -> Vec<TotalsRow> {
    totals
        .into_iter()
        .map(|t| {
            let c = t.currency;
            TotalsRow {
                orders: t.orders,
                paid: Money::new(t.paid_minor, c).display(),
                refunded: Money::new(t.refunded_minor, c).display(),
                net: Money::new(t.paid_minor - t.refunded_minor, c).display(),
                currency: t.currency,
            }
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/orders.html")]
pub struct OrdersPage {
    ctx: PageCtx,
    q: OrdersQuery,
    narrowed: bool,
    rows: Vec<OrderRow>,
    totals: Vec<TotalsRow>,
    clients: Vec<(ClientId, String)>,
    health: WebhookHealth,
    is_admin: bool,
    csv_url: String,
    page: u64,
    has_next: bool,
    /// Counted when the list is narrowed.
    total: Option<u64>,
    pager_base: String,
}

pub async fn list(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    ctx: PageCtx,
    Query(q): Query<OrdersQuery>,
    Query(paging): Query<PageParams>,
) -> AppResult<OrdersPage> {
    let filter = q.filter()?;
    let page = paging.page()?;
    let narrowed = filter.is_narrowed();
    let listed = listing::admin_page(&state.db, &filter, page, PER_PAGE, narrowed).await?;
    // Summing every order ever is a scan of them all; the first page must stay fast however
    // many there are, so totals come with a filter (a date range covers "everything").
    let totals = if filter.is_narrowed() {
        totals_rows(listing::totals(&state.db, &filter).await?)
    } else {
        Vec::new()
    };
    let clients = crate::clients::names(&state.db).await?;
    let health = health::webhook_health(&state.db).await?;
    let encoded = q.encoded();
    let pager_base = if encoded.is_empty() {
        "/admin/orders?".to_string()
    } else {
        format!("/admin/orders?{encoded}&")
    };
    Ok(OrdersPage {
        ctx,
        narrowed,
        page,
        has_next: listed.has_next,
        total: listed.total,
        rows: listed.rows,
        csv_url: format!("/admin/orders/export.csv?{encoded}"),
        q,
        totals,
        clients,
        health,
        is_admin: user.role == Role::Admin,
        pager_base,
    })
}

/// The filtered list as CSV, streamed a chunk of rows at a time.
pub async fn export_csv(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    Query(q): Query<OrdersQuery>,
) -> AppResult<Response> {
    let filter = q.filter()?;
    tracing::info!(user.id = user.id.get(), "orders exported as CSV");
    let stream = futures_util::stream::unfold(Some(0u64), move |offset| {
        let (db, filter) = (state.db.clone(), filter.clone());
        async move {
            let offset = offset?;
            let chunk = async {
                let rows = listing::chunk(&db, &filter, offset, CSV_CHUNK).await?;
                let answers =
                    listing::answers(&db, rows.iter().map(|r| r.order.id).collect()).await?;
                let n = rows.len() as u64;
                Ok::<_, anyhow::Error>((csv_chunk(&rows, &answers, offset == 0)?, n))
            }
            .await;
            match chunk {
                Ok((bytes, n)) => {
                    let next = (n == CSV_CHUNK).then_some(offset + CSV_CHUNK);
                    Some((Ok::<Bytes, std::io::Error>(bytes), next))
                }
                Err(e) => {
                    // The status is sent already: cut the file short and say why in the log.
                    tracing::error!(error = %e, "the orders CSV stopped");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    })
    // A body reader may ask again after the end (the compression layer's does): fused, the
    // stream answers "ended" again instead of panicking.
    .fuse();
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"orders.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

fn csv_chunk(
    rows: &[OrderRow],
    answers: &std::collections::HashMap<crate::ids::OrderId, String>,
    header: bool,
) -> anyhow::Result<Bytes> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if header {
        w.write_record([
            "order_number",
            "created_at",
            "client",
            "status",
            "payment_status",
            "units",
            "currency",
            "subtotal",
            "discount",
            "tax",
            "total",
            "refunded",
            "paid_at",
            "payment_method",
            "answers",
        ])?;
    }
    for r in rows {
        let o = &r.order;
        let m = |minor: i64| o.money(minor).plain();
        w.write_record([
            crate::integrations::export::spreadsheet_safe(&o.order_number),
            o.created_at.to_rfc3339(),
            crate::integrations::export::spreadsheet_safe(&r.client_name),
            o.status.as_str().to_string(),
            o.payment_status.as_str().to_string(),
            r.units.to_string(),
            o.currency.to_string(),
            m(o.subtotal_minor),
            m(o.discount_minor),
            m(o.tax_minor),
            m(o.total_minor),
            m(o.refunded_minor),
            o.paid_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            o.payment_method.clone().unwrap_or_default(),
            crate::integrations::export::spreadsheet_safe(
                answers.get(&o.id).map_or("", String::as_str),
            ),
        ])?;
    }
    Ok(Bytes::from(w.into_inner()?))
}

/// A refund waiting for its confirmation.
pub struct RefundDraft {
    pub amount: String,
    pub amount_display: String,
    pub reason: String,
    pub reason_label: &'static str,
    /// The services it cancels.
    pub cancel: Vec<crate::db::entities::service::Model>,
}

/// Stripe's refund reasons, each in words.
const REASONS: [(&str, &str); 3] = [
    ("requested_by_customer", "Requested by the customer"),
    ("duplicate", "A duplicate payment"),
    ("fraudulent", "Fraudulent"),
];

/// A refund reason (Stripe's code) in words.
pub fn reason_label(code: &str) -> &'static str {
    REASONS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("another reason", |(_, label)| label)
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/order.html")]
pub struct OrderPage {
    ctx: PageCtx,
    d: Detail,
    client_name: String,
    buyer: Option<user::Model>,
    events: Vec<stripe_event::Model>,
    activity: Vec<activity_entity::Model>,
    notes: Vec<order_note::Model>,
    is_admin: bool,
    /// Stripe's dashboard, when a real key is configured (none with the emulator).
    dashboard: Option<&'static str>,
    refundable: Option<String>,
    refund_amount: String,
    refund_reason: String,
    /// The services ticked to cancel with the refund.
    refund_cancel: Vec<ServiceId>,
    /// The refund dialog shown open (without a script, `?refund=1`; again after a mistake).
    refund_open: bool,
    refund_error: Option<String>,
    confirm: Option<RefundDraft>,
    reasons: [(&'static str, &'static str); 3],
    docs: invoicing::Documents,
    /// Where the order's PDFs are.
    docs_base: String,
}

async fn order_page(state: &AppState, ctx: PageCtx, id: OrderId) -> AppResult<OrderPage> {
    let StaffDetail {
        detail: d,
        client_name,
        buyer,
        events,
        activity,
        notes,
    } = orders::staff_detail(&state.db, id).await?;
    let stripe = &state.config.stripe;
    let dashboard = match (&stripe.secret_key, state.test_mode) {
        (Some(_), false) if stripe.live() => Some("https://dashboard.stripe.com"),
        (Some(_), false) => Some("https://dashboard.stripe.com/test"),
        _ => None,
    };
    let remaining = actions::refundable(&d.order).ok();
    let docs = invoicing::Documents::of(&state.db, id, &d.items).await?;
    Ok(OrderPage {
        docs,
        docs_base: format!("/admin/orders/{id}"),
        is_admin: ctx.user.as_ref().is_some_and(|u| u.role == Role::Admin),
        ctx,
        refundable: remaining.map(|r| d.order.money(r).display()),
        // No amount is suggested: a refund is typed on purpose.
        refund_amount: String::new(),
        refund_reason: REFUND_REASONS[0].into(),
        refund_cancel: Vec::new(),
        refund_open: false,
        refund_error: None,
        confirm: None,
        reasons: REASONS,
        d,
        client_name,
        buyer,
        events,
        activity,
        notes,
        dashboard,
    })
}

impl OrderPage {
    /// Whether the service is ticked to cancel in the refund form.
    fn ticked(&self, id: &ServiceId) -> bool {
        self.refund_cancel.contains(id)
    }

    /// The page with a refund refused, answered with the refusal's status.
    fn with_refund_error(mut self, e: AppError) -> Response {
        let status = e.status;
        self.refund_open = true;
        self.refund_error = Some(e.message);
        (status, self).into_response()
    }
}

pub async fn invoice(
    State(state): State<AppState>,
    RequireStaff(_): RequireStaff,
    Path(id): Path<OrderId>,
) -> AppResult<Response> {
    let order = orders::get(&state.db, id).await?;
    super::orders::order_pdf(&state, &order, None).await
}

pub async fn credit_note(
    State(state): State<AppState>,
    RequireStaff(_): RequireStaff,
    Path((id, number)): Path<(OrderId, String)>,
) -> AppResult<Response> {
    let order = orders::get(&state.db, id).await?;
    super::orders::order_pdf(&state, &order, Some(&number)).await
}

#[derive(Debug, Default, Deserialize)]
pub struct OrderQuery {
    /// Opens the refund dialog (its link's address without a script).
    #[serde(default)]
    refund: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    ctx: PageCtx,
    Path(id): Path<OrderId>,
    Query(q): Query<OrderQuery>,
) -> AppResult<OrderPage> {
    let mut page = order_page(&state, ctx, id).await?;
    page.refund_open = q.refund.is_some();
    // The "order paid" news leads here: seen (once the order is known to exist).
    let link = format!("/admin/orders/{id}");
    page.ctx
        .seen(inapp::read_link(&state.db, user.id, &link).await?);
    Ok(page)
}

#[derive(Debug, Default, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
}

pub async fn add_note(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    Path(id): Path<OrderId>,
    Form(form): Form<NoteForm>,
) -> AppResult<Redirect> {
    actions::add_note(&state.db, &Actor::from(&user), id, &form.body).await?;
    flash(&session, FlashKind::Success, "Note added.").await?;
    Ok(Redirect::to(&format!("/admin/orders/{id}#notes")))
}

/// The refund form: `amount`, `reason`, a `cancel` per service ticked, and `confirm=yes` on
/// the confirmation step.
#[derive(Debug, Default)]
pub struct RefundForm {
    amount: String,
    reason: String,
    cancel: Vec<String>,
    confirm: bool,
}

impl RefundForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "amount" => form.amount = value.trim().to_string(),
                "reason" => form.reason = value.trim().to_string(),
                "cancel" => form.cancel.push(value),
                "confirm" => form.confirm = value == "yes",
                _ => {}
            }
        }
        form
    }

    fn services(&self) -> AppResult<Vec<ServiceId>> {
        self.cancel
            .iter()
            .map(|raw| {
                raw.trim().parse().map_err(|_| {
                    AppError::invalid("cancel", format!("\"{raw}\" is not a service."))
                })
            })
            .collect()
    }
}

/// Two steps: the form shows a confirmation of what will be refunded and cancelled; confirming
/// refunds.
pub async fn refund(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    ctx: PageCtx,
    session: Session,
    Path(id): Path<OrderId>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = RefundForm::from_pairs(pairs);
    let mut page = order_page(&state, ctx, id).await?;
    page.refund_amount = form.amount.clone();
    page.refund_reason = form.reason.clone();
    let currency = page.d.order.currency;
    let services = form.services();
    page.refund_cancel = services.as_ref().cloned().unwrap_or_default();
    let checked = async {
        let cancel = services?;
        let amount =
            Money::parse(&form.amount, currency).map_err(|msg| AppError::invalid("amount", msg))?;
        actions::check_refund(&page.d.order, amount.minor, &form.reason)?;
        let chosen = actions::cancellable(&state.db, &page.d.order, &cancel).await?;
        Ok::<_, AppError>((amount, cancel, chosen))
    }
    .await;
    let (amount, cancel, chosen) = match checked {
        Ok(c) => c,
        Err(e) if e.is_correctable() => return Ok(page.with_refund_error(e)),
        Err(e) => return Err(e),
    };
    if !form.confirm {
        page.refund_open = true;
        page.confirm = Some(RefundDraft {
            amount: amount.plain(),
            amount_display: amount.display(),
            reason: form.reason.clone(),
            reason_label: reason_label(&form.reason),
            cancel: chosen,
        });
        return Ok(page.into_response());
    }
    let refunded = actions::refund(
        &state.db,
        &state.stripe,
        &Actor::from(&admin),
        id,
        amount.minor,
        &form.reason,
        &cancel,
    )
    .await;
    settle(
        refunded,
        async |cancelled| {
            tracing::info!(
                order.id = id.get(),
                user.id = admin.id.get(),
                amount_minor = amount.minor,
                "refund made"
            );
            let message = if cancelled.is_empty() {
                format!("Refunded {}.", amount.display())
            } else {
                format!(
                    "Refunded {}; cancelled {}.",
                    amount.display(),
                    cancelled.join(", ")
                )
            };
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to(&format!("/admin/orders/{id}")).into_response())
        },
        // The order as it now is, with the reason the refund was refused.
        async |e| Ok(order_page(&state, page.ctx, id).await?.with_refund_error(e)),
    )
    .await
}

pub async fn cancel(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    Path(id): Path<OrderId>,
) -> AppResult<Redirect> {
    actions::cancel(&state.db, &state.stripe, &Actor::from(&admin), id).await?;
    flash(
        &session,
        FlashKind::Success,
        "Order cancelled: it can no longer be paid.",
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/orders/{id}")))
}

pub async fn rerun(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    Path(id): Path<OrderId>,
) -> AppResult<Redirect> {
    let outcome =
        actions::rerun_fulfilment(&state.db, &state.stripe, &Actor::from(&admin), id).await?;
    let message = match outcome {
        Outcome::Fulfilled => "Fulfilment ran: the missing services are made.",
        Outcome::AlreadyFulfilled => "Nothing to do: every service of this order exists.",
        Outcome::Processing => "Stripe says the payment is still processing.",
        Outcome::NotPaid => "Stripe says this order is not paid: nothing was made.",
        Outcome::Flagged => {
            "Stripe's amount does not match the order: it is flagged, nothing made."
        }
        Outcome::UnknownOrder => "Stripe's session does not name this order.",
    };
    flash(&session, FlashKind::Info, message).await?;
    Ok(Redirect::to(&format!("/admin/orders/{id}")))
}

pub async fn reviewed(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    Path(id): Path<OrderId>,
) -> AppResult<Redirect> {
    state
        .db
        .in_transaction(async |txn| actions::mark_reviewed(txn, &Actor::from(&admin), id).await)
        .await?;
    flash(&session, FlashKind::Success, "Marked as reviewed.").await?;
    Ok(Redirect::to(&format!("/admin/orders/{id}")))
}

/// Runs a failed Stripe event again from its stored body.
pub async fn retry_event(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Redirect> {
    let handled = stripe_events::retry(&state.db, &id).await;
    match handled {
        Ok(Handled::Processed(outcome)) => {
            tracing::info!(stripe.event_id = %id, user.id = admin.id.get(), outcome, "failed Stripe event retried");
            flash(
                &session,
                FlashKind::Success,
                format!("Event {id} handled: {outcome}."),
            )
            .await?
        }
        Ok(Handled::Duplicate) => {
            flash(
                &session,
                FlashKind::Info,
                format!("Event {id} was handled meanwhile."),
            )
            .await?
        }
        Err(e) if e.status.is_client_error() => {
            flash(&session, FlashKind::Error, e.message).await?
        }
        Err(e) => {
            flash(
                &session,
                FlashKind::Error,
                format!("Event {id} failed again: {}", e.message),
            )
            .await?
        }
    }
    Ok(Redirect::to("/admin/orders#webhook-health"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refund_reason_stripe_knows_has_its_words() {
        for code in REFUND_REASONS {
            assert_ne!(reason_label(code), "another reason", "{code}");
        }
        assert_eq!(reason_label("duplicate"), "A duplicate payment");
    }
}
