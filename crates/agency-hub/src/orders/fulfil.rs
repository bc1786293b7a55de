//! Fulfilment: the one idempotent function that turns a paid Checkout Session into a paid order
//! with its services. The webhook and the success page both call it; run twice, or by two
//! instances at once, it provisions once: it holds the order's lock, returns early for an order
//! already paid, and each unit's service is unique per (order item, unit).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Utc};
use sea_orm::sea_query::{CaseStatement, Expr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::refunds;
use crate::activity::{self, Actor, Subject};
use crate::analytics::{Event, Kind};
use crate::cart;
use crate::catalog::{Intake, When};
use crate::db::entities::notification::NoticeKind;
use crate::db::entities::order::{self, OrderStatus, PaymentStatus};
use crate::db::entities::{order_item, service, service_template, user, user::Role};
use crate::error::AppResult;
use crate::ids::{OrderId, OrderItemId, TemplateId};
use crate::invoicing::{self, Series};
use crate::notify::inapp;
use crate::notify::{self, Message, Outgoing, messages::OrderLine};
use crate::provisioning::{self, Origin};
use crate::stripe::client::{CheckoutSession, Expandable, SessionPaymentStatus, SessionStatus};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Paid now: services made, emails queued, cart emptied.
    Fulfilled,
    /// Paid before (by the other caller): nothing done.
    AlreadyFulfilled,
    /// Completed with a method that settles later.
    Processing,
    /// Not paid (yet): nothing done.
    NotPaid,
    /// Stripe's amount or currency does not match the order: flagged, nothing provisioned.
    Flagged,
    /// The session names no order of ours.
    UnknownOrder,
}

impl Outcome {
    /// As recorded with the event.
    pub fn label(self) -> &'static str {
        match self {
            Self::Fulfilled => "fulfilled",
            Self::AlreadyFulfilled => "already_fulfilled",
            Self::Processing => "processing",
            Self::NotPaid => "not_paid",
            Self::Flagged => "flagged",
            Self::UnknownOrder => "unknown_order",
        }
    }
}

/// The order a session is for (`client_reference_id`, else `metadata.order_id`).
pub fn order_id_of(session: &CheckoutSession) -> Option<OrderId> {
    session
        .client_reference_id
        .as_deref()
        .or(session.metadata.get("order_id").map(String::as_str))
        .and_then(|s| s.parse().ok())
}

/// Fulfils the checkout `session` in the caller's transaction.
pub async fn fulfil_checkout<C: ConnectionTrait>(
    conn: &C,
    session: &CheckoutSession,
) -> AppResult<Outcome> {
    let outcomes = fulfil_many(conn, std::slice::from_ref(session)).await?;
    Ok(outcomes.first().copied().unwrap_or(Outcome::UnknownOrder))
}

/// Fulfils each session in the caller's transaction: an outcome per session, in order. The
/// orders' writes take a few statements however many orders there are (the webhook handles a
/// batch of events at once: `crate::stripe_events::Batcher`). Sessions naming the same order
/// are fulfilled one after the other, each seeing the one before.
pub async fn fulfil_many<C: ConnectionTrait>(
    conn: &C,
    sessions: &[CheckoutSession],
) -> AppResult<Vec<Outcome>> {
    let mut seen = HashSet::new();
    if sessions
        .iter()
        .filter_map(order_id_of)
        .all(|id| seen.insert(id))
    {
        return fulfil_distinct(conn, sessions).await;
    }
    let mut outcomes = Vec::with_capacity(sessions.len());
    for session in sessions {
        outcomes.extend(fulfil_distinct(conn, std::slice::from_ref(session)).await?);
    }
    Ok(outcomes)
}

