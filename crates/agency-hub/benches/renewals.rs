//! How many subscription renewals per second the app provisions through its real webhook
//! endpoint: 10,000 monthly subscriptions (a template with 5 period tasks, each subscription
//! with its service and a buyer to send the receipt to) all due at once, their signed
//! `invoice.paid` events (`billing_reason: subscription_cycle`) posted by 16 concurrent senders
//! over HTTP to the app on 127.0.0.1. Prints renewals/s and the p50/p99 latency of one event
//! against the target of 1,000/s, and checks each renewal made exactly one paid invoice row, 5
//! tasks and one receipt.
//!
//! Then, from the same run, a reference: as many other renewals handled one event per
//! transaction (`stripe_events::handle`, what the app did before events were batched), from the
//! same 16 senders without HTTP; it prints their rate and our ratio to it.
//!
//! `cargo bench --bench renewals` runs it on SQLite; with `BENCH_DATABASE_URL=postgres://…`
//! (a database it may create databases from) on PostgreSQL. `BENCH_RENEWALS` sets the count.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use agency_hub::db::Db;
use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::service::{ServiceOrigin, ServiceStatus};
use agency_hub::db::entities::{
    email, order_item, service, service_template, subscription, subscription_invoice, task,
};
use agency_hub::ids::{ClientId, SubscriptionId, UserId};
use agency_hub::money::Currency;
use agency_hub::stripe::events::Event;
use chrono::Utc;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

mod support;
use support::{SECRET, SENDERS, percentile};

/// The renewals per second the issue asks for.
const TARGET: f64 = 1_000.0;
const MONTH: i64 = 30 * 86_400;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count: usize = std::env::var("BENCH_RENEWALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let bench = support::BenchApp::start(SECRET, false).await?;
    let db = bench.db.clone();
    let url = format!("{}/api/webhooks/stripe", bench.base);
    let template = bench.template_billed(5, true).await?;
    let client = agency_hub::clients::find_or_create(&db, "Bench Co").await?;
    let buyer = support::a_buyer_and_an_admin(&db, client.id).await?;
    let http = reqwest::Client::new();

    // A tenth as many renewed first, uncounted, then the planner's statistics taken (as a
    // database in use has them).
    let warm_up = subscriptions(&db, count / 10, client.id, buyer, &template, "W").await?;
    support::post_signed(&http, &url, warm_up.iter().map(renewal).collect()).await?;
    let subs = subscriptions(&db, count, client.id, buyer, &template, "B").await?;
    db.execute_unprepared("ANALYZE").await?;

    let queries = bench.state.queries.clone();
    let queries_before = queries.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut latencies =
        support::post_signed(&http, &url, subs.iter().map(renewal).collect()).await?;
    let took = started.elapsed();
    let statements = (queries.load(Ordering::Relaxed) - queries_before) as f64 / count as f64;
    latencies.sort();
    check_each_renewed_once(&db, warm_up.len() + subs.len()).await?;

    let others = subscriptions(&db, count, client.id, buyer, &template, "C").await?;
    db.execute_unprepared("ANALYZE").await?;
    let reference_started = Instant::now();
    let mut reference = one_at_a_time(&db, &others).await?;
    let reference_took = reference_started.elapsed();
    reference.sort();
    check_each_renewed_once(&db, warm_up.len() + subs.len() + others.len()).await?;

    let ours = count as f64 / took.as_secs_f64();
    let alone = count as f64 / reference_took.as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{} backend: {count} renewals due at once provisioned in {:.2} s = {ours:.0} renewals/s with {SENDERS} senders; latency p50 {:.1} ms, p99 {:.1} ms; {statements:.1} SQL statements per event; target {TARGET:.0}/s: {}",
        bench.backend,
        took.as_secs_f64(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        if ours >= TARGET { "met" } else { "NOT met" },
    );
    println!(
        "{} reference (each event its own transaction, no HTTP): {alone:.0} renewals/s; latency p50 {:.1} ms, p99 {:.1} ms; ratio {:.2}",
        bench.backend,
        ms(percentile(&reference, 0.50)),
        ms(percentile(&reference, 0.99)),
        ours / alone,
    );
    bench.finish().await?;
    Ok(())
}

/// A subscription as the bench knows it: its Stripe id and the period that ends now.
struct Due {
    stripe_id: String,
    period_end: i64,
}

