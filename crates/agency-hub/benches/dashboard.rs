//! Whether the store dashboard reads fast on a big store: 1,000,000 tracked events and 100,000
//! orders over a year (2,000 client users in 50 companies), then `/admin/metrics` for 7, 30 and
//! 90 days (each with its previous period) timed over HTTP. Prints the median and p95.
//!
//! `cargo bench --bench dashboard` runs it on SQLite; with `BENCH_DATABASE_URL=postgres://…`
//! on PostgreSQL. `BENCH_EVENTS` and `BENCH_ORDERS` change the sizes.

use agency_hub::auth::{self, Email, NewUser};
use agency_hub::db::Db;
use agency_hub::db::entities::store_event;
use agency_hub::db::entities::user::Role;
use agency_hub::ids::{ClientId, TemplateId, UserId};
use agency_hub::money::Currency;
use chrono::{Duration, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::json;

mod support;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (events, orders) = (
        size("BENCH_EVENTS", 1_000_000),
        size("BENCH_ORDERS", 100_000),
    );
    let bench = support::BenchApp::start("whsec_bench", true).await?;
    let db = bench.db.clone();
    let template = bench.template(1).await?;
    let clients = support::clients(&db, 50).await?;
    an_admin(&db).await?;

    let started = std::time::Instant::now();
    support::add_orders(&db, 0, orders, &clients, template.id).await?;
    add_a_year_of_events(&db, events, &clients, template.id).await?;
    if bench.backend == "PostgreSQL" {
        db.execute_unprepared("ANALYZE").await?;
    } else {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    println!(
        "{}: {events} events and {orders} orders written in {:.0} s",
        bench.backend,
        started.elapsed().as_secs_f64()
    );

    let admin = support::signed_in(&bench.base, "admin@bench.test").await?;
    for period in ["7", "30", "90"] {
        let (median, p95) = support::time(
            &admin,
            &format!("{}/admin/metrics?period={period}", bench.base),
        )
        .await?;
        println!(
            "{}: /admin/metrics?period={period} median {:.1} ms, p95 {:.1} ms",
            bench.backend,
            median.as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3
        );
    }
    bench.finish().await
}

/// The admin who reads the dashboard (password [`support::PASSWORD`]).
async fn an_admin(db: &Db) -> anyhow::Result<()> {
    auth::insert_user(
        db,
        NewUser {
            email: Email::parse("admin@bench.test").map_err(|e| anyhow::anyhow!("{e}"))?,
            name: "Admin".into(),
            role: Role::Admin,
            client_id: None,
            password_hash: auth::password::hash(support::PASSWORD.into()).await?,
        },
    )
    .await?;
    Ok(())
}

/// The journey's events, a year of them up to now, by 2,000 users of `clients`: mostly views,
/// fewer steps further down.
async fn add_a_year_of_events(
    db: &Db,
    events: usize,
    clients: &[ClientId],
    template: TemplateId,
) -> anyhow::Result<()> {
    let kinds = [
        ("store_view", 40),
        ("product_view", 30),
        ("search", 8),
        ("add_to_cart", 10),
        ("remove_from_cart", 2),
        ("checkout_started", 5),
        ("paid", 4),
        ("payment_failed", 1),
    ];
    let wheel: Vec<&str> = kinds
        .iter()
        .flat_map(|(k, n)| std::iter::repeat_n(*k, *n))
        .collect();
    let now = Utc::now();
    // Milliseconds between two events for a year of them.
    let step = 365.0 * 24.0 * 3600.0 * 1000.0 / events as f64;
    for chunk in (0..events).collect::<Vec<_>>().chunks(2_000) {
        let txn = db.write().await?;
        let rows = chunk.iter().map(|&i| {
            let kind = wheel[(i * 7919) % wheel.len()];
            let user = (i * 104_729) % 2_000;
            let money = matches!(kind, "paid" | "checkout_started" | "add_to_cart");
            store_event::ActiveModel {
                kind: Set(kind.into()),
                client_id: Set(Some(clients[user % clients.len()])),
                user_id: Set(Some(UserId(user as i64 + 1_000))),
                template_id: Set(Some(template)),
                quantity: Set(None),
                amount_minor: Set(money.then_some(10_000)),
                currency: Set(money.then_some(Currency::USD)),
                details: Set(json!({})),
                at: Set(now - Duration::milliseconds(((events - i) as f64 * step) as i64)),
                ..Default::default()
            }
        });
        store_event::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
    }
    Ok(())
}