/// [`fulfil_many`] for sessions of distinct orders.
async fn fulfil_distinct<C: ConnectionTrait>(
    conn: &C,
    sessions: &[CheckoutSession],
) -> AppResult<Vec<Outcome>> {
    let ids: Vec<OrderId> = sessions.iter().filter_map(order_id_of).collect();
    let mut orders: HashMap<OrderId, order::Model> = super::lock_many(conn, &ids)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let mut outcomes = Vec::with_capacity(sessions.len());
    let mut paying = Vec::new();
    for session in sessions {
        let Some(order) = order_id_of(session).and_then(|id| orders.remove(&id)) else {
            outcomes.push(Outcome::UnknownOrder);
            continue;
        };
        match not_to_provision(conn, &order, session).await? {
            Some(outcome) => outcomes.push(outcome),
            None => {
                let payment = Payment::of(&order, session);
                paying.push((order, session, payment));
                outcomes.push(Outcome::Fulfilled);
            }
        }
    }
    if !paying.is_empty() {
        provision_paid(conn, &paying).await?;
    }
    Ok(outcomes)
}

/// Marks the orders paid and makes everything a payment makes: the services of every unit, the
/// metrics' and the activity's records, the emails, and each client's cart emptied.
async fn provision_paid<C: ConnectionTrait>(
    conn: &C,
    paying: &[(order::Model, &CheckoutSession, Payment)],
) -> AppResult<()> {
    let started = std::time::Instant::now();
    let now = Utc::now();
    mark_paid(conn, paying, now).await?;
    // Each line's share of a discount or tax is read from Stripe after this transaction.
    crate::jobs::Enqueue::insert_many(
        conn,
        paying
            .iter()
            .filter(|(_, _, p)| p.discount > 0 || p.tax > 0)
            .map(|(o, s, _)| super::lines::ReadLineAmounts::enqueue(o.id, &s.id)),
    )
    .await?;
    let orders: Vec<&order::Model> = paying.iter().map(|(o, ..)| o).collect();
    let items = super::items_of_orders(conn, orders.iter().map(|o| o.id)).await?;
    crate::engagement::recommendations::record_purchases(conn, &orders, &items).await?;
    let services = provision_units(conn, &orders, &items, &HashSet::new(), now).await?;
    start_subscriptions(conn, paying, &items, &services).await?;
    let audiences = super::audiences(conn, orders.iter().copied()).await?;
    let mut paid_events = Vec::with_capacity(paying.len());
    let mut activity = Vec::with_capacity(paying.len());
    let mut emails = Vec::new();
    let mut notices = Vec::with_capacity(paying.len());
    for (order, _, payment) in paying {
        let items: Vec<&order_item::Model> =
            items.iter().filter(|i| i.order_id == order.id).collect();
        let services: Vec<&service::Model> = services
            .iter()
            .filter(|s| {
                s.order_item_id
                    .is_some_and(|id| items.iter().any(|i| i.id == id))
            })
            .collect();
        paid_events.push(
            Event::new(Kind::Paid, Some(order.client_id), order.user_id)
                .amount(order.money(payment.total))
                .details(json!({"order_id": order.id, "order_number": order.order_number})),
        );
        activity.push(activity::row(
            &Actor::System,
            "order.paid",
            Subject {
                entity_type: "order",
                entity_id: order.id.get(),
                client_id: Some(order.client_id),
            },
            json!({"order_number": order.order_number, "total_minor": payment.total, "currency": order.currency, "services": services.len()}),
        ));
        let audience = audiences.get(&order.id).cloned().unwrap_or_default();
        notices.push((
            paid_notice(order, services.len(), &audience),
            audience.staff.clone(),
        ));
        emails.extend(paid_emails(order, &items, &services, payment, audience));
        tracing::info!(
            order.id = order.id.get(),
            order.number = %order.order_number,
            amount_minor = payment.total,
            currency = %order.currency,
            services = services.len(),
            batch = paying.len(),
            took_ms = started.elapsed().as_millis() as u64,
            "order paid"
        );
    }
    Event::record_many(conn, paid_events).await?;
    activity::record_many(conn, activity).await?;
    notify::enqueue_many(conn, emails).await?;
    // The buyer and every staff member hear of it in the app.
    let mut told = Vec::new();
    for ((notice, staff), order) in notices.iter().zip(&orders) {
        if let Some(buyer) = order.user_id {
            told.push((notice, buyer, false));
        }
        told.extend(staff.iter().map(|u| (notice, u.id, true)));
    }
    inapp::send_many(conn, told).await?;
    cart::clear_many(conn, orders.iter().map(|o| o.client_id)).await?;
    Ok(())
}

