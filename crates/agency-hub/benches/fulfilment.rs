//! How many paid orders per second the app provisions through its real webhook endpoint:
//! signed `checkout.session.completed` events for pre-created orders of a 5-task template
//! (each with a buyer to confirm to and an admin to tell), posted by 16 concurrent senders over
//! HTTP to the app on 127.0.0.1. Prints orders/s and the p50/p99 latency of one event, and
//! checks every order was provisioned exactly once, its two emails queued.
//!
//! Then the bound: the statements one paid order costs the app on its own (an event alone is
//! one transaction: `stripe_events::handle`), run by the driver without HTTP, one transaction
//! per order sent in one piece (no trip to the driver per statement), from the same 16 senders
//! on as many other pending orders; the rows are copies of what the app wrote. Prints its
//! orders/s, p50 and p99, and our ratio to it. (The app beats it: events that arrive together
//! are handled in one transaction, a few statements for all their orders.)
//!
//! The job worker does not run (the emails stay queued, as in the bound): what is measured is
//! provisioning. `BENCH_WORKER=1` runs it, sending the emails meanwhile.
//!
//! `cargo bench --bench fulfilment` runs it on SQLite; with `BENCH_DATABASE_URL=postgres://…`
//! (a database it may create databases from) on PostgreSQL. `BENCH_ORDERS` sets the count.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use agency_hub::db::Db;
use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{
    activity, cart, client, email, job, order_item, service, service_template, store_event,
    stripe_event, task, user,
};
use agency_hub::ids::{ClientId, OrderId, OrderItemId, ServiceId, TemplateId, UserId};
use agency_hub::money::Currency;
use chrono::Utc;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

mod support;
use support::{SECRET, SENDERS, percentile};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let orders: usize = std::env::var("BENCH_ORDERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000);
    let worker = std::env::var("BENCH_WORKER").is_ok_and(|v| v == "1");
    let bench = support::BenchApp::start(SECRET, worker).await?;
    let db = bench.db.clone();
    let app_queries = bench.state.queries.clone();
    let url = format!("{}/api/webhooks/stripe", bench.base);

    // A 5-task template, one client, and the orders waiting for their payment.
    let template = bench.template(5).await?;
    let client = agency_hub::clients::find_or_create(&db, "Bench Co").await?;
    let buyer = support::a_buyer_and_an_admin(&db, client.id).await?;
    let http = reqwest::Client::new();
    // A tenth as many uncounted first, then the planner's statistics taken, as a database in
    // use has them (without, PostgreSQL takes the freshly filled tables for tiny and scans
    // them: 4,000 orders read for an `id IN (…)`).
    let warm_up = orders / 10;
    let first = pending_orders(&db, warm_up, client.id, buyer, template.id, "W").await?;
    post_paid_events(&http, &url, &first).await?;
    let ids = pending_orders(&db, orders, client.id, buyer, template.id, "B").await?;
    db.execute_unprepared("ANALYZE").await?;

    let queries_before = app_queries.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut latencies = post_paid_events(&http, &url, &ids).await?;
    let took = started.elapsed();
    let statements = (app_queries.load(Ordering::Relaxed) - queries_before) as f64 / orders as f64;
    latencies.sort();
    let pct = |p: f64| percentile(&latencies, p);

    check_each_order_provisioned_once(&db, warm_up + orders).await?;
    let bound_ids = pending_orders(&db, orders, client.id, buyer, template.id, "C").await?;
    db.execute_unprepared("ANALYZE").await?;
    let bound_started = Instant::now();
    let mut bound_latencies = bound(&db, &bound_ids).await?;
    let bound_took = bound_started.elapsed();
    bound_latencies.sort();
    let bpct = |p: f64| percentile(&bound_latencies, p);
    let ours = orders as f64 / took.as_secs_f64();
    let bound_rate = orders as f64 / bound_took.as_secs_f64();
    println!(
        "{} backend: {orders} paid orders in {:.2} s = {:.0} orders/s with {SENDERS} senders; latency p50 {:.1} ms, p99 {:.1} ms; {statements:.1} SQL statements per event; job worker {}",
        bench.backend,
        took.as_secs_f64(),
        orders as f64 / took.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        if worker {
            "sending the emails meanwhile"
        } else {
            "stopped (emails queued)"
        },
    );
    println!(
        "{} bound (the same statements, one transaction in one piece per order, no HTTP): {bound_rate:.0} orders/s; latency p50 {:.1} ms, p99 {:.1} ms; ratio {:.3} (target 0.5, and 1,000 orders/s with p99 under 50 ms)",
        bench.backend,
        bpct(0.50).as_secs_f64() * 1000.0,
        bpct(0.99).as_secs_f64() * 1000.0,
        ours / bound_rate,
    );
    bench.finish().await?;
    Ok(())
}

