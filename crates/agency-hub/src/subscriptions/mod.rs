//! Subscriptions: a recurring order item sold through Stripe Billing. Its row holds the Stripe
//! ids, the status and period Stripe last reported, and the one service it runs; each Stripe
//! invoice is a row, and a paid one is a period whose tasks are made once.
//!
//! Stripe's events arrive in any order and more than once: `invoice.paid` may come before the
//! session's `checkout.session.completed`. So every handler first makes sure the subscription's
//! row exists (from the metadata checkout put on the subscription and its invoices), then locks
//! it for the rest of its transaction, and a period's tasks are made by whichever transaction
//! completes the pair "paid invoice row" + "service": under the lock, for the paid invoices of
//! the subscription whose `tasks_made_at` is unset, setting it in the same transaction. The
//! invoice row is unique per Stripe invoice. Locks: always the order first, then its
//! subscription (fulfilment holds the order already; the other handlers take it in `ensure`).

pub mod actions;
pub mod listing;
mod moves;
mod renewals;

pub use moves::MoveToPrice;
pub use renewals::invoices_paid;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::activity::{self, Actor, Subject};
use crate::analytics::{self, Kind};
use crate::db::Db;
use crate::db::entities::notification::NoticeKind;
use crate::db::entities::service::{self, ServiceStatus};
use crate::db::entities::task::{self, TaskStatus};
use crate::db::entities::{
    order, order_item, service_template, subscription, subscription_invoice,
};
use crate::error::AppResult;
use crate::ids::{OrderId, OrderItemId, ServiceId, SubscriptionId};
use crate::jobs::{Enqueue, Job};
use crate::money::{Currency, Money};
use crate::notify::{
    self, Message, Outgoing, inapp, messages::SubscriptionEvent, messages::SubscriptionNotice,
};
use crate::orders::Effect;
use crate::provisioning;
use crate::stripe::StripeClient;
use crate::stripe::client::{Invoice, Subscription};

fn at(ts: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(ts, 0)
}

fn subject(sub: &subscription::Model) -> Subject<'static> {
    Subject {
        entity_type: "subscription",
        entity_id: sub.id.get(),
        client_id: Some(sub.client_id),
    }
}

fn effect(sub: Option<&subscription::Model>, outcome: &'static str) -> Effect {
    Effect {
        outcome,
        order_id: sub.map(|s| s.order_id),
    }
}

/// A dashboard event of the subscription.
fn tracked(kind: Kind, sub: &subscription::Model) -> analytics::Event {
    analytics::Event::new(kind, Some(sub.client_id), None)
        .template(sub.template_id)
        .details(json!({"subscription_id": sub.id}))
}

/// The dashboard's events of a paid period invoice: its recurring part, and a renewal's amount.
fn paid_events(sub: &subscription::Model, invoice: &Invoice) -> Vec<analytics::Event> {
    let currency = Currency::parse(&invoice.currency).unwrap_or_default();
    let mut events = Vec::new();
    if matches!(
        invoice.billing_reason.as_deref(),
        Some("subscription_create" | "subscription_cycle")
    ) {
        events.push(
            tracked(Kind::RecurringPaid, sub)
                .amount(Money::new(invoice.recurring_amount(), currency)),
        );
    }
    if invoice.billing_reason.as_deref() == Some("subscription_cycle") {
        events.push(
            tracked(Kind::RenewalPaid, sub).amount(Money::new(invoice.amount_paid, currency)),
        );
    }
    events
}

/// Reads the subscription's row holding its lock (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
/// write transactions are serial anyway).
async fn lock<C: ConnectionTrait>(
    conn: &C,
    stripe_id: &str,
) -> AppResult<Option<subscription::Model>> {
    Ok(subscription::Entity::find()
        .filter(subscription::Column::StripeSubscriptionId.eq(stripe_id))
        .lock_exclusive()
        .one(conn)
        .await?)
}