fn paid_notice(order: &order::Model, services: usize, audience: &super::Audience) -> inapp::Notice {
    inapp::Notice {
        kind: NoticeKind::OrderPaid,
        service_id: None,
        message_id: None,
        title: format!("Order {} is paid", order.order_number),
        body: format!(
            "{} · {} service{} started",
            audience.client_name,
            services,
            if services == 1 { "" } else { "s" }
        ),
        client_link: format!("/store/orders/{}", order.id),
        staff_link: format!("/admin/orders/{}", order.id),
    }
}

/// The subscription of each subscription-mode session, with the service just made for its
/// recurring item.
async fn start_subscriptions<C: ConnectionTrait>(
    conn: &C,
    paying: &[(order::Model, &CheckoutSession, Payment)],
    items: &[order_item::Model],
    services: &[service::Model],
) -> AppResult<()> {
    for (order, session, _) in paying {
        let Some(stripe_id) = session.subscription.as_ref().map(|s| s.id()) else {
            continue;
        };
        let Some(item) = items
            .iter()
            .find(|i| i.order_id == order.id && i.is_recurring())
        else {
            tracing::warn!(
                order.id = order.id.get(),
                "a subscription for an order without a recurring item"
            );
            continue;
        };
        let service = services
            .iter()
            .find(|s| s.order_item_id == Some(item.id))
            .map(|s| s.id);
        let customer = session.customer.as_ref().map(|c| c.id());
        crate::subscriptions::start(conn, stripe_id, customer, item, service).await?;
    }
    Ok(())
}

/// The services an item makes, in unit order (unit n makes the n-th): one a unit of its
/// template, one in all for a subscription (its quantity counts seats of the one service); for a
/// bundle, one a unit of each part as bought, for each bundle (`true`: a part's).
fn unit_templates(item: &order_item::Model) -> Vec<(TemplateId, bool)> {
    let parts = item.parts();
    if parts.is_empty() {
        let n = if item.is_recurring() {
            1
        } else {
            item.quantity
        };
        return vec![(item.template_id, false); usize::try_from(n).unwrap_or(0)];
    }
    let mut units = Vec::new();
    for _ in 0..item.quantity {
        for p in &parts {
            units.extend((0..p.quantity).map(|_| (p.template_id, true)));
        }
    }
    units
}

fn units_of(item: &order_item::Model) -> usize {
    unit_templates(item).len()
}

/// A bundle part's questions, all asked on its service after payment (the cart asks none for a
/// bundle).
fn part_intake(template: &service_template::Model) -> Intake {
    let mut questions = template.questions();
    for q in &mut questions {
        q.when = When::AfterPayment;
    }
    Intake::of(&questions, &Default::default())
}

/// Why the locked `order` is not to be provisioned from `session` now, if it is not: paid
/// before (then only what is missing is made), not paid (yet), or paid in a way that does not
/// match the order (flagged for a person).
async fn not_to_provision<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    session: &CheckoutSession,
) -> AppResult<Option<Outcome>> {
    if order.status == OrderStatus::Refunded {
        return Ok(Some(Outcome::AlreadyFulfilled));
    }
    if order.status == OrderStatus::Completed {
        // Paid before: make only what is missing (nothing, unless services were lost).
        return complete_missing(conn, order).await.map(Some);
    }
    match session.payment_status {
        SessionPaymentStatus::Paid | SessionPaymentStatus::NoPaymentRequired => {}
        SessionPaymentStatus::Unpaid if session.status == Some(SessionStatus::Complete) => {
            super::transition(
                conn,
                order,
                OrderStatus::Processing,
                PaymentStatus::Processing,
            )
            .await?;
            return Ok(Some(Outcome::Processing));
        }
        _ => return Ok(Some(Outcome::NotPaid)),
    }
    if order.status == OrderStatus::Cancelled {
        // Paid for an order we had given up on (an expiry raced the payment): keep the money
        // visible to staff rather than provisioning silently.
        let reason = "Stripe reports a payment for an order that was cancelled.";
        flag(conn, order, reason).await?;
        return Ok(Some(Outcome::Flagged));
    }
    let currency_matches = session
        .currency
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case(order.currency.code()));
    if !currency_matches || session.amount_subtotal != Some(order.subtotal_minor) {
        let reason = format!(
            "Stripe charged {} {:?} for a subtotal of {} {} in the order.",
            session.currency.as_deref().unwrap_or("?"),
            session.amount_subtotal,
            order.subtotal_minor,
            order.currency
        );
        flag(conn, order, &reason).await?;
        return Ok(Some(Outcome::Flagged));
    }
    Ok(None)
}

