//! Refunds, from the admin's button or from Stripe's dashboard alike: Stripe's `charge.refunded`
//! carries the total refunded so far, and `apply` brings the order to it. Refunds only grow, so a
//! figure at or below what the order already shows (a duplicate, an event overtaken by a later
//! one) changes nothing.

use chrono::{DateTime, Datelike, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use crate::activity::{self, Actor, Subject};
use crate::analytics::{Event, Kind};
use crate::db::entities::order::{self, OrderStatus, PaymentStatus};
use crate::db::entities::service::ServiceStatus;
use crate::db::entities::task::TaskStatus;
use crate::db::entities::{credit_note, order_item, service, task};
use crate::error::AppResult;
use crate::ids::{OrderId, ServiceId};
use crate::invoicing::{self, Series};
use crate::notify::{self, Message, Outgoing};
use crate::stripe::client::Charge;

use super::Effect;

/// What a refund did to the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Refunded by this change (minor units).
    pub amount: i64,
    pub full: bool,
    /// Services cancelled: none of their work had started.
    pub cancelled: Vec<String>,
    /// Services left for a manager to decide: their work had started.
    pub to_review: Vec<String>,
}

/// The order's services (those its purchase made).
pub fn services_of(order_id: OrderId) -> Condition {
    Condition::all().add(
        service::Column::OrderItemId.in_subquery(
            Query::select()
                .column(order_item::Column::Id)
                .from(order_item::Entity)
                .and_where(order_item::Column::OrderId.eq(order_id))
                .to_owned(),
        ),
    )
}

/// `charge.refunded`: a refund made by our admin or in Stripe's dashboard. The charge carries
/// the total refunded so far.
pub async fn charge_refunded<C: ConnectionTrait>(conn: &C, charge: &Charge) -> AppResult<Effect> {
    let Some(pi) = &charge.payment_intent else {
        return Ok(Effect::unknown_order());
    };
    let Some(found) = order::Entity::find()
        .filter(order::Column::StripePaymentIntentId.eq(pi.as_str()))
        .one(conn)
        .await?
    else {
        // Not an order's payment: perhaps a subscription's renewal.
        return crate::subscriptions::charge_refunded(conn, charge).await;
    };
    let Some(order) = super::lock(conn, found.id).await? else {
        return Ok(Effect::unknown_order());
    };
    let applied = apply(conn, &order, charge.amount_refunded, &Actor::System, &[]).await?;
    Ok(Effect::on(
        &order,
        if applied.is_some() {
            "refunded"
        } else {
            "ignored"
        },
    ))
}

/// Brings the locked `order` to Stripe's `refunded_total`. A full refund makes the order and its
/// payment REFUNDED, cancels its services whose work has not started and flags the others; a
/// partial one cancels the services staff chose (`cancel`, of this order); the client and the
/// staff are emailed. Returns `None` when there was nothing new.
pub async fn apply<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    refunded_total: i64,
    actor: &Actor,
    cancel: &[ServiceId],
) -> AppResult<Option<Applied>> {
    let refunded_total = refunded_total.min(order.total_minor);
    if refunded_total <= order.refunded_minor {
        return Ok(None);
    }
    let amount = refunded_total - order.refunded_minor;
    let full = refunded_total >= order.total_minor;
    let now = Utc::now();
    let mut update = order::Entity::update_many()
        .col_expr(order::Column::RefundedMinor, Expr::value(refunded_total))
        .col_expr(order::Column::UpdatedAt, Expr::value(now));
    if full
        && order.status.can_move_to(OrderStatus::Refunded)
        && order.payment_status.can_move_to(PaymentStatus::Refunded)
    {
        update = update
            .col_expr(order::Column::Status, Expr::value(OrderStatus::Refunded))
            .col_expr(
                order::Column::PaymentStatus,
                Expr::value(PaymentStatus::Refunded),
            );
    }
    update
        .filter(order::Column::Id.eq(order.id))
        .exec(conn)
        .await?;
    // An invoiced order's refund is a credit note, numbered in this transaction.
    if order.invoice_number.is_some() {
        let number = invoicing::take(conn, Series::CreditNote, now.year(), 1)
            .await?
            .remove(0);
        credit_note::Entity::insert(credit_note::ActiveModel {
            order_id: Set(order.id),
            number: Set(number),
            amount_minor: Set(amount),
            currency: Set(order.currency),
            created_at: Set(now),
            ..Default::default()
        })
        .exec_without_returning(conn)
        .await?;
    }
    // Staff's choice first; a full refund then settles the rest.
    let mut cancelled = cancel_chosen(conn, order, cancel, now).await?;
    let to_review = if full {
        let (more, to_review) = settle_services(conn, order, now).await?;
        cancelled.extend(more);
        to_review
    } else {
        Vec::new()
    };
    let applied = Applied {
        amount,
        full,
        cancelled,
        to_review,
    };
    record_refund(conn, order, &applied, refunded_total, actor).await?;
    queue_refund_emails(conn, order, &applied, refunded_total).await?;
    Ok(Some(applied))
}

