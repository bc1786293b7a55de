//! Fulfilment: the one idempotent function that turns a paid Checkout Session into a paid order
//! with its services. The webhook and the success page both call it; run twice, or by two
//! instances at once, it provisions once: it holds the order's lock, returns early for an order
//! already paid, and each unit's service is unique per (order item, unit).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::refunds;
use crate::activity::{self, Actor, Subject};
use crate::analytics::{Event, Kind};
use crate::cart;
use crate::db::entities::order::{self, OrderStatus, PaymentStatus};
use crate::db::entities::{order_item, service, service_template, user, user::Role};
use crate::error::AppResult;
use crate::ids::{OrderId, OrderItemId, TemplateId};
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
    let started = std::time::Instant::now();
    let Some(order_id) = order_id_of(session) else {
        return Ok(Outcome::UnknownOrder);
    };
    let Some(order) = super::lock(conn, order_id).await? else {
        return Ok(Outcome::UnknownOrder);
    };
    if let Some(outcome) = not_to_provision(conn, &order, session).await? {
        return Ok(outcome);
    }
    let payment = Payment::of(&order, session);
    mark_paid(conn, &order, session, &payment).await?;
    let items = super::items_of(conn, order.id).await?;
    let services = provision_units(conn, &order, &items, &HashSet::new(), payment.at).await?;
    record_paid(conn, &order, &payment, services.len()).await?;
    queue_paid_emails(conn, &order, &items, &services, &payment).await?;
    cart::clear(conn, order.client_id).await?;
    tracing::info!(
        order.id = order.id.get(),
        order.number = %order.order_number,
        amount_minor = payment.total,
        currency = %order.currency,
        services = services.len(),
        took_ms = started.elapsed().as_millis() as u64,
        "order paid"
    );
    Ok(Outcome::Fulfilled)
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
    at: DateTime<Utc>,
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
            at: Utc::now(),
        }
    }
}

async fn mark_paid<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    session: &CheckoutSession,
    payment: &Payment,
) -> AppResult<()> {
    order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(OrderStatus::Completed))
        .col_expr(
            order::Column::PaymentStatus,
            Expr::value(PaymentStatus::Succeeded),
        )
        .col_expr(order::Column::DiscountMinor, Expr::value(payment.discount))
        .col_expr(order::Column::TaxMinor, Expr::value(payment.tax))
        .col_expr(order::Column::TotalMinor, Expr::value(payment.total))
        .col_expr(
            order::Column::StripePaymentIntentId,
            Expr::value(session.payment_intent.as_ref().map(|p| p.id().to_string())),
        )
        .col_expr(
            order::Column::PaymentMethod,
            Expr::value(payment.method.clone()),
        )
        .col_expr(order::Column::PaidAt, Expr::value(payment.at))
        .col_expr(order::Column::UpdatedAt, Expr::value(payment.at))
        .filter(order::Column::Id.eq(order.id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The payment in the store's metrics and the order's activity.
async fn record_paid<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    payment: &Payment,
    services: usize,
) -> AppResult<()> {
    Event::new(Kind::Paid, Some(order.client_id), order.user_id)
        .amount(order.money(payment.total))
        .details(json!({"order_id": order.id, "order_number": order.order_number}))
        .record(conn)
        .await?;
    activity::record(
        conn,
        &Actor::System,
        "order.paid",
        Subject {
            entity_type: "order",
            entity_id: order.id.get(),
            client_id: Some(order.client_id),
        },
        json!({"order_number": order.order_number, "total_minor": payment.total, "currency": order.currency, "services": services}),
    )
    .await?;
    Ok(())
}

/// The client's confirmation, and each manager and admin about each new service.
async fn queue_paid_emails<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    items: &[order_item::Model],
    services: &[service::Model],
    payment: &Payment,
) -> AppResult<()> {
    let audience = super::audience(conn, order).await?;
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
        services,
        &audience.client_name,
        &order.order_number,
    ));
    notify::enqueue_many(conn, emails).await?;
    Ok(())
}

/// One service per unit of each item, skipping the (item, unit) pairs in `existing`.
async fn provision_units<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    items: &[order_item::Model],
    existing: &HashSet<(OrderItemId, i32)>,
    now: chrono::DateTime<Utc>,
) -> AppResult<Vec<service::Model>> {
    let template_ids: Vec<TemplateId> = items.iter().map(|i| i.template_id).collect();
    let templates = service_template::Entity::find()
        .filter(service_template::Column::Id.is_in(template_ids))
        .all(conn)
        .await?;
    let mut services = Vec::new();
    for item in items {
        let Some(template) = templates.iter().find(|t| t.id == item.template_id) else {
            tracing::error!(
                order.id = order.id.get(),
                template.id = item.template_id.get(),
                "an order item's template is gone: not provisioned"
            );
            continue;
        };
        for unit in (1..=item.quantity).filter(|u| !existing.contains(&(item.id, *u))) {
            let origin = Origin::Purchase {
                order_item_id: item.id,
                unit,
            };
            services.push(
                provisioning::provision_service(
                    conn,
                    &Actor::System,
                    template,
                    order.client_id,
                    origin,
                    now,
                )
                .await?,
            );
        }
    }
    Ok(services)
}

fn new_service_emails<'a>(
    staff: impl Iterator<Item = &'a user::Model>,
    services: &[service::Model],
    client_name: &str,
    order_number: &str,
) -> Vec<Outgoing> {
    let mut emails = Vec::new();
    for member in staff {
        for service in services {
            emails.push(Outgoing {
                to: member.email.clone(),
                message: Message::NewServiceFromPurchase(crate::notify::messages::NewService {
                    client_name: client_name.to_string(),
                    service_id: service.id,
                    service_name: service.name.clone(),
                    order_number: order_number.to_string(),
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
    let units: i64 = items.iter().map(|i| i64::from(i.quantity)).sum();
    if existing.len() as i64 >= units {
        return Ok(Outcome::AlreadyFulfilled);
    }
    let services = provision_units(conn, order, &items, &existing, Utc::now()).await?;
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
        &services,
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