/// What Stripe says was paid: its totals (after discounts and tax) and how.
struct Payment {
    discount: i64,
    tax: i64,
    total: i64,
    method: String,
    /// The buyer's tax ID, when Checkout asked for one and was given it.
    tax_id: Option<String>,
}

impl Payment {
    fn of(order: &order::Model, session: &CheckoutSession) -> Self {
        let details = session.total_details.clone().unwrap_or_default();
        let method = session
            .payment_method_types
            .first()
            .cloned()
            .or_else(|| match &session.payment_intent {
                Some(Expandable::Object(pi)) => pi.payment_method_types.first().cloned(),
                _ => None,
            })
            .unwrap_or_else(|| "card".into());
        Self {
            discount: details.amount_discount,
            tax: details.amount_tax,
            total: session.amount_total.unwrap_or(order.subtotal_minor),
            method,
            tax_id: session
                .customer_details
                .as_ref()
                .and_then(|d| d.tax_ids.first())
                .map(|t| t.value.clone()),
        }
    }
}

/// Marks the orders paid, each with what Stripe says of it, in one statement.
async fn mark_paid<C: ConnectionTrait>(
    conn: &C,
    paying: &[(order::Model, &CheckoutSession, Payment)],
    at: DateTime<Utc>,
) -> AppResult<()> {
    // Each order's value: `CASE WHEN id = … THEN … END`.
    let each = |value: &dyn Fn(&CheckoutSession, &Payment) -> sea_orm::Value| -> sea_orm::sea_query::SimpleExpr {
        paying
            .iter()
            .fold(CaseStatement::new(), |case, (order, session, payment)| {
                case.case(
                    order::Column::Id.eq(order.id),
                    Expr::value(value(session, payment)),
                )
            })
            .into()
    };
    // One-time orders take our invoice numbers, in the batch's order, in this transaction (see
    // `invoicing`); a subscription's invoices are Stripe's.
    let invoiced: Vec<OrderId> = paying
        .iter()
        .filter(|(o, s, _)| s.subscription.is_none() && o.invoice_number.is_none())
        .map(|(o, ..)| o.id)
        .collect();
    let numbers = invoicing::take(conn, Series::Invoice, at.year(), invoiced.len()).await?;
    let mut update = order::Entity::update_many();
    if !invoiced.is_empty() {
        let case = invoiced
            .iter()
            .zip(numbers)
            .fold(CaseStatement::new(), |case, (id, number)| {
                case.case(order::Column::Id.eq(*id), Expr::value(number))
            })
            .finally(Expr::col(order::Column::InvoiceNumber));
        update = update.col_expr(order::Column::InvoiceNumber, case.into());
    }
    update
        .col_expr(order::Column::Status, Expr::value(OrderStatus::Completed))
        .col_expr(
            order::Column::PaymentStatus,
            Expr::value(PaymentStatus::Succeeded),
        )
        .col_expr(
            order::Column::DiscountMinor,
            each(&|_, p| p.discount.into()),
        )
        .col_expr(order::Column::TaxMinor, each(&|_, p| p.tax.into()))
        .col_expr(order::Column::TotalMinor, each(&|_, p| p.total.into()))
        .col_expr(
            order::Column::StripePaymentIntentId,
            payment_intents(paying),
        )
        .col_expr(
            order::Column::PaymentMethod,
            each(&|_, p| p.method.clone().into()),
        )
        .col_expr(
            order::Column::CustomerTaxId,
            each(&|_, p| p.tax_id.clone().into()),
        )
        .col_expr(order::Column::PaidAt, Expr::value(at))
        .col_expr(order::Column::UpdatedAt, Expr::value(at))
        .filter(order::Column::Id.is_in(paying.iter().map(|(o, ..)| o.id)))
        .exec(conn)
        .await?;
    Ok(())
}

