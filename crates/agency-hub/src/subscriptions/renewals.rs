//! `invoice.paid` for many invoices in one transaction (the webhook's batches): the renewals of
//! subscriptions we run (known, with their service: nearly every `invoice.paid`) in a fixed
//! number of statements whatever their number; any other (a first invoice, one we have a row
//! for already, one of an unknown subscription) through [`invoice_paid`], one at a time.
//!
//! The rules are [`invoice_paid`]'s: under the locks of the orders then the subscriptions, each
//! invoice's row is written paid once (its id unique), the overdue subscription active again,
//! its period moved on, the period's tasks made and `tasks_made_at` set, the receipt queued.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::sea_query::{CaseStatement, Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{at, effect, invoice_paid, invoice_row, notice_to, paid_events, period};
use crate::activity;
use crate::analytics;
use crate::db::entities::{order, service_template, subscription, subscription_invoice, task};
use crate::error::AppResult;
use crate::ids::{ServiceId, SubscriptionId};
use crate::notify::{self, messages::SubscriptionEvent};
use crate::orders::Effect;
use crate::stripe::client::Invoice;

/// Handles the paid invoices, returning each one's effect in their order.
pub async fn invoices_paid<C: ConnectionTrait>(
    conn: &C,
    invoices: &[Invoice],
) -> AppResult<Vec<Effect>> {
    let mut effects: Vec<Option<Effect>> = vec![None; invoices.len()];
    let renewals: Vec<usize> = (0..invoices.len())
        .filter(|&i| invoices[i].billing_reason.as_deref() == Some("subscription_cycle"))
        .collect();
    let stripe_ids: HashSet<&str> = renewals
        .iter()
        .filter_map(|&i| invoices[i].subscription.as_deref())
        .collect();
    if !stripe_ids.is_empty() {
        // The locks in one order on every path: the orders, then the subscriptions (id order).
        let orders = order::Entity::find()
            .filter(
                order::Column::Id.in_subquery(
                    Query::select()
                        .column(subscription::Column::OrderId)
                        .from(subscription::Entity)
                        .and_where(
                            subscription::Column::StripeSubscriptionId
                                .is_in(stripe_ids.iter().copied()),
                        )
                        .to_owned(),
                ),
            )
            .order_by_asc(order::Column::Id)
            .lock_exclusive()
            .all(conn)
            .await?;
        let subs: HashMap<String, subscription::Model> = subscription::Entity::find()
            .filter(subscription::Column::StripeSubscriptionId.is_in(stripe_ids))
            .filter(subscription::Column::ServiceId.is_not_null())
            .order_by_asc(subscription::Column::Id)
            .lock_exclusive()
            .all(conn)
            .await?
            .into_iter()
            .map(|s| (s.stripe_subscription_id.clone(), s))
            .collect();
        // Each invoice once (a second event id for it is left to `invoice_paid`: paid already).
        let mut seen = HashSet::new();
        let fast: Vec<usize> = renewals
            .iter()
            .copied()
            .filter(|&i| {
                invoices[i]
                    .subscription
                    .as_deref()
                    .is_some_and(|id| subs.contains_key(id))
                    && seen.insert(invoices[i].id.as_str())
            })
            .collect();
        if !fast.is_empty() {
            renew(conn, invoices, &fast, &subs, &orders, &mut effects).await?;
        }
    }
    let mut done = Vec::with_capacity(invoices.len());
    for (i, effect) in effects.into_iter().enumerate() {
        done.push(match effect {
            Some(effect) => effect,
            None => invoice_paid(conn, &invoices[i]).await?,
        });
    }
    Ok(done)
}