/// `count` active monthly subscriptions of the buyer's company, each bought by its own order,
/// with its service, their period ending now (inserted directly, 500 rows a statement).
async fn subscriptions(
    db: &Db,
    count: usize,
    client: ClientId,
    buyer: UserId,
    template: &service_template::Model,
    prefix: &str,
) -> anyhow::Result<Vec<Due>> {
    let now = Utc::now();
    let end = now.timestamp();
    let mut due = Vec::with_capacity(count);
    for from in (0..count).step_by(500) {
        let to = (from + 500).min(count);
        let txn = db.write().await?;
        let orders = order::Entity::insert_many((from..to).map(|i| order::ActiveModel {
            order_number: Set(format!("{prefix}-{i:07}")),
            client_id: Set(client),
            user_id: Set(Some(buyer)),
            status: Set(OrderStatus::Completed),
            payment_status: Set(PaymentStatus::Succeeded),
            currency: Set(Currency::USD),
            subtotal_minor: Set(10_000),
            total_minor: Set(10_000),
            paid_at: Set(Some(now)),
            notes: Set(String::new()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }))
        .exec_with_returning_keys(&txn)
        .await?;
        let items =
            order_item::Entity::insert_many(orders.iter().map(|&o| order_item::ActiveModel {
                order_id: Set(o),
                template_id: Set(template.id),
                service_name: Set("Bench retainer".into()),
                unit_price_minor: Set(10_000),
                quantity: Set(1),
                total_minor: Set(10_000),
                billing_interval: Set(Some("month".into())),
                billing_interval_count: Set(1),
                ..Default::default()
            }))
            .exec_with_returning_keys(&txn)
            .await?;
        let services =
            service::Entity::insert_many(items.iter().map(|&item| service::ActiveModel {
                client_id: Set(client),
                template_id: Set(template.id),
                name: Set("Bench retainer".into()),
                description: Set(String::new()),
                status: Set(ServiceStatus::InProgress),
                origin: Set(ServiceOrigin::Purchase),
                order_item_id: Set(Some(item)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }))
            .exec_with_returning_keys(&txn)
            .await?;
        let rows = (from..to)
            .zip(orders.iter().zip(&items).zip(&services))
            .map(
                |(i, ((&order_id, &item), &service))| subscription::ActiveModel {
                    client_id: Set(client),
                    template_id: Set(template.id),
                    order_id: Set(order_id),
                    order_item_id: Set(item),
                    service_id: Set(Some(service)),
                    stripe_subscription_id: Set(format!("sub_{prefix}_{i}")),
                    stripe_customer_id: Set(Some("cus_bench".into())),
                    status: Set("active".into()),
                    quantity: Set(1),
                    unit_amount_minor: Set(10_000),
                    currency: Set("USD".into()),
                    interval: Set("month".into()),
                    interval_count: Set(1),
                    current_period_start: Set(chrono::DateTime::from_timestamp(end - MONTH, 0)),
                    current_period_end: Set(chrono::DateTime::from_timestamp(end, 0)),
                    cancel_at_period_end: Set(false),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                },
            );
        subscription::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        due.extend((from..to).map(|i| Due {
            stripe_id: format!("sub_{prefix}_{i}"),
            period_end: end,
        }));
    }
    Ok(due)
}

/// Stripe's `invoice.paid` for the subscription's next period, as Stripe sends it at renewal.
fn renewal(due: &Due) -> String {
    let (start, end) = (due.period_end, due.period_end + MONTH);
    let id = &due.stripe_id;
    serde_json::json!({
        "id": format!("evt_paid_{id}"), "object": "event", "type": "invoice.paid", "created": start,
        "data": {"object": {
            "id": format!("in_{id}"), "object": "invoice", "status": "paid",
            "number": format!("BENCH-{id}"), "billing_reason": "subscription_cycle",
            "subscription": id, "subscription_details": {"metadata": {}},
            "customer": "cus_bench", "currency": "usd", "amount_due": 10_000,
            "amount_paid": 10_000, "attempt_count": 1,
            "hosted_invoice_url": format!("https://invoice.example/{id}"),
            "invoice_pdf": format!("https://invoice.example/{id}/pdf"),
            "payment_intent": format!("pi_{id}"), "charge": format!("ch_{id}"), "created": start,
            "lines": {"object": "list", "data": [{
                "type": "subscription", "amount": 10_000, "quantity": 1,
                "period": {"start": start, "end": end}
            }]}
        }}
    })
    .to_string()
}

/// The renewals' events handled one at a time, each in its own transaction
/// (`stripe_events::handle`), from [`SENDERS`] concurrent senders; returns the latencies.
async fn one_at_a_time(db: &Db, subs: &[Due]) -> anyhow::Result<Vec<Duration>> {
    let db = db.clone();
    support::by_senders(subs.iter().map(renewal).collect(), move |body| {
        let db = db.clone();
        async move {
            let event: Event = serde_json::from_str(&body)?;
            agency_hub::stripe_events::handle(&db, &event, &body)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        }
    })
    .await
}

/// Each renewal made one paid invoice row, its 5 tasks and one receipt.
async fn check_each_renewed_once(db: &Db, renewals: usize) -> anyhow::Result<()> {
    let invoices = subscription_invoice::Entity::find()
        .filter(subscription_invoice::Column::PaidAt.is_not_null())
        .count(db)
        .await?;
    anyhow::ensure!(invoices as usize == renewals, "{invoices} paid invoices");
    let tasks = task::Entity::find()
        .filter(task::Column::SubscriptionInvoiceId.is_not_null())
        .count(db)
        .await?;
    anyhow::ensure!(tasks as usize == renewals * 5, "{tasks} period tasks");
    let receipts = email::Entity::find()
        .filter(email::Column::DedupeKey.starts_with("sub-renewed:"))
        .count(db)
        .await?;
    anyhow::ensure!(receipts as usize == renewals, "{receipts} receipts");
    // The latest subscription moved on to its new period.
    let last: Option<(SubscriptionId, Option<chrono::DateTime<Utc>>)> =
        subscription::Entity::find()
            .select_only()
            .column(subscription::Column::Id)
            .column(subscription::Column::CurrentPeriodEnd)
            .order_by_desc(subscription::Column::Id)
            .into_tuple()
            .one(db)
            .await?;
    anyhow::ensure!(
        last.and_then(|(_, end)| end)
            .is_some_and(|end| end > Utc::now()),
        "the subscriptions' period moved on"
    );
    Ok(())
}
