//! Whether the order lists stay fast as orders pile up: the admin's `/admin/orders` (first page,
//! its totals and the webhook health) and a client's `/store/orders`, timed over HTTP with
//! 1,000 and then 100,000 orders (spread over three years and 50 client companies). Prints
//! each page's median and p95 and the 100k/1k ratio of the medians.
//!
//! `cargo bench --bench order_lists` runs it on SQLite; with `BENCH_DATABASE_URL=postgres://…`
//! on PostgreSQL.

use std::time::{Duration, Instant};

use agency_hub::auth::{self, Email, NewUser};
use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::order_item;
use agency_hub::db::entities::user::Role;
use chrono::{Duration as Days, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait};

const PASSWORD: &str = "a-good-password";
const SAMPLES: usize = 60;

async fn add_orders(
    db: &DatabaseConnection,
    from: usize,
    to: usize,
    clients: &[i64],
    template: i64,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let statuses = [
        (OrderStatus::Completed, PaymentStatus::Succeeded),
        (OrderStatus::Completed, PaymentStatus::Succeeded),
        (OrderStatus::Completed, PaymentStatus::Succeeded),
        (OrderStatus::Cancelled, PaymentStatus::Cancelled),
        (OrderStatus::Refunded, PaymentStatus::Refunded),
        (OrderStatus::Pending, PaymentStatus::Pending),
    ];
    for chunk_start in (from..to).step_by(1000) {
        let chunk_end = (chunk_start + 1000).min(to);
        let txn = agency_hub::db::begin(db).await?;
        let orders: Vec<order::ActiveModel> = (chunk_start..chunk_end)
            .map(|i| {
                // Older first, so the newest orders are the last added.
                let at = now - Days::minutes(((to - i) as i64) * 15);
                let (status, payment) = statuses[i % statuses.len()];
                let paid = matches!(status, OrderStatus::Completed | OrderStatus::Refunded);
                order::ActiveModel {
                    order_number: Set(format!("B-{i:07}")),
                    client_id: Set(clients[i % clients.len()]),
                    user_id: Set(None),
                    status: Set(status),
                    payment_status: Set(payment),
                    currency: Set("USD".into()),
                    subtotal_minor: Set(10_000),
                    total_minor: Set(10_000),
                    refunded_minor: Set(if status == OrderStatus::Refunded {
                        10_000
                    } else {
                        0
                    }),
                    paid_at: Set(paid.then_some(at)),
                    notes: Set(String::new()),
                    created_at: Set(at),
                    updated_at: Set(at),
                    ..Default::default()
                }
            })
            .collect();
        let first = order::Entity::insert_many(orders)
            .exec_with_returning_keys(&txn)
            .await?;
        let items: Vec<order_item::ActiveModel> = first
            .into_iter()
            .map(|id| order_item::ActiveModel {
                order_id: Set(id),
                template_id: Set(template),
                service_name: Set("Bench service".into()),
                unit_price_minor: Set(10_000),
                quantity: Set(1),
                total_minor: Set(10_000),
                ..Default::default()
            })
            .collect();
        order_item::Entity::insert_many(items)
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
    }
    Ok(())
}

async fn signed_in(base: &str, email: &str) -> anyhow::Result<reqwest::Client> {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = http
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let marker = "name=\"_csrf\" value=\"";
    let start = login
        .find(marker)
        .ok_or_else(|| anyhow::anyhow!("no CSRF token"))?
        + marker.len();
    let token = &login[start..start + login[start..].find('"').unwrap_or(0)];
    let res = http
        .post(format!("{base}/login"))
        .form(&[("_csrf", token), ("email", email), ("password", PASSWORD)])
        .send()
        .await?;
    anyhow::ensure!(
        res.status() == 303,
        "signing in as {email}: {}",
        res.status()
    );
    Ok(http)
}

/// Median and p95 of GET `path`, after a few warm-up requests.
async fn time(http: &reqwest::Client, url: &str) -> anyhow::Result<(Duration, Duration)> {
    let mut took = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES + 5 {
        let t = Instant::now();
        let res = http.get(url).send().await?;
        anyhow::ensure!(res.status() == 200, "GET {url}: {}", res.status());
        res.bytes().await?;
        if i >= 5 {
            took.push(t.elapsed());
        }
    }
    took.sort();
    Ok((took[took.len() / 2], took[took.len() * 95 / 100]))
}

mod support;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bench = support::BenchApp::start("whsec_bench").await?;
    let (db, base) = (bench.db.clone(), bench.base.clone());
    let template = bench.template(1).await?;
    let mut clients = Vec::new();
    for i in 0..50 {
        clients.push(
            auth::find_or_create_client(&db, &format!("Client {i:02}"))
                .await?
                .id,
        );
    }
    let hash = auth::password::hash(PASSWORD.into()).await?;
    for (email, role, client_id) in [
        ("admin@bench.test", Role::Admin, None),
        ("client@bench.test", Role::Client, Some(clients[0])),
    ] {
        let new = NewUser {
            email: Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?,
            name: email.into(),
            role,
            client_id,
            password_hash: hash.clone(),
        };
        auth::create_user(&db, new).await?;
    }
    let admin = signed_in(&base, "admin@bench.test").await?;
    let client = signed_in(&base, "client@bench.test").await?;

    let mut medians = Vec::new();
    let mut have = 0;
    for size in [1_000, 100_000] {
        add_orders(&db, have, size, &clients, template.id).await?;
        have = size;
        if bench.backend == "PostgreSQL" {
            db.execute_unprepared("ANALYZE").await?;
        }
        let a = time(&admin, &format!("{base}/admin/orders")).await?;
        let c = time(&client, &format!("{base}/store/orders")).await?;
        println!(
            "{} with {size} orders: /admin/orders median {:.2} ms p95 {:.2} ms; /store/orders median {:.2} ms p95 {:.2} ms",
            bench.backend,
            a.0.as_secs_f64() * 1e3,
            a.1.as_secs_f64() * 1e3,
            c.0.as_secs_f64() * 1e3,
            c.1.as_secs_f64() * 1e3,
        );
        medians.push((a.0, c.0));
    }
    let ratio = |f: fn(&(Duration, Duration)) -> Duration| {
        f(&medians[1]).as_secs_f64() / f(&medians[0]).as_secs_f64()
    };
    println!(
        "100k/1k ratio of the medians: /admin/orders {:.2}, /store/orders {:.2}",
        ratio(|m| m.0),
        ratio(|m| m.1)
    );
    bench.finish().await?;
    Ok(())
}
