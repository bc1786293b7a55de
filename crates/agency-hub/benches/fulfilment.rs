//! How many paid orders per second the app provisions through its real webhook endpoint:
//! signed `checkout.session.completed` events for pre-created orders of a 5-task template
//! (each with a buyer to confirm to and an admin to tell), posted by 16 concurrent senders over HTTP to the app on 127.0.0.1. Prints orders/s and the
//! p50/p99 latency of one event, and checks every order was provisioned exactly once.
//!
//! `cargo bench --bench fulfilment` runs it on SQLite; with `BENCH_DATABASE_URL=postgres://…`
//! (a database it may create databases from) on PostgreSQL. `BENCH_ORDERS` sets the count.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use agency_hub::auth::NewUser;
use agency_hub::db::Db;
use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{email, order_item, service, task};
use agency_hub::ids::{ClientId, OrderId, TemplateId, UserId};
use agency_hub::money::Currency;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};

const SECRET: &str = "whsec_bench";
const SENDERS: usize = 16;

fn sign(body: &str) -> String {
    let t = Utc::now().timestamp();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

mod support;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let orders: usize = std::env::var("BENCH_ORDERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let bench = support::BenchApp::start(SECRET).await?;
    let db = bench.db.clone();
    let app_queries = bench.state.queries.clone();
    let url = format!("{}/api/webhooks/stripe", bench.base);

    // A 5-task template, one client, and the orders waiting for their payment.
    let template = bench.template(5).await?;
    let client = agency_hub::clients::find_or_create(&db, "Bench Co").await?;
    let buyer = a_buyer_and_an_admin(&db, client.id).await?;
    let ids = pending_orders(&db, orders, client.id, buyer, template.id).await?;

    let http = reqwest::Client::new();
    let queries_before = app_queries.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut latencies = post_paid_events(&http, &url, &ids).await?;
    let took = started.elapsed();
    let statements = (app_queries.load(Ordering::Relaxed) - queries_before) as f64 / orders as f64;
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];

    check_each_order_provisioned_once(&db, orders).await?;
    println!(
        "{} backend: {orders} paid orders in {:.2} s = {:.0} orders/s with {SENDERS} senders; latency p50 {:.1} ms, p99 {:.1} ms; {statements:.1} SQL statements per event",
        bench.backend,
        took.as_secs_f64(),
        orders as f64 / took.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
    );
    bench.finish().await?;
    Ok(())
}

/// A buyer (who gets the order confirmation) and an admin (told of each new service), as in a
/// real store; returns the buyer.
async fn a_buyer_and_an_admin(db: &Db, client: ClientId) -> anyhow::Result<UserId> {
    let mut people = Vec::new();
    for (email, role, client_id) in [
        ("buyer@bench.test", Role::Client, Some(client)),
        ("admin@bench.test", Role::Admin, None),
    ] {
        let new = NewUser {
            email: agency_hub::auth::Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?,
            name: email.into(),
            role,
            client_id,
            password_hash: String::new(),
        };
        people.push(agency_hub::auth::insert_user(db, new).await?);
    }
    Ok(people[0].id)
}

/// `count` orders of the client's buyer, each of one unit of `template`, not paid yet.
async fn pending_orders(
    db: &Db,
    count: usize,
    client: ClientId,
    buyer: UserId,
    template: TemplateId,
) -> anyhow::Result<Vec<OrderId>> {
    let now = Utc::now();
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let o = order::Entity::insert(order::ActiveModel {
            order_number: Set(format!("B-{i:07}")),
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

/// Posts each order's signed event to `url` from [`SENDERS`] concurrent senders; returns the
/// latency of each.
async fn post_paid_events(
    http: &reqwest::Client,
    url: &str,
    ids: &[OrderId],
) -> anyhow::Result<Vec<Duration>> {
    let chunks: Vec<Vec<OrderId>> = ids
        .chunks(ids.len().div_ceil(SENDERS))
        .map(|c| c.to_vec())
        .collect();
    let mut handles = Vec::new();
    for chunk in chunks {
        let (http, url) = (http.clone(), url.to_string());
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(chunk.len());
            for id in chunk {
                let body = paid_event(id);
                let t = Instant::now();
                let res = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("stripe-signature", sign(&body))
                    .body(body)
                    .send()
                    .await
                    .expect("the app answers");
                assert_eq!(
                    res.status(),
                    200,
                    "{}",
                    res.text().await.unwrap_or_default()
                );
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for h in handles {
        latencies.extend(h.await?);
    }
    Ok(latencies)
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