/// The services of `order` among `ids` not cancelled yet, cancelled; returns their names.
pub async fn cancel_chosen<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    ids: &[ServiceId],
    now: DateTime<Utc>,
) -> AppResult<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let chosen = service::Entity::find()
        .filter(services_of(order.id))
        .filter(service::Column::Id.is_in(ids.iter().copied()))
        .filter(service::Column::Status.ne(ServiceStatus::Cancelled))
        .order_by_asc(service::Column::Id)
        .all(conn)
        .await?;
    service::Entity::update_many()
        .col_expr(
            service::Column::Status,
            Expr::value(ServiceStatus::Cancelled),
        )
        .col_expr(service::Column::UpdatedAt, Expr::value(now))
        // Cancelled as staff chose: nothing left to decide.
        .col_expr(
            service::Column::ReviewReason,
            Expr::value(Option::<String>::None),
        )
        .filter(service::Column::Id.is_in(chosen.iter().map(|s| s.id)))
        .exec(conn)
        .await?;
    Ok(chosen.into_iter().map(|s| s.name).collect())
}

/// After a full refund: cancels the order's services whose work has not started, and flags the
/// others for a manager. Returns the names of each.
async fn settle_services<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    now: DateTime<Utc>,
) -> AppResult<(Vec<String>, Vec<String>)> {
    let (mut cancelled, mut to_review) = (Vec::new(), Vec::new());
    let services = service::Entity::find()
        .filter(services_of(order.id))
        .filter(service::Column::Status.ne(ServiceStatus::Cancelled))
        .all(conn)
        .await?;
    let ids: Vec<ServiceId> = services.iter().map(|s| s.id).collect();
    let started: Vec<ServiceId> = task::Entity::find()
        .filter(task::Column::ServiceId.is_in(ids))
        .filter(task::Column::Status.ne(TaskStatus::ToDo))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| t.service_id)
        .collect();
    let reason = format!(
        "Order {} was refunded while this service's work had started: finish it or cancel it.",
        order.order_number
    );
    let (mut cancel_ids, mut review_ids) = (Vec::new(), Vec::new());
    for s in services {
        if s.status == ServiceStatus::ToDo && !started.contains(&s.id) {
            cancel_ids.push(s.id);
            cancelled.push(s.name);
        } else {
            review_ids.push(s.id);
            to_review.push(s.name);
        }
    }
    if !cancel_ids.is_empty() {
        service::Entity::update_many()
            .col_expr(
                service::Column::Status,
                Expr::value(ServiceStatus::Cancelled),
            )
            .col_expr(service::Column::UpdatedAt, Expr::value(now))
            .filter(service::Column::Id.is_in(cancel_ids))
            .exec(conn)
            .await?;
    }
    if !review_ids.is_empty() {
        service::Entity::update_many()
            .col_expr(service::Column::ReviewReason, Expr::value(reason))
            .col_expr(service::Column::UpdatedAt, Expr::value(now))
            .filter(service::Column::Id.is_in(review_ids))
            .exec(conn)
            .await?;
    }
    Ok((cancelled, to_review))
}

/// The refund in the order's activity and the store's metrics.
async fn record_refund<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    applied: &Applied,
    refunded_total: i64,
    actor: &Actor,
) -> AppResult<()> {
    activity::record(
        conn,
        actor,
        "order.refunded",
        Subject {
            entity_type: "order",
            entity_id: order.id.get(),
            client_id: Some(order.client_id),
        },
        json!({
            "order_number": order.order_number,
            "amount_minor": applied.amount,
            "refunded_minor": refunded_total,
            "full": applied.full,
            "cancelled": applied.cancelled,
            "to_review": applied.to_review,
        }),
    )
    .await?;
    Event::new(Kind::Refunded, Some(order.client_id), order.user_id)
        .amount(order.money(applied.amount))
        .details(
            json!({"order_id": order.id, "order_number": order.order_number, "full": applied.full}),
        )
        .record(conn)
        .await?;
    Ok(())
}

/// The client's refund notice, and each manager and admin about what it changed.
async fn queue_refund_emails<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    applied: &Applied,
    refunded_total: i64,
) -> AppResult<()> {
    let audience = super::audience(conn, order).await?;
    let money = order.money(applied.amount).display();
    let mut emails = Vec::new();
    if let Some((to, name)) = audience.client {
        emails.push(Outgoing {
            to,
            message: Message::RefundIssued(crate::notify::messages::RefundIssued {
                name,
                order_id: order.id,
                order_number: order.order_number.clone(),
                amount: money.clone(),
                full: applied.full,
                services_affected: applied.cancelled.clone(),
            }),
            dedupe_key: format!("refund:{}:{refunded_total}", order.id),
        });
    }
    for member in &audience.staff {
        emails.push(Outgoing {
            to: member.email.clone(),
            message: Message::OrderRefunded(crate::notify::messages::OrderRefunded {
                order_id: order.id,
                order_number: order.order_number.clone(),
                client_name: audience.client_name.clone(),
                amount: money.clone(),
                full: applied.full,
                cancelled: applied.cancelled.clone(),
                to_review: applied.to_review.clone(),
            }),
            dedupe_key: format!("order-refunded:{}:{refunded_total}:{}", order.id, member.id),
        });
    }
    notify::enqueue_many(conn, emails).await?;
    Ok(())
}