/// The locked row of Stripe subscription `stripe_id`, made first if missing from the recurring
/// order item its metadata names (`order_item_id`). `None`: not a subscription of ours.
///
/// Its order is locked first, on every path, as fulfilment (which holds the order) does: a
/// subscription locked before its order, or its row inserted (whose foreign key waits on the
/// order's lock) while fulfilment waits for that row, would deadlock on PostgreSQL.
async fn ensure<C: ConnectionTrait>(
    conn: &C,
    stripe_id: &str,
    metadata: &HashMap<String, String>,
    status: &str,
) -> AppResult<Option<subscription::Model>> {
    let known = subscription::Entity::find()
        .filter(subscription::Column::StripeSubscriptionId.eq(stripe_id))
        .one(conn)
        .await?;
    if let Some(known) = known {
        crate::orders::lock(conn, known.order_id).await?;
        return lock(conn, stripe_id).await;
    }
    let item_id: Option<OrderItemId> = metadata.get("order_item_id").and_then(|s| s.parse().ok());
    let Some(item) = item_id.map(|id| order_item::Entity::find_by_id(id).one(conn)) else {
        return Ok(None);
    };
    let Some(item) = item.await? else {
        return Ok(None);
    };
    let Some(order) = crate::orders::lock(conn, item.order_id).await? else {
        return Ok(None);
    };
    let Some(terms) = item.billing().recurring().copied() else {
        return Ok(None);
    };
    let now = Utc::now();
    subscription::Entity::insert(subscription::ActiveModel {
        client_id: Set(order.client_id),
        template_id: Set(item.template_id),
        order_id: Set(order.id),
        order_item_id: Set(item.id),
        service_id: Set(None),
        stripe_subscription_id: Set(stripe_id.to_string()),
        status: Set(status.to_string()),
        quantity: Set(item.quantity),
        unit_amount_minor: Set(item.unit_price_minor),
        currency: Set(order.currency.code().to_string()),
        interval: Set(terms.interval.as_str().to_string()),
        interval_count: Set(terms.count as i32),
        cancel_at_period_end: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(subscription::Column::StripeSubscriptionId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    lock(conn, stripe_id).await
}

/// A paid checkout's subscription, in fulfilment's transaction (the order locked): its row with
/// the service just made for the recurring item, and the tasks of the periods already paid.
pub async fn start<C: ConnectionTrait>(
    conn: &C,
    stripe_id: &str,
    customer: Option<&str>,
    item: &order_item::Model,
    service_id: Option<ServiceId>,
) -> AppResult<()> {
    let metadata = HashMap::from([("order_item_id".to_string(), item.id.to_string())]);
    let initial = if item.trial_days > 0 {
        "trialing"
    } else {
        "active"
    };
    let Some(sub) = ensure(conn, stripe_id, &metadata, initial).await? else {
        return Ok(());
    };
    let service_id = match service_id {
        Some(id) => Some(id),
        None => service_of_item(conn, item.id).await?,
    };
    let mut active: subscription::ActiveModel = sub.clone().into();
    if sub.service_id.is_none() {
        active.service_id = Set(service_id);
    }
    if sub.stripe_customer_id.is_none() {
        active.stripe_customer_id = Set(customer.map(str::to_string));
    }
    active.updated_at = Set(Utc::now());
    let sub = active.update(conn).await?;
    activity::record(
        conn,
        &Actor::System,
        "subscription.started",
        subject(&sub),
        json!({"stripe_subscription_id": sub.stripe_subscription_id, "service_id": sub.service_id}),
    )
    .await?;
    // A client coming back: one of its subscriptions had ended.
    let returning = subscription::Entity::find()
        .filter(subscription::Column::ClientId.eq(sub.client_id))
        .filter(subscription::Column::Id.ne(sub.id))
        .filter(subscription::Column::Status.eq("canceled"))
        .one(conn)
        .await?
        .is_some();
    let kind = if returning {
        Kind::SubscriptionReactivated
    } else {
        Kind::SubscriptionStarted
    };
    tracked(kind, &sub)
        .amount(each_period(&sub))
        .record(conn)
        .await?;
    notice(conn, &sub, SubscriptionEvent::Started, None).await?;
    make_due_periods(conn, &sub).await
}

/// After fulfilment made a missing service for a recurring item (run again by an admin), the
/// subscription runs it, with the periods paid meanwhile (the order is locked).
pub async fn relink<C: ConnectionTrait>(
    conn: &C,
    item: &order_item::Model,
    service_id: ServiceId,
) -> AppResult<()> {
    let Some(sub) = subscription::Entity::find()
        .filter(subscription::Column::OrderItemId.eq(item.id))
        .lock_exclusive()
        .one(conn)
        .await?
    else {
        return Ok(());
    };
    if sub.service_id.is_some() {
        return Ok(());
    }
    let mut active: subscription::ActiveModel = sub.into();
    active.service_id = Set(Some(service_id));
    active.updated_at = Set(Utc::now());
    let sub = active.update(conn).await?;
    make_due_periods(conn, &sub).await
}

async fn service_of_item<C: ConnectionTrait>(
    conn: &C,
    item: OrderItemId,
) -> AppResult<Option<ServiceId>> {
    Ok(service::Entity::find()
        .filter(service::Column::OrderItemId.eq(item))
        .order_by_asc(service::Column::Id)
        .one(conn)
        .await?
        .map(|s| s.id))
}

/// A paid period's tasks, numbered from `position` (moved past them), and its activity.
fn period(
    template: Option<&service_template::Model>,
    sub: &subscription::Model,
    service_id: ServiceId,
    invoice: &subscription_invoice::Model,
    position: &mut i32,
    now: DateTime<Utc>,
) -> (
    Vec<task::ActiveModel>,
    crate::db::entities::activity::ActiveModel,
) {
    let made = template.map_or_else(Vec::new, |t| {
        provisioning::period_task_rows(
            t,
            service_id,
            invoice.id,
            *position,
            invoice.period_start,
            now,
        )
    });
    *position += made.len() as i32;
    let done = activity::row(
        &Actor::System,
        "subscription.period_paid",
        subject(sub),
        json!({
            "invoice": invoice.stripe_invoice_id, "number": invoice.number,
            "period_start": invoice.period_start, "period_end": invoice.period_end,
            "tasks": made.len(), "service_id": service_id,
        }),
    );
    (made, done)
}

/// Makes the tasks of every paid period of the (locked) subscription that has none yet, once
/// its service exists.
async fn make_due_periods<C: ConnectionTrait>(
    conn: &C,
    sub: &subscription::Model,
) -> AppResult<()> {
    let Some(service_id) = sub.service_id else {
        return Ok(());
    };
    let due = subscription_invoice::Entity::find()
        .filter(subscription_invoice::Column::SubscriptionId.eq(sub.id))
        .filter(subscription_invoice::Column::PaidAt.is_not_null())
        .filter(subscription_invoice::Column::TasksMadeAt.is_null())
        .order_by_asc(subscription_invoice::Column::PeriodStart)
        .all(conn)
        .await?;
    if due.is_empty() {
        return Ok(());
    }
    let Some(template) = service_template::Entity::find_by_id(sub.template_id)
        .one(conn)
        .await?
    else {
        return Ok(());
    };
    let last: Option<i32> = task::Entity::find()
        .select_only()
        .column_as(task::Column::Position.max(), "max")
        .filter(task::Column::ServiceId.eq(service_id))
        .into_tuple::<Option<i32>>()
        .one(conn)
        .await?
        .flatten();
    let mut position = last.map_or(0, |p| p + 1);
    let now = Utc::now();
    let mut rows = Vec::new();
    let mut activity = Vec::with_capacity(due.len());
    for invoice in &due {
        let (made, done) = period(
            Some(&template),
            sub,
            service_id,
            invoice,
            &mut position,
            now,
        );
        activity.push(done);
        rows.extend(made);
    }
    for chunk in rows.chunks(crate::db::ROWS_PER_INSERT) {
        task::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(conn)
            .await?;
    }
    subscription_invoice::Entity::update_many()
        .col_expr(subscription_invoice::Column::TasksMadeAt, Expr::value(now))
        .filter(subscription_invoice::Column::Id.is_in(due.iter().map(|i| i.id)))
        .filter(subscription_invoice::Column::TasksMadeAt.is_null())
        .exec(conn)
        .await?;
    activity::record_many(conn, activity).await?;
    Ok(())
}

/// The invoice's row as Stripe describes it now (`paid_at` set by the caller).
fn invoice_row(
    sub: &subscription::Model,
    invoice: &Invoice,
    status: &str,
) -> subscription_invoice::ActiveModel {
    let now = Utc::now();
    let created = at(invoice.created).unwrap_or(now);
    let (start, end) = invoice
        .period_line()
        .map(|l| (at(l.period.start), at(l.period.end)))
        .unwrap_or((None, None));
    subscription_invoice::ActiveModel {
        subscription_id: Set(sub.id),
        stripe_invoice_id: Set(invoice.id.clone()),
        number: Set(invoice.number.clone()),
        billing_reason: Set(invoice.billing_reason.clone()),
        status: Set(status.to_string()),
        currency: Set(invoice.currency.to_ascii_uppercase()),
        amount_due: Set(invoice.amount_due),
        amount_paid: Set(invoice.amount_paid),
        period_start: Set(start.unwrap_or(created)),
        period_end: Set(end.unwrap_or(created)),
        hosted_invoice_url: Set(invoice.hosted_invoice_url.clone()),
        invoice_pdf: Set(invoice.invoice_pdf.clone()),
        stripe_payment_intent_id: Set(invoice.payment_intent.clone()),
        stripe_charge_id: Set(invoice.charge.clone()),
        attempt_count: Set(invoice.attempt_count as i32),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// The locked subscription of an invoice event, or the effect of an invoice that is not ours.
async fn subscription_of<C: ConnectionTrait>(
    conn: &C,
    invoice: &Invoice,
) -> AppResult<Result<subscription::Model, Effect>> {
    let Some(stripe_id) = &invoice.subscription else {
        return Ok(Err(effect(None, "ignored")));
    };
    let metadata = invoice
        .subscription_details
        .clone()
        .unwrap_or_default()
        .metadata;
    Ok(ensure(conn, stripe_id, &metadata, "active")
        .await?
        .ok_or_else(|| effect(None, "unknown_subscription")))
}

/// `invoice.paid`: one period, once per invoice whatever is delivered: the invoice's row
/// recorded paid, the subscription active again if it was overdue, and the period's tasks made
/// (now, or when the service is made).
pub async fn invoice_paid<C: ConnectionTrait>(conn: &C, invoice: &Invoice) -> AppResult<Effect> {
    let sub = match subscription_of(conn, invoice).await? {
        Ok(sub) => sub,
        Err(effect) => return Ok(effect),
    };
    let now = Utc::now();
    let existing = subscription_invoice::Entity::find()
        .filter(subscription_invoice::Column::StripeInvoiceId.eq(&invoice.id))
        .one(conn)
        .await?;
    let mut row = invoice_row(&sub, invoice, "paid");
    row.paid_at = Set(Some(now));
    let reason = invoice.billing_reason.as_deref();
    if !matches!(reason, Some("subscription_create" | "subscription_cycle")) {
        // An invoice for a change within a period (proration) or a manual one: recorded, but
        // it is not a new period.
        row.tasks_made_at = Set(Some(now));
    }
    if reason == Some("subscription_create")
        && let Some(pi) = &invoice.payment_intent
    {
        // A subscription-mode session has no payment intent: the first invoice's is the
        // order's, for refunds (the order is locked, by `ensure`).
        order::Entity::update_many()
            .col_expr(
                order::Column::StripePaymentIntentId,
                Expr::value(pi.clone()),
            )
            .filter(order::Column::Id.eq(sub.order_id))
            .filter(order::Column::StripePaymentIntentId.is_null())
            .exec(conn)
            .await?;
    }
    match existing {
        Some(old) if old.paid_at.is_some() => return Ok(effect(Some(&sub), "already_paid")),
        Some(old) => {
            row.id = Set(old.id);
            row.created_at = Set(old.created_at);
            row.update(conn).await?;
        }
        None => {
            row.insert(conn).await?;
        }
    }
    analytics::Event::record_many(conn, paid_events(&sub, invoice)).await?;
    let mut active: subscription::ActiveModel = sub.clone().into();
    if sub.revived_by_payment() {
        active.status = Set("active".into());
    }
    if let Some(line) = invoice.period_line() {
        let end = at(line.period.end);
        if sub.current_period_end.is_none() || end > sub.current_period_end {
            active.current_period_start = Set(at(line.period.start));
            active.current_period_end = Set(end);
        }
    }
    active.updated_at = Set(now);
    let sub = active.update(conn).await?;
    make_due_periods(conn, &sub).await?;
    if invoice.billing_reason.as_deref() == Some("subscription_cycle") {
        notice(conn, &sub, SubscriptionEvent::Renewed, Some(invoice)).await?;
    }
    Ok(effect(Some(&sub), "period_paid"))
}

/// `invoice.payment_failed`: the invoice's row open with Stripe's page to pay it, and the
/// subscription past due (no period's tasks until it is paid).
pub async fn invoice_payment_failed<C: ConnectionTrait>(
    conn: &C,
    invoice: &Invoice,
) -> AppResult<Effect> {
    let sub = match subscription_of(conn, invoice).await? {
        Ok(sub) => sub,
        Err(effect) => return Ok(effect),
    };
    let existing = subscription_invoice::Entity::find()
        .filter(subscription_invoice::Column::StripeInvoiceId.eq(&invoice.id))
        .one(conn)
        .await?;
    let row = invoice_row(&sub, invoice, "open");
    match existing {
        // Paid meanwhile (the events crossed): the failure is history.
        Some(old) if old.paid_at.is_some() => return Ok(effect(Some(&sub), "already_paid")),
        Some(old) => {
            let mut row = row;
            row.id = Set(old.id);
            row.created_at = Set(old.created_at);
            row.update(conn).await?;
        }
        None => {
            row.insert(conn).await?;
        }
    }
    if sub.ended() {
        return Ok(effect(Some(&sub), "ended"));
    }
    if matches!(sub.status.as_str(), "active" | "trialing") {
        let mut active: subscription::ActiveModel = sub.clone().into();
        active.status = Set("past_due".into());
        active.updated_at = Set(Utc::now());
        active.update(conn).await?;
        activity::record(
            conn,
            &Actor::System,
            "subscription.payment_failed",
            subject(&sub),
            json!({"invoice": invoice.id, "hosted_invoice_url": invoice.hosted_invoice_url}),
        )
        .await?;
    }
    notice(conn, &sub, SubscriptionEvent::PaymentFailed, Some(invoice)).await?;
    Ok(effect(Some(&sub), "past_due"))
}

/// `charge.refunded` of a renewal invoice's charge (the first invoice's is the order's, refunded
/// by the order's rules): the refunds of that period, which only grow. Refunded in full, the
/// period's tasks not started are removed, and if some had started the service is flagged for
/// a manager to decide.
pub async fn charge_refunded<C: ConnectionTrait>(
    conn: &C,
    charge: &crate::stripe::client::Charge,
) -> AppResult<Effect> {
    let Some(found) = subscription_invoice::Entity::find()
        .filter(subscription_invoice::Column::StripeChargeId.eq(charge.id.as_str()))
        .one(conn)
        .await?
    else {
        return Ok(effect(None, "unknown_order"));
    };
    let Some(sub) = subscription::Entity::find_by_id(found.subscription_id)
        .one(conn)
        .await?
    else {
        return Ok(effect(None, "unknown_subscription"));
    };
    crate::orders::lock(conn, sub.order_id).await?;
    let Some(sub) = lock(conn, &sub.stripe_subscription_id).await? else {
        return Ok(effect(None, "unknown_subscription"));
    };
    let Some(row) = subscription_invoice::Entity::find_by_id(found.id)
        .one(conn)
        .await?
    else {
        return Ok(effect(Some(&sub), "ignored"));
    };
    let total = charge.amount_refunded.min(row.amount_paid);
    if total <= row.refunded_minor {
        return Ok(effect(Some(&sub), "ignored"));
    }
    let now = Utc::now();
    subscription_invoice::Entity::update_many()
        .col_expr(
            subscription_invoice::Column::RefundedMinor,
            Expr::value(total),
        )
        .col_expr(subscription_invoice::Column::UpdatedAt, Expr::value(now))
        .filter(subscription_invoice::Column::Id.eq(row.id))
        .exec(conn)
        .await?;
    let full = total >= row.amount_paid;
    let (mut removed, mut started) = (Vec::new(), Vec::new());
    if full {
        let tasks = task::Entity::find()
            .filter(task::Column::SubscriptionInvoiceId.eq(row.id))
            .all(conn)
            .await?;
        for t in tasks {
            if t.status == TaskStatus::ToDo {
                removed.push(t.name);
            } else {
                started.push(t.name);
            }
        }
        task::Entity::delete_many()
            .filter(task::Column::SubscriptionInvoiceId.eq(row.id))
            .filter(task::Column::Status.eq(TaskStatus::ToDo))
            .exec(conn)
            .await?;
        if let (Some(service_id), false) = (sub.service_id, started.is_empty()) {
            let reason = format!(
                "The period of invoice {} was refunded while its work had started: finish it or \
                 undo it.",
                row.number.as_deref().unwrap_or(&row.stripe_invoice_id)
            );
            service::Entity::update_many()
                .col_expr(service::Column::ReviewReason, Expr::value(reason))
                .col_expr(service::Column::UpdatedAt, Expr::value(now))
                .filter(service::Column::Id.eq(service_id))
                .exec(conn)
                .await?;
        }
    }
    let currency = Currency::parse(&row.currency).unwrap_or_default();
    let amount = Money::new(total - row.refunded_minor, currency);
    activity::record(
        conn,
        &Actor::System,
        "subscription.period_refunded",
        subject(&sub),
        json!({
            "invoice": row.stripe_invoice_id, "number": row.number, "amount_minor": amount.minor,
            "refunded_minor": total, "full": full, "removed": removed, "to_review": started,
        }),
    )
    .await?;
    tracked(Kind::Refunded, &sub)
        .amount(amount)
        .record(conn)
        .await?;
    Ok(effect(Some(&sub), "refunded"))
}

/// `customer.subscription.created/updated/deleted`: the subscription's state as Stripe reports
/// it, unless a newer event already said more (`created` older than the last applied). The end
/// of a subscription ends its service: done if work started, cancelled if not.
pub async fn apply_snapshot<C: ConnectionTrait>(
    conn: &C,
    snapshot: &Subscription,
    event_created: i64,
) -> AppResult<Effect> {
    let Some(sub) = ensure(conn, &snapshot.id, &snapshot.metadata, &snapshot.status).await? else {
        return Ok(effect(None, "unknown_subscription"));
    };
    // Older than the last applied, or of the same second but stepping back (Checkout's
    // `incomplete` then `active` share a second), or after the end (which is final): stale.
    // So is a snapshot of a period that started before the one kept, whatever its second:
    // periods only move on (a change of interval starts a new one now), and a renewal's invoice
    // may have moved ours on already (several events share a second, and batches on two
    // instances handle them in any order).
    let older_period = snapshot
        .current_period_start
        .and_then(at)
        .zip(sub.current_period_start)
        .is_some_and(|(theirs, ours)| theirs < ours);
    let stale = older_period
        || match sub.last_event_at {
            Some(last) if event_created < last => true,
            Some(last) if event_created == last => snapshot.status == "incomplete",
            _ => false,
        }
        || (sub.ended() && snapshot.status != "canceled");
    if stale {
        return Ok(effect(Some(&sub), "stale"));
    }
    let was_ended = sub.ended();
    let updated = apply(conn, sub, snapshot, Some(event_created)).await?;
    if updated.ended() && !was_ended {
        return Ok(effect(Some(&updated), "subscription_ended"));
    }
    Ok(effect(Some(&updated), "subscription_updated"))
}

/// Writes Stripe's view of the (locked) subscription `current`: from an event (`event_created`,
/// remembered so that older events change nothing) or from Stripe's answer to our own change.
/// What it starts: the card's details fetched when the card changed, the service ended with
/// the subscription, the client told of a scheduled cancellation and of the end.
pub(crate) async fn apply<C: ConnectionTrait>(
    conn: &C,
    current: subscription::Model,
    snapshot: &Subscription,
    event_created: Option<i64>,
) -> AppResult<subscription::Model> {
    let item = snapshot.items.data.first();
    let mut active: subscription::ActiveModel = current.clone().into();
    active.status = Set(snapshot.status.clone());
    if let Some(item) = item {
        active.stripe_item_id = Set(Some(item.id.clone()));
        if let Some(q) = item.quantity {
            active.quantity = Set(q as i32);
        }
        if let Some(unit) = item.price.unit_amount {
            active.unit_amount_minor = Set(unit);
        }
    }
    active.stripe_customer_id = Set(snapshot
        .customer
        .clone()
        .or(current.stripe_customer_id.clone()));
    active.current_period_start = Set(snapshot.current_period_start.and_then(at));
    active.current_period_end = Set(snapshot.current_period_end.and_then(at));
    active.trial_end = Set(snapshot.trial_end.and_then(at));
    active.cancel_at_period_end = Set(snapshot.cancel_at_period_end);
    active.canceled_at = Set(snapshot.canceled_at.and_then(at));
    active.ended_at = Set(snapshot.ended_at.and_then(at));
    active.pause_behavior = Set(snapshot
        .pause_collection
        .as_ref()
        .map(|p| p.behavior.clone()));
    if let Some(pm) = &snapshot.default_payment_method
        && current.default_payment_method.as_ref() != Some(pm)
    {
        active.default_payment_method = Set(Some(pm.clone()));
        Enqueue::job(&RefreshCard {
            subscription_id: current.id,
            payment_method: pm.clone(),
        })
        .insert(conn)
        .await?;
    }
    if let Some(created) = event_created {
        active.last_event_at = Set(Some(created));
    }
    active.updated_at = Set(Utc::now());
    let updated = active.update(conn).await?;
    if updated.ended() && !current.ended() {
        end_service(conn, &updated).await?;
        tracked(Kind::SubscriptionEnded, &updated)
            .amount(each_period(&updated))
            .record(conn)
            .await?;
        notice(conn, &updated, SubscriptionEvent::Ended, None).await?;
    } else if updated.cancel_at_period_end && !current.cancel_at_period_end {
        notice(
            conn,
            &updated,
            SubscriptionEvent::CancellationScheduled,
            None,
        )
        .await?;
    }
    Ok(updated)
}

/// The subscription is over: its service is done if any work started, else cancelled.
async fn end_service<C: ConnectionTrait>(conn: &C, sub: &subscription::Model) -> AppResult<()> {
    let Some(service_id) = sub.service_id else {
        return Ok(());
    };
    let Some(service) = service::Entity::find_by_id(service_id).one(conn).await? else {
        return Ok(());
    };
    if matches!(
        service.status,
        ServiceStatus::Done | ServiceStatus::Cancelled
    ) {
        return Ok(());
    }
    let started = service.status == ServiceStatus::InProgress
        || crate::services::work_started(conn, service_id).await?;
    let status = if started {
        ServiceStatus::Done
    } else {
        ServiceStatus::Cancelled
    };
    service::Entity::update_many()
        .col_expr(service::Column::Status, Expr::value(status))
        .col_expr(service::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(service::Column::Id.eq(service_id))
        .exec(conn)
        .await?;
    activity::record(
        conn,
        &Actor::System,
        "subscription.ended",
        subject(sub),
        json!({"service_id": service_id, "service_status": status.as_str()}),
    )
    .await?;
    Ok(())
}

/// The subscriptions of these orders (for an order's page and fulfilment's checks).
pub async fn of_orders<C: ConnectionTrait>(
    conn: &C,
    orders: impl IntoIterator<Item = OrderId>,
) -> AppResult<Vec<subscription::Model>> {
    Ok(subscription::Entity::find()
        .filter(subscription::Column::OrderId.is_in(orders))
        .all(conn)
        .await?)
}

/// The service's name as the store sells it (the template's title).
pub async fn name_of<C: ConnectionTrait>(conn: &C, sub: &subscription::Model) -> AppResult<String> {
    Ok(service_template::Entity::find_by_id(sub.template_id)
        .one(conn)
        .await?
        .map_or_else(
            || "Your subscription".to_string(),
            |t| t.title().to_string(),
        ))
}

/// What the subscription costs each period now (its seats at their price).
pub fn each_period(sub: &subscription::Model) -> Money {
    Money::new(
        sub.unit_amount_minor
            .saturating_mul(i64::from(sub.quantity)),
        Currency::parse(&sub.currency).unwrap_or_default(),
    )
}

/// A period's price as a month's (MRR): a year's over 12, a week's × 52/12, a day's × 365/12,
/// each over the interval's count, rounded half up.
pub fn monthly_minor(amount: i64, interval: &str, count: i32) -> i64 {
    let (times, per) = match interval {
        "year" => (1, 12),
        "week" => (52, 12),
        "day" => (365, 12),
        _ => (1, 1),
    };
    let over = i128::from(per) * i128::from(count.max(1));
    let scaled = i128::from(amount) * times;
    let rounded = (2 * scaled + over).div_euclid(2 * over);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// "$298.00 every month", "… every 3 months" (the period worded as the store words it).
pub fn terms(sub: &subscription::Model) -> String {
    let billing =
        crate::catalog::Billing::from_columns(Some(&sub.interval), sub.interval_count, 0, 0);
    let period = billing
        .recurring()
        .map_or_else(|| sub.interval.clone(), |r| r.period());
    format!("{} every {period}", each_period(sub).display())
}

/// The status as people read it.
pub fn status_label(sub: &subscription::Model) -> String {
    match sub.status.as_str() {
        "trialing" => "Free trial".into(),
        "active" if sub.cancel_at_period_end => "Ending".into(),
        "active" => "Active".into(),
        "past_due" => "Payment overdue".into(),
        "unpaid" => "Unpaid".into(),
        "canceled" => "Ended".into(),
        "paused" => "Paused".into(),
        other => other.replace('_', " "),
    }
}

/// The page to pay each subscription's open invoice (its latest), for those that have one.
pub async fn open_invoice_urls<C: ConnectionTrait>(
    conn: &C,
    ids: impl IntoIterator<Item = SubscriptionId>,
) -> AppResult<HashMap<SubscriptionId, String>> {
    let open = subscription_invoice::Entity::find()
        .filter(subscription_invoice::Column::SubscriptionId.is_in(ids))
        .filter(subscription_invoice::Column::Status.eq("open"))
        .order_by_asc(subscription_invoice::Column::PeriodStart)
        .all(conn)
        .await?;
    Ok(open
        .into_iter()
        .filter_map(|i| Some((i.subscription_id, i.hosted_invoice_url?)))
        .collect())
}

/// A day as pages and emails write it: "March 3, 2027".
pub fn day(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(|t| t.format("%B %-d, %Y").to_string())
}

/// Tells the client what happened to the subscription (the order's buyer, else the company's
/// billing contact), once per event: the key names the subscription and what happened.
async fn notice<C: ConnectionTrait>(
    conn: &C,
    sub: &subscription::Model,
    event: SubscriptionEvent,
    invoice: Option<&Invoice>,
) -> AppResult<()> {
    let Some(order) = order::Entity::find_by_id(sub.order_id).one(conn).await? else {
        return Ok(());
    };
    let to = crate::orders::audience(conn, &order).await?.client;
    let name = name_of(conn, sub).await?;
    let Some(mail) = notice_to(to, sub, &name, event, invoice) else {
        return Ok(());
    };
    let title = match &mail.message {
        Message::Subscription(n) => n.headline(),
        _ => String::new(),
    };
    // The email's key makes the event told once: the app tells it when the email is new.
    if notify::enqueue_many(conn, vec![mail]).await? == 1 {
        let mut people = inapp::client_people(conn, sub.client_id).await?;
        if let Some(service_id) = sub.service_id {
            people.extend(inapp::service_staff(conn, service_id).await?);
        }
        let notice = inapp::Notice {
            kind: NoticeKind::Subscription,
            service_id: sub.service_id,
            message_id: None,
            title,
            body: terms(sub),
            client_link: "/store/subscriptions".into(),
            staff_link: format!("/admin/subscriptions/{}", sub.id),
        };
        inapp::send(conn, &notice, &people).await?;
    }
    Ok(())
}

/// The email of [`notice`] to `to` (email, name), if it has someone to go to.
fn notice_to(
    to: Option<(String, String)>,
    sub: &subscription::Model,
    service_name: &str,
    event: SubscriptionEvent,
    invoice: Option<&Invoice>,
) -> Option<Outgoing> {
    let (to, name) = to?;
    let currency = Currency::parse(&sub.currency).unwrap_or_default();
    let (amount, date, url, key) = match event {
        SubscriptionEvent::Started => (
            None,
            day(sub.current_period_end),
            None,
            format!("sub-started:{}", sub.id),
        ),
        SubscriptionEvent::Renewed | SubscriptionEvent::PaymentFailed => {
            let invoice = invoice?;
            let (minor, what) = if event == SubscriptionEvent::Renewed {
                (invoice.amount_paid, "renewed")
            } else {
                (invoice.amount_due, "failed")
            };
            let end = invoice.period_line().and_then(|l| at(l.period.end));
            (
                Some(Money::new(minor, currency).display()),
                day(end),
                invoice.hosted_invoice_url.clone(),
                format!("sub-{what}:{}:{}", invoice.id, invoice.attempt_count),
            )
        }
        SubscriptionEvent::CancellationScheduled => (
            None,
            day(sub.current_period_end),
            None,
            // Per request (Stripe stamps `canceled_at` when it is asked), so cancelling again
            // after a resume tells again.
            format!(
                "sub-cancel:{}:{}",
                sub.id,
                sub.canceled_at.map_or(0, |t| t.timestamp())
            ),
        ),
        SubscriptionEvent::Ended => (
            None,
            day(sub.ended_at),
            None,
            format!("sub-ended:{}", sub.id),
        ),
    };
    Some(Outgoing {
        to,
        message: Message::Subscription(SubscriptionNotice {
            event,
            name,
            service_name: service_name.to_string(),
            terms: terms(sub),
            amount,
            date,
            invoice_url: url,
        }),
        dedupe_key: key,
    })
}

/// Fetches the brand and last four digits of a subscription's new card (a Stripe call, so not
/// in the webhook's transaction).
#[derive(Debug, Serialize, Deserialize)]
pub struct RefreshCard {
    pub subscription_id: SubscriptionId,
    pub payment_method: String,
}

impl Job for RefreshCard {
    const KIND: &'static str = "subscriptions.refresh_card";
    type Env = (Db, StripeClient);

    async fn run(self, (db, stripe): &(Db, StripeClient), _attempt: i32) -> anyhow::Result<()> {
        let pm = stripe.retrieve_payment_method(&self.payment_method).await?;
        let Some(card) = pm.card else {
            return Ok(());
        };
        subscription::Entity::update_many()
            .col_expr(subscription::Column::CardBrand, Expr::value(card.brand))
            .col_expr(subscription::Column::CardLast4, Expr::value(card.last4))
            .filter(subscription::Column::Id.eq(self.subscription_id))
            .filter(subscription::Column::DefaultPaymentMethod.eq(&self.payment_method))
            .exec(db)
            .await?;
        Ok(())
    }
}

/// The subscription's invoices, newest period first.
pub async fn invoices_of<C: ConnectionTrait>(
    conn: &C,
    id: SubscriptionId,
) -> AppResult<Vec<subscription_invoice::Model>> {
    Ok(subscription_invoice::Entity::find()
        .filter(subscription_invoice::Column::SubscriptionId.eq(id))
        .order_by_desc(subscription_invoice::Column::PeriodStart)
        .order_by_desc(subscription_invoice::Column::Id)
        .all(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::monthly_minor;

    #[test]
    fn a_periods_price_as_a_months() {
        assert_eq!(monthly_minor(14_900, "month", 1), 14_900);
        // $300 a quarter is $100 a month; $1,200 a year too.
        assert_eq!(monthly_minor(30_000, "month", 3), 10_000);
        assert_eq!(monthly_minor(120_000, "year", 1), 10_000);
        // $10 a week: 520/12 = 43.333… → $43.33; $1 a day: 365/12 = 30.4166… → $30.42.
        assert_eq!(monthly_minor(1_000, "week", 1), 4_333);
        assert_eq!(monthly_minor(100, "day", 1), 3_042);
        // Half a cent rounds up: $0.01 every 2 months is half a cent a month.
        assert_eq!(monthly_minor(1, "month", 2), 1);
        assert_eq!(monthly_minor(0, "week", 2), 0);
    }
}