/// Each order's payment intent: the session's, or for a subscription-mode session (which has
/// none) the one already recorded from its first invoice, kept.
fn payment_intents(
    paying: &[(order::Model, &CheckoutSession, Payment)],
) -> sea_orm::sea_query::SimpleExpr {
    paying
        .iter()
        .fold(CaseStatement::new(), |case, (order, session, _)| {
            let value: sea_orm::sea_query::SimpleExpr = match &session.payment_intent {
                Some(p) => Expr::value(p.id().to_string()),
                None => Expr::col(order::Column::StripePaymentIntentId),
            };
            case.case(order::Column::Id.eq(order.id), value)
        })
        .into()
}

/// The client's confirmation, and each manager and admin about each new service.
fn paid_emails(
    order: &order::Model,
    items: &[&order_item::Model],
    services: &[&service::Model],
    payment: &Payment,
    audience: super::Audience,
) -> Vec<Outgoing> {
    let mut emails = Vec::new();
    if let Some((to, name)) = audience.client {
        let money = |m: i64| order.money(m).display();
        let message = Message::OrderConfirmation(crate::notify::messages::OrderConfirmation {
            name,
            order_id: order.id,
            order_number: order.order_number.clone(),
            items: items
                .iter()
                .map(|i| OrderLine {
                    name: i.service_name.clone(),
                    quantity: i64::from(i.quantity),
                    unit_price: money(i.unit_price_minor),
                    total: money(i.total_minor),
                    terms: i.terms(&order.currency),
                })
                .collect(),
            subtotal: money(order.subtotal_minor),
            discount: (payment.discount > 0).then(|| money(-payment.discount)),
            tax: (payment.tax > 0).then(|| money(payment.tax)),
            total: money(payment.total),
        });
        emails.push(Outgoing {
            to,
            message,
            dedupe_key: format!("order-confirmation:{}", order.id),
        });
    }
    emails.extend(new_service_emails(
        audience.staff.iter(),
        services.iter().copied(),
        &audience.client_name,
        &order.order_number,
    ));
    emails
}

/// One service per unit of each of the orders' items, skipping the (item, unit) pairs in
/// `existing`, made in one go.
async fn provision_units<C: ConnectionTrait>(
    conn: &C,
    orders: &[&order::Model],
    items: &[order_item::Model],
    existing: &HashSet<(OrderItemId, i32)>,
    now: chrono::DateTime<Utc>,
) -> AppResult<Vec<service::Model>> {
    let template_ids: HashSet<TemplateId> = items
        .iter()
        .flat_map(|i| {
            let parts = i.parts().into_iter().map(|p| p.template_id);
            std::iter::once(i.template_id).chain(parts)
        })
        .collect();
    let templates = service_template::Entity::find()
        .filter(service_template::Column::Id.is_in(template_ids))
        .all(conn)
        .await?;
    let mut wanted = Vec::new();
    for item in items {
        let Some(order) = orders.iter().find(|o| o.id == item.order_id) else {
            continue;
        };
        for (i, (template_id, part)) in unit_templates(item).into_iter().enumerate() {
            let unit = i as i32 + 1;
            if existing.contains(&(item.id, unit)) {
                continue;
            }
            let Some(template) = templates.iter().find(|t| t.id == template_id) else {
                tracing::error!(
                    order.id = order.id.get(),
                    template.id = template_id.get(),
                    "an order item's template is gone: not provisioned"
                );
                continue;
            };
            wanted.push(provisioning::NewService {
                template,
                client_id: order.client_id,
                origin: Origin::Purchase {
                    order_item_id: item.id,
                    unit,
                },
                intake: if part {
                    part_intake(template)
                } else {
                    item.intake()
                },
            });
        }
    }
    provisioning::provision_many(conn, &Actor::System, &wanted, now).await
}

