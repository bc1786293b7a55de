//! Whether the order lists stay fast as orders pile up: the admin's `/admin/orders` (first page,
//! its totals and the webhook health) and a client's `/store/orders`, timed over HTTP with
//! 1,000 and then 100,000 orders (spread over three years and 50 client companies). Prints
//! each page's median and p95 and the 100k/1k ratio of the medians.
//!
//! `cargo bench --bench order_lists` runs it on SQLite; with `BENCH_DATABASE_URL=postgres://…`
//! on PostgreSQL.

use std::time::Duration;

use agency_hub::auth::{self, Email, NewUser};
use agency_hub::db::entities::user::Role;
use sea_orm::ConnectionTrait;

mod support;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bench = support::BenchApp::start("whsec_bench", true).await?;
    let (db, base) = (bench.db.clone(), bench.base.clone());
    let template = bench.template(1).await?;
    let clients = support::clients(&db, 50).await?;
    let hash = auth::password::hash(support::PASSWORD.into()).await?;
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
        auth::insert_user(&db, new).await?;
    }
    let admin = support::signed_in(&base, "admin@bench.test").await?;
    let client = support::signed_in(&base, "client@bench.test").await?;

    let mut medians = Vec::new();
    let mut have = 0;
    for size in [1_000, 100_000] {
        support::add_orders(&db, have, size, &clients, template.id).await?;
        have = size;
        if bench.backend == "PostgreSQL" {
            db.execute_unprepared("ANALYZE").await?;
        }
        let a = support::time(&admin, &format!("{base}/admin/orders")).await?;
        let c = support::time(&client, &format!("{base}/store/orders")).await?;
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