/// `count` orders of the client's buyer, each of one unit of `template`, not paid yet.
async fn pending_orders(
    db: &Db,
    count: usize,
    client: ClientId,
    buyer: UserId,
    template: TemplateId,
    prefix: &str,
) -> anyhow::Result<Vec<OrderId>> {
    let now = Utc::now();
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let o = order::Entity::insert(order::ActiveModel {
            order_number: Set(format!("{prefix}-{i:07}")),
            client_id: Set(client),
            user_id: Set(Some(buyer)),
            status: Set(OrderStatus::Pending),
            payment_status: Set(PaymentStatus::Pending),
            currency: Set(Currency::USD),
            subtotal_minor: Set(10_000),
            total_minor: Set(10_000),
            notes: Set(String::new()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec_with_returning(db)
        .await?;
        order_item::Entity::insert(order_item::ActiveModel {
            order_id: Set(o.id),
            template_id: Set(template),
            service_name: Set("Bench service".into()),
            unit_price_minor: Set(10_000),
            quantity: Set(1),
            total_minor: Set(10_000),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
        ids.push(o.id);
    }
    Ok(ids)
}

/// Stripe's `checkout.session.completed` for the order, paid in full.
fn paid_event(id: OrderId) -> String {
    serde_json::json!({
        "id": format!("evt_bench_{id}"), "object": "event", "type": "checkout.session.completed",
        "data": {"object": {"id": format!("cs_bench_{id}"), "object": "checkout.session", "status": "complete",
            "payment_status": "paid", "amount_subtotal": 10_000, "amount_total": 10_000, "currency": "usd",
            "client_reference_id": id.to_string(), "payment_intent": format!("pi_bench_{id}"), "metadata": {}}}
    })
    .to_string()
}

/// Posts each order's signed event to `url` (see [`support::post_signed`]).
async fn post_paid_events(
    http: &reqwest::Client,
    url: &str,
    ids: &[OrderId],
) -> anyhow::Result<Vec<Duration>> {
    support::post_signed(http, url, ids.iter().map(|&id| paid_event(id)).collect()).await
}

async fn check_each_order_provisioned_once(db: &Db, orders: usize) -> anyhow::Result<()> {
    let services = service::Entity::find().count(db).await?;
    let tasks = task::Entity::find().count(db).await?;
    assert_eq!(services as usize, orders, "every order provisioned once");
    assert_eq!(tasks as usize, orders * 5);
    let emails = email::Entity::find().count(db).await?;
    assert_eq!(
        emails as usize,
        orders * 2,
        "a confirmation and an admin's email per order"
    );
    Ok(())
}

/// One order's statements as the app ran them, to copy for other orders.
struct Sample {
    service: service::Model,
    tasks: Vec<task::Model>,
    created: activity::Model,
    paid: activity::Model,
    event: store_event::Model,
    emails: Vec<email::Model>,
    jobs: Vec<job::Model>,
}

impl Sample {
    /// What the app wrote for its first order.
    async fn read(db: &Db) -> anyhow::Result<Self> {
        let service = service::Entity::find()
            .order_by_asc(service::Column::Id)
            .one(db)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no service"))?;
        let tasks = task::Entity::find()
            .filter(task::Column::ServiceId.eq(service.id))
            .all(db)
            .await?;
        let action = |a: &'static str| async move {
            activity::Entity::find()
                .filter(activity::Column::Action.eq(a))
                .order_by_asc(activity::Column::Id)
                .one(db)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no {a} activity"))
        };
        let (created, paid) = (
            action("service.created").await?,
            action("order.paid").await?,
        );
        let event = store_event::Entity::find()
            .filter(store_event::Column::Kind.eq("paid"))
            .one(db)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no paid event"))?;
        let emails = email::Entity::find()
            .order_by_asc(email::Column::Id)
            .limit(2)
            .all(db)
            .await?;
        let jobs = job::Entity::find()
            .filter(job::Column::Kind.eq("email.send"))
            .order_by_asc(job::Column::Id)
            .limit(2)
            .all(db)
            .await?;
        anyhow::ensure!(tasks.len() == 5 && emails.len() == 2 && jobs.len() == 2);
        Ok(Self {
            service,
            tasks,
            created,
            paid,
            event,
            emails,
            jobs,
        })
    }

    /// The order's transaction as one text: the same statements, in the app's order (an event
    /// alone: `stripe_events::run` and `orders::fulfil::fulfil_checkout`), with
    /// this order's ids (services and emails get theirs from `first_id`, as later statements
    /// name them).
    fn statements(&self, db: &Db, order: &order::Model, item: i64, first_id: i64) -> String {
        let backend = db.get_database_backend();
        let now = Utc::now();
        let event_id = format!("evt_bound_{}", order.id);
        let (service_id, email_ids) = (first_id, [first_id, first_id + 1]);
        let mut sql: Vec<String> = Vec::new();
        sql.push(
            stripe_event::Entity::insert(stripe_event::ActiveModel {
                id: Set(event_id.clone()),
                event_type: Set("checkout.session.completed".into()),
                order_id: Set(None),
                outcome: Set("received".into()),
                error: Set(None),
                received_at: Set(now),
                processed_at: Set(None),
                payload: Set(None),
            })
            .on_conflict(
                OnConflict::column(stripe_event::Column::Id)
                    .update_columns([stripe_event::Column::Outcome])
                    .action_and_where(
                        Expr::col((stripe_event::Entity, stripe_event::Column::Outcome))
                            .eq("failed"),
                    )
                    .to_owned(),
            )
            .build(backend)
            .to_string(),
        );
        sql.push(
            order::Entity::find_by_id(order.id)
                .lock_exclusive()
                .build(backend)
                .to_string(),
        );
        let mut paid: order::ActiveModel = order.clone().into();
        paid.status = Set(OrderStatus::Completed);
        paid.payment_status = Set(PaymentStatus::Succeeded);
        paid.stripe_payment_intent_id = Set(Some(format!("pi_bound_{}", order.id)));
        paid.paid_at = Set(Some(now));
        paid.updated_at = Set(now);
        sql.push(
            order::Entity::update_many()
                .set(paid)
                .filter(order::Column::Id.eq(order.id))
                .build(backend)
                .to_string(),
        );
        sql.push(
            order_item::Entity::find()
                .filter(order_item::Column::OrderId.eq(order.id))
                .order_by_asc(order_item::Column::Id)
                .build(backend)
                .to_string(),
        );
        sql.push(
            service_template::Entity::find()
                .filter(service_template::Column::Id.is_in([self.service.template_id]))
                .build(backend)
                .to_string(),
        );
        let mut service = self.service.clone().into_active_model().reset_all();
        service.id = Set(ServiceId(service_id));
        service.order_item_id = Set(Some(OrderItemId(item)));
        sql.push(service::Entity::insert(service).build(backend).to_string());
        let tasks = self.tasks.iter().map(|t| {
            let mut t = t.clone().into_active_model().reset_all();
            t.id = NotSet;
            t.service_id = Set(ServiceId(service_id));
            t
        });
        sql.push(task::Entity::insert_many(tasks).build(backend).to_string());
        let activity = |a: &activity::Model, entity_id: i64| {
            let mut a = a.clone().into_active_model().reset_all();
            a.id = NotSet;
            a.entity_id = Set(entity_id);
            activity::Entity::insert(a).build(backend).to_string()
        };
        sql.push(activity(&self.created, service_id));
        sql.push(
            client::Entity::find_by_id(order.client_id)
                .build(backend)
                .to_string(),
        );
        sql.push(
            user::Entity::find()
                .filter(
                    Condition::any()
                        .add(
                            Condition::all()
                                .add(user::Column::Role.is_in([Role::Admin, Role::Manager]))
                                .add(user::Column::Active.eq(true)),
                        )
                        .add(user::Column::Id.eq(order.user_id)),
                )
                .build(backend)
                .to_string(),
        );
        let mut event = self.event.clone().into_active_model().reset_all();
        event.id = NotSet;
        sql.push(
            store_event::Entity::insert(event)
                .build(backend)
                .to_string(),
        );
        sql.push(activity(&self.paid, order.id.get()));
        let emails = self.emails.iter().zip(email_ids).map(|(e, id)| {
            let mut e = e.clone().into_active_model().reset_all();
            e.id = Set(id);
            e.dedupe_key = Set(format!("bound:{id}"));
            e
        });
        sql.push(
            email::Entity::insert_many(emails)
                .on_conflict(
                    OnConflict::column(email::Column::DedupeKey)
                        .do_nothing()
                        .to_owned(),
                )
                .build(backend)
                .to_string(),
        );
        let jobs = self.jobs.iter().zip(email_ids).map(|(j, id)| {
            let mut j = j.clone().into_active_model().reset_all();
            j.id = NotSet;
            j.payload = Set(serde_json::json!({ "email_id": id }));
            j.dedupe_key = Set(Some(format!("email:{id}")));
            j
        });
        sql.push(
            job::Entity::insert_many(jobs)
                .on_conflict(
                    OnConflict::column(job::Column::DedupeKey)
                        .do_nothing()
                        .to_owned(),
                )
                .build(backend)
                .to_string(),
        );
        sql.push(
            cart::Entity::delete_many()
                .filter(cart::Column::ClientId.eq(order.client_id))
                .build(backend)
                .to_string(),
        );
        sql.push(
            stripe_event::Entity::update_many()
                .col_expr(stripe_event::Column::OrderId, Expr::value(order.id.get()))
                .col_expr(stripe_event::Column::Outcome, Expr::value("paid"))
                .col_expr(stripe_event::Column::ProcessedAt, Expr::value(now))
                .filter(stripe_event::Column::Id.eq(event_id))
                .build(backend)
                .to_string(),
        );
        sql.join(";\n")
    }
}

/// Runs each order's statements as [`Sample::statements`] from [`SENDERS`] concurrent senders,
/// each order its own write transaction (`Db::write`, as the app's); returns the latencies.
async fn bound(db: &Db, ids: &[OrderId]) -> anyhow::Result<Vec<Duration>> {
    let sample = std::sync::Arc::new(Sample::read(db).await?);
    let orders = order::Entity::find()
        .filter(order::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    let items: HashMap<OrderId, i64> = order_item::Entity::find()
        .filter(order_item::Column::OrderId.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|i| (i.order_id, i.id.get()))
        .collect();
    // Ids past any the app gave, two per order (a service, and emails).
    let first = 1_000_000_000;
    let work: Vec<(order::Model, i64, i64)> = orders
        .into_iter()
        .enumerate()
        .map(|(n, o)| {
            let item = items[&o.id];
            (o, item, first + 2 * n as i64)
        })
        .collect();
    let mut handles = Vec::new();
    for chunk in work.chunks(work.len().div_ceil(SENDERS)) {
        let (db, sample, chunk) = (db.clone(), sample.clone(), chunk.to_vec());
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(chunk.len());
            for (order, item, first_id) in chunk {
                let t = Instant::now();
                let sql = sample.statements(&db, &order, item, first_id);
                let txn = db.write().await?;
                txn.execute_unprepared(&sql).await?;
                txn.commit().await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await??);
    }
    let done = service::Entity::find()
        .filter(service::Column::Id.gte(ServiceId(first)))
        .count(db)
        .await?;
    anyhow::ensure!(done as usize == ids.len(), "the bound provisioned {done}");
    Ok(latencies)
}