fn new_service_emails<'a>(
    staff: impl Iterator<Item = &'a user::Model>,
    services: impl Iterator<Item = &'a service::Model> + Clone,
    client_name: &str,
    order_number: &str,
) -> Vec<Outgoing> {
    let mut emails = Vec::new();
    for member in staff {
        for service in services.clone() {
            emails.push(Outgoing {
                to: member.email.clone(),
                message: Message::NewServiceFromPurchase(crate::notify::messages::NewService {
                    client_name: client_name.to_string(),
                    service_id: service.id,
                    service_name: service.name.clone(),
                    order_number: order_number.to_string(),
                    answers: service
                        .intake()
                        .given()
                        .map(|(q, a)| (q.to_string(), a.display()))
                        .collect(),
                }),
                dedupe_key: format!("new-service:{}:{}", service.id, member.id),
            });
        }
    }
    emails
}

/// A paid order: provisions the units that have no service (none, normally), and tells the staff.
async fn complete_missing<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
) -> AppResult<Outcome> {
    let items = super::items_of(conn, order.id).await?;
    let existing: HashSet<(OrderItemId, i32)> = service::Entity::find()
        .filter(refunds::services_of(order.id))
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|s| Some((s.order_item_id?, s.unit?)))
        .collect();
    let units: usize = items.iter().map(units_of).sum();
    if existing.len() >= units {
        return Ok(Outcome::AlreadyFulfilled);
    }
    let services = provision_units(conn, &[order], &items, &existing, Utc::now()).await?;
    for item in items.iter().filter(|i| i.is_recurring()) {
        if let Some(service) = services.iter().find(|s| s.order_item_id == Some(item.id)) {
            crate::subscriptions::relink(conn, item, service.id).await?;
        }
    }
    activity::record(
        conn,
        &Actor::System,
        "order.provisioned",
        Subject {
            entity_type: "order",
            entity_id: order.id.get(),
            client_id: Some(order.client_id),
        },
        json!({"order_number": order.order_number, "services": services.len()}),
    )
    .await?;
    let audience = super::audience(conn, order).await?;
    let emails = new_service_emails(
        audience.staff.iter(),
        services.iter(),
        &audience.client_name,
        &order.order_number,
    );
    notify::enqueue_many(conn, emails).await?;
    Ok(Outcome::Fulfilled)
}

async fn flag<C: ConnectionTrait>(conn: &C, order: &order::Model, reason: &str) -> AppResult<()> {
    tracing::warn!(
        order.id = order.id.get(),
        reason,
        "order flagged for review"
    );
    order::Entity::update_many()
        .col_expr(order::Column::ReviewReason, Expr::value(reason))
        .filter(order::Column::Id.eq(order.id))
        .exec(conn)
        .await?;
    let admins = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin))
        .filter(user::Column::Active.eq(true))
        .all(conn)
        .await?;
    let emails = admins
        .into_iter()
        .map(|admin| Outgoing {
            dedupe_key: format!("order-flagged:{}:{}", order.id, admin.id),
            to: admin.email,
            message: Message::OrderFlagged(crate::notify::messages::OrderFlagged {
                order_id: order.id,
                order_number: order.order_number.clone(),
                reason: reason.to_string(),
            }),
        })
        .collect();
    notify::enqueue_many(conn, emails).await?;
    activity::record(
        conn,
        &Actor::System,
        "order.flagged",
        Subject {
            entity_type: "order",
            entity_id: order.id.get(),
            client_id: Some(order.client_id),
        },
        json!({"reason": reason}),
    )
    .await?;
    Ok(())
}
