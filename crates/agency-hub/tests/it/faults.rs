//! Faults that could lose work: the database full, or not taking writes. Each test here failed
//! before its fix.

use agency_hub::config::DatabaseUrl;
use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::{order_item, service, stripe_event};
use agency_hub::db::{self, Db};
use agency_hub::ids::{ClientId, OrderId, TemplateId};
use agency_hub::money::Currency;
use chrono::Utc;
use sea_orm::sqlx::{self, AssertSqlSafe, SqlitePool};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, PaginatorTrait};

use crate::fixtures;
use crate::harness::{spawn_app, spawn_app_with, spawn_app_without_background_work};
use crate::purchase::signed_post;

/// `count` orders of one unit of `template` ($100.00), not paid yet.
async fn pending_orders(
    db: &Db,
    client: ClientId,
    template: TemplateId,
    count: usize,
) -> Vec<OrderId> {
    let now = Utc::now();
    let mut ids = Vec::new();
    for i in 0..count {
        let o = order::Entity::insert(order::ActiveModel {
            order_number: Set(format!("F-{i:05}")),
            client_id: Set(client),
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
        .await
        .unwrap();
        order_item::Entity::insert(order_item::ActiveModel {
            order_id: Set(o.id),
            template_id: Set(template),
            service_name: Set("Logo Design".into()),
            unit_price_minor: Set(10_000),
            quantity: Set(1),
            total_minor: Set(10_000),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await
        .unwrap();
        ids.push(o.id);
    }
    ids
}

/// Stripe's `checkout.session.completed` for the order, paid in full.
fn paid_event(id: OrderId) -> String {
    serde_json::json!({
        "id": format!("evt_full_{id}"), "object": "event", "type": "checkout.session.completed",
        "data": {"object": {"id": format!("cs_full_{id}"), "object": "checkout.session", "status": "complete",
            "payment_status": "paid", "amount_subtotal": 10_000, "amount_total": 10_000, "currency": "usd",
            "client_reference_id": id.to_string(), "payment_intent": format!("pi_full_{id}"), "metadata": {}}}
    })
    .to_string()
}

/// Sets SQLite's page limit on every connection of the pool (it is a connection's setting);
/// returns how many of them sqlx counted inside a transaction (whose next `BEGIN` would be a
/// SAVEPOINT in a transaction that may never commit).
async fn limit_every_connection(pool: &SqlitePool, pages: i64) -> usize {
    let mut held = Vec::new();
    let mut in_a_transaction = 0;
    for _ in 0..pool.options().get_max_connections() {
        let mut conn = pool.acquire().await.unwrap();
        if sqlx::Connection::is_in_transaction(&*conn) {
            in_a_transaction += 1;
        }
        sqlx::query(AssertSqlSafe(format!("PRAGMA max_page_count = {pages}")))
            .execute(&mut *conn)
            .await
            .unwrap();
        held.push(conn);
    }
    in_a_transaction
}

/// Delivers each order's event from 8 concurrent senders; returns each answer's status.
async fn deliver(app: &crate::harness::TestApp, orders: &[OrderId]) -> Vec<(OrderId, u16)> {
    let url = app.url("/api/webhooks/stripe");
    let mut senders = Vec::new();
    for chunk in orders.chunks(orders.len().div_ceil(8).max(1)) {
        let (client, url, chunk) = (app.client.clone(), url.clone(), chunk.to_vec());
        senders.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for id in chunk {
                let res = signed_post(&client, &url, paid_event(id)).await;
                answers.push((id, res.status().as_u16()));
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for s in senders {
        answers.extend(s.await.unwrap());
    }
    answers
}

/// What a fresh connection (as after a restart) finds committed: the orders paid (each with
/// its event recorded), and the services.
async fn committed(url: &str, orders: &[OrderId]) -> (Vec<OrderId>, u64) {
    let fresh = db::connect(&DatabaseUrl::parse(url).unwrap())
        .await
        .unwrap();
    let mut recorded = Vec::new();
    for &id in orders {
        let o = order::Entity::find_by_id(id)
            .one(&fresh)
            .await
            .unwrap()
            .unwrap();
        if o.status == OrderStatus::Completed {
            let event = stripe_event::Entity::find_by_id(format!("evt_full_{id}"))
                .one(&fresh)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(event.outcome, "fulfilled", "order {id}");
            recorded.push(id);
        }
    }
    let services = service::Entity::find().count(&fresh).await.unwrap();
    fresh.conn().clone().close().await.ok();
    (recorded, services)
}

/// SQLite's own "disk full" (`PRAGMA max_page_count` on every pooled connection), while paid
/// events arrive: none is acknowledged unless its work committed, /readyz says not ready, and
/// once space returns every event's work is done exactly once.
#[tokio::test]
async fn a_full_sqlite_database_acknowledges_no_event_it_did_not_commit() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/full.db", dir.path().display());
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    let company = fixtures::company(&app.db, "Acme").await;
    let template = fixtures::for_sale(&app.db, "Logo Design", "Design", "100", "USD", 5).await;
    let orders = pending_orders(&app.db, company.id, template.id, 40).await;
    app.db
        .execute_unprepared("CREATE TABLE filler (b BLOB)")
        .await
        .unwrap();

    let pool = app.db.conn().get_sqlite_connection_pool().clone();
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(limit_every_connection(&pool, pages + 4).await, 0);
    let full = loop {
        if let Err(e) = sqlx::query("INSERT INTO filler VALUES (zeroblob(1500))")
            .execute(&pool)
            .await
        {
            break e.to_string();
        }
    };
    assert!(full.contains("full"), "{full}");
    assert_eq!(
        app.get("/readyz").await.status(),
        503,
        "not ready while full"
    );

    // Stripe delivers, and delivers again what was not acknowledged. (A connection closed after
    // a failure comes back without the page limit, so later rounds may find room.)
    let mut acknowledged: Vec<OrderId> = Vec::new();
    let mut refused = 0;
    for _ in 0..3 {
        let waiting: Vec<OrderId> = orders
            .iter()
            .filter(|id| !acknowledged.contains(id))
            .copied()
            .collect();
        let answers = deliver(&app, &waiting).await;
        assert!(
            answers.iter().all(|(_, s)| *s == 200 || *s == 500),
            "{answers:?}"
        );
        refused += answers.iter().filter(|(_, s)| *s == 500).count();
        acknowledged.extend(answers.iter().filter(|(_, s)| *s == 200).map(|(id, _)| *id));
    }
    assert!(refused > 0, "the database was full");
    let (recorded, _) = committed(&url, &orders).await;
    for id in &acknowledged {
        assert!(
            recorded.contains(id),
            "order {id}'s event was acknowledged but its work did not commit"
        );
    }

    // Space returns; Stripe delivers again what was not acknowledged (here: everything).
    assert_eq!(
        limit_every_connection(&pool, 1 << 30).await,
        0,
        "a connection whose transaction failed to end is closed, not reused"
    );
    let second = deliver(&app, &orders).await;
    assert!(second.iter().all(|(_, s)| *s == 200), "{second:?}");
    let (recorded, services) = committed(&url, &orders).await;
    assert_eq!(recorded.len(), orders.len(), "every event's work committed");
    assert_eq!(services, orders.len() as u64, "each order provisioned once");
    assert_eq!(app.get("/readyz").await.status(), 200);
}

/// /readyz is ready only when a write commits: with another connection holding the write lock,
/// it says not ready (where a ping and a read still pass), and ready again once released.
#[tokio::test]
async fn readiness_needs_a_write_to_commit() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    // Another process's connection holds the database's write lock.
    let other = db::connect(&DatabaseUrl::parse(&app.database_url()).unwrap())
        .await
        .unwrap();
    let holder = other.write().await.unwrap();
    holder
        .execute_unprepared("UPDATE installation SET checked_at = created_at")
        .await
        .unwrap();
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_ready");
    assert_eq!(
        body["error"]["message"],
        "the database did not take a write in time"
    );
    holder.rollback().await.unwrap();
    assert_eq!(app.get("/readyz").await.status(), 200);
}

/// Sessions are read from memory for up to a second: a session ended by another instance (its
/// sign-out, or a deactivation, written straight to the shared database) is refused here
/// within that second, and a repeated request does not read the session again.
#[tokio::test]
async fn a_session_ended_by_another_instance_is_refused_here_within_a_second() {
    let mut app = spawn_app_without_background_work().await;
    let user = app
        .signed_in_as(agency_hub::db::entities::user::Role::Client)
        .await;
    let other_browser = crate::harness::browser();
    let mut second = app.switch_browser(other_browser);
    assert_eq!(
        app.sign_in("client@acme.example", crate::harness::PASSWORD)
            .await
            .status(),
        303
    );
    second = app.switch_browser(second);
    // `app.client` is the first browser again; `second` the other.
    let me = |client: reqwest::Client| {
        let url = app.url("/api/me");
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(me(app.client.clone()).await, 200);
    assert_eq!(me(second.clone()).await, 200);
    // Warm now: a repeated request reads neither its session nor its user.
    assert_eq!(me(app.client.clone()).await, 200);
    let before = app.queries.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(me(app.client.clone()).await, 200);
    let queries = app.queries.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!(queries, 0, "the session and user came from memory");

    // Another instance signs the first browser out: its session row is gone.
    let other = db::connect(&DatabaseUrl::parse(&app.database_url()).unwrap())
        .await
        .unwrap();
    let sessions = agency_hub::db::entities::session::Entity::find()
        .all(&other)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 2);
    other
        .execute_unprepared(&format!(
            "DELETE FROM sessions WHERE id = '{}'",
            sessions[0].id
        ))
        .await
        .unwrap();
    let ended = tokio::time::Instant::now();
    let refused = loop {
        let (a, b) = (me(app.client.clone()).await, me(second.clone()).await);
        if a == 401 || b == 401 {
            break (a, b);
        }
        assert!(
            ended.elapsed() < std::time::Duration::from_millis(1500),
            "still signed in"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        refused.0 != refused.1,
        "only the ended session: {refused:?}"
    );

    // Another instance deactivates the user: the remaining session ends too.
    other
        .execute_unprepared(&format!(
            "UPDATE users SET active = false WHERE id = {}",
            user.id.get()
        ))
        .await
        .unwrap();
    other
        .execute_unprepared(&format!(
            "DELETE FROM sessions WHERE user_id = {}",
            user.id.get()
        ))
        .await
        .unwrap();
    let ended = tokio::time::Instant::now();
    while me(app.client.clone()).await == 200 || me(second.clone()).await == 200 {
        assert!(
            ended.elapsed() < std::time::Duration::from_millis(1500),
            "still signed in"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