/// The renewals `fast` (each invoice once) of the locked subscriptions `subs`: those without a
/// row yet get it, paid, with their period's tasks; the others (paid already, or open after a
/// failed payment) are left to [`invoice_paid`].
async fn renew<C: ConnectionTrait>(
    conn: &C,
    invoices: &[Invoice],
    fast: &[usize],
    subs: &HashMap<String, subscription::Model>,
    orders: &[order::Model],
    effects: &mut [Option<Effect>],
) -> AppResult<()> {
    let sub_of = |i: usize| &subs[invoices[i].subscription.as_deref().unwrap_or_default()];
    let now = Utc::now();
    let written: Vec<subscription_invoice::ActiveModel> = fast
        .iter()
        .map(|&i| {
            let mut row = invoice_row(sub_of(i), &invoices[i], "paid");
            row.paid_at = Set(Some(now));
            row.tasks_made_at = Set(Some(now));
            row
        })
        .collect();
    let inserted = subscription_invoice::Entity::insert_many(written)
        .on_conflict(
            OnConflict::column(subscription_invoice::Column::StripeInvoiceId)
                .do_nothing()
                .to_owned(),
        )
        .exec_with_returning(conn)
        .await;
    let rows: HashMap<String, subscription_invoice::Model> = match inserted {
        Ok(rows) => rows,
        Err(DbErr::RecordNotInserted) => Vec::new(),
        Err(e) => return Err(e.into()),
    }
    .into_iter()
    .map(|r| (r.stripe_invoice_id.clone(), r))
    .collect();
    let new: Vec<usize> = fast
        .iter()
        .copied()
        .filter(|&i| rows.contains_key(&invoices[i].id))
        .collect();
    if new.is_empty() {
        return Ok(());
    }

    // The subscriptions: active again if overdue, on their latest period.
    let mut moved: HashMap<SubscriptionId, (&subscription::Model, i64, i64)> = HashMap::new();
    for &i in &new {
        let sub = sub_of(i);
        if let Some(line) = invoices[i].period_line() {
            let entry = moved
                .entry(sub.id)
                .or_insert((sub, line.period.start, line.period.end));
            if line.period.end > entry.2 {
                (entry.1, entry.2) = (line.period.start, line.period.end);
            }
        }
    }
    let moved: Vec<_> = moved
        .into_values()
        .filter(|(sub, _, end)| sub.current_period_end.is_none_or(|e| at(*end) > Some(e)))
        .collect();
    if !moved.is_empty() {
        let (mut start, mut end) = (CaseStatement::new(), CaseStatement::new());
        for (sub, s, e) in &moved {
            start = start.case(subscription::Column::Id.eq(sub.id), Expr::value(at(*s)));
            end = end.case(subscription::Column::Id.eq(sub.id), Expr::value(at(*e)));
        }
        subscription::Entity::update_many()
            .col_expr(subscription::Column::CurrentPeriodStart, start.into())
            .col_expr(subscription::Column::CurrentPeriodEnd, end.into())
            .col_expr(subscription::Column::UpdatedAt, Expr::value(now))
            .filter(subscription::Column::Id.is_in(moved.iter().map(|(s, ..)| s.id)))
            .exec(conn)
            .await?;
    }
    let overdue: Vec<SubscriptionId> = new
        .iter()
        .map(|&i| sub_of(i))
        .filter(|s| s.revived_by_payment())
        .map(|s| s.id)
        .collect();
    if !overdue.is_empty() {
        subscription::Entity::update_many()
            .col_expr(subscription::Column::Status, Expr::value("active"))
            .col_expr(subscription::Column::UpdatedAt, Expr::value(now))
            .filter(subscription::Column::Id.is_in(overdue))
            .exec(conn)
            .await?;
    }

    // The periods' tasks, after each service's last.
    let templates: HashMap<_, service_template::Model> = service_template::Entity::find()
        .filter(service_template::Column::Id.is_in(new.iter().map(|&i| sub_of(i).template_id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let services: HashSet<ServiceId> = new.iter().filter_map(|&i| sub_of(i).service_id).collect();
    let mut positions: HashMap<ServiceId, i32> = task::Entity::find()
        .select_only()
        .column(task::Column::ServiceId)
        .column_as(task::Column::Position.max(), "max")
        .filter(task::Column::ServiceId.is_in(services))
        .group_by(task::Column::ServiceId)
        .into_tuple::<(ServiceId, Option<i32>)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(s, max)| (s, max.map_or(0, |p| p + 1)))
        .collect();
    let mut tasks = Vec::new();
    let mut activity = Vec::with_capacity(new.len());
    let mut tracked = Vec::with_capacity(new.len() * 2);
    // Sorted by period, so that two periods of one service in a batch come in their order.
    let mut by_period = new.clone();
    by_period.sort_by_key(|&i| rows.get(&invoices[i].id).map(|r| r.period_start));
    for &i in &by_period {
        let (sub, invoice) = (sub_of(i), &invoices[i]);
        let (Some(service_id), Some(row)) = (sub.service_id, rows.get(&invoice.id)) else {
            continue;
        };
        let position = positions.entry(service_id).or_insert(0);
        let template = templates.get(&sub.template_id);
        let (made, done) = period(template, sub, service_id, row, position, now);
        activity.push(done);
        tasks.extend(made);
        tracked.extend(paid_events(sub, invoice));
    }
    for chunk in tasks.chunks(crate::db::ROWS_PER_INSERT) {
        task::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(conn)
            .await?;
    }
    activity::record_many(conn, activity).await?;
    analytics::Event::record_many(conn, tracked).await?;

    // The receipts.
    let audiences = crate::orders::audiences(conn, orders).await?;
    let mails = new
        .iter()
        .filter_map(|&i| {
            let sub = sub_of(i);
            let name = templates
                .get(&sub.template_id)
                .map_or("Your subscription", |t| t.title());
            let to = audiences.get(&sub.order_id)?.client.clone();
            notice_to(
                to,
                sub,
                name,
                SubscriptionEvent::Renewed,
                Some(&invoices[i]),
            )
        })
        .collect();
    notify::enqueue_many(conn, mails).await?;
    for &i in &new {
        effects[i] = Some(effect(Some(sub_of(i)), "period_paid"));
    }
    Ok(())
}
