//! The store dashboard's figures from a known data set, and the journey's events tracked.

use agency_hub::activity::Actor;
use std::collections::BTreeMap;

use agency_hub::analytics::dashboard::{self, Figures, Period};
use agency_hub::analytics::{Event, Kind};
use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::service::ServiceStatus;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{
    order_item, service, service_template, store_event, stripe_event, subscription,
};
use agency_hub::ids::{ClientId, TemplateId, UserId};
use agency_hub::money::{Currency, Money};
use agency_hub::provisioning::{self, Origin};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::fixtures;
use crate::harness::{TestApp, spawn_app};

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::USD)
}

async fn paid_order(
    app: &TestApp,
    number: &str,
    client: ClientId,
    user: UserId,
    at: chrono::DateTime<Utc>,
    lines: &[(TemplateId, &str, i32, i64)],
) -> Vec<order_item::Model> {
    let total: i64 = lines.iter().map(|l| i64::from(l.2) * l.3).sum();
    let o = order::Entity::insert(order::ActiveModel {
        order_number: Set(number.into()),
        client_id: Set(client),
        user_id: Set(Some(user)),
        status: Set(OrderStatus::Completed),
        payment_status: Set(PaymentStatus::Succeeded),
        currency: Set(Currency::USD),
        subtotal_minor: Set(total),
        total_minor: Set(total),
        paid_at: Set(Some(at)),
        notes: Set(String::new()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    })
    .exec_with_returning(&app.db)
    .await
    .unwrap();
    let mut items = Vec::new();
    for &(template, name, quantity, unit) in lines {
        items.push(
            order_item::Entity::insert(order_item::ActiveModel {
                order_id: Set(o.id),
                template_id: Set(template),
                service_name: Set(name.into()),
                unit_price_minor: Set(unit),
                quantity: Set(quantity),
                total_minor: Set(i64::from(quantity) * unit),
                ..Default::default()
            })
            .exec_with_returning(&app.db)
            .await
            .unwrap(),
        );
    }
    items
}

/// Ten store views by five client users, four carts, three checkouts, two paid, one refunded
/// in the last 30 days; one visitor who bought before that.
async fn known_data(app: &TestApp) {
    let now = Utc::now();
    let (t, old) = (now - Duration::days(2), now - Duration::days(40));
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "100", "USD", 5).await;
    let seo = fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "100", "USD", 5).await;
    let people = five_client_users(app).await;
    record_views_and_carts(app, &people, t, logo.id).await;
    record_checkouts_payments_and_a_refund(app, &people, t).await;
    // The period before: one visitor who bought for $80.
    record_an_earlier_purchase(app, people[0], old).await;

    // The two paid orders (for the top services), and their services: one started.
    two_paid_orders_with_one_service_started(app, &people, t, &logo, &seo).await;
    // Five Stripe events handled in 10, 20, 30, 40 and 100 ms.
    for (i, ms) in [10, 20, 30, 40, 100].into_iter().enumerate() {
        stripe_event::Entity::insert(stripe_event::ActiveModel {
            id: Set(format!("evt_m{i}")),
            event_type: Set("checkout.session.completed".into()),
            order_id: Set(None),
            outcome: Set("fulfilled".into()),
            error: Set(None),
            received_at: Set(t),
            processed_at: Set(Some(t + Duration::milliseconds(ms))),
            payload: Set(None),
        })
        .exec_without_returning(&app.db)
        .await
        .unwrap();
    }
}

/// A client user of each of five companies.
type People = Vec<(UserId, ClientId)>;

async fn five_client_users(app: &TestApp) -> People {
    let mut people = Vec::new();
    for i in 1..=5 {
        let u = app
            .create_user(
                Role::Client,
                &format!("u{i}@example.com"),
                Some(&format!("Company {i}")),
            )
            .await;
        people.push((u.id, u.client_id.unwrap()));
    }
    people
}

fn event(kind: Kind, (user, client): (UserId, ClientId), at: DateTime<Utc>) -> Event {
    Event::new(kind, Some(client), Some(user)).at(at)
}

/// Ten store views by the five; the first four view Logo Design and add it to their cart.
async fn record_views_and_carts(
    app: &TestApp,
    people: &People,
    t: DateTime<Utc>,
    logo: TemplateId,
) {
    for (i, views) in [3, 2, 2, 2, 1].into_iter().enumerate() {
        for _ in 0..views {
            event(Kind::StoreView, people[i], t)
                .record(&app.db)
                .await
                .unwrap();
        }
    }
    for &who in &people[..4] {
        event(Kind::ProductView, who, t)
            .template(logo)
            .record(&app.db)
            .await
            .unwrap();
        event(Kind::AddToCart, who, t)
            .template(logo)
            .quantity(1)
            .amount(usd(10_000))
            .record(&app.db)
            .await
            .unwrap();
    }
}

/// Three checkouts: the first two paid ($100, $200), the third's payment failed; $50 of the
/// second refunded.
async fn record_checkouts_payments_and_a_refund(app: &TestApp, people: &People, t: DateTime<Utc>) {
    for (i, amount) in [(0, 10_000), (1, 20_000), (2, 30_000)] {
        event(Kind::CheckoutStarted, people[i], t)
            .amount(usd(amount))
            .record(&app.db)
            .await
            .unwrap();
    }
    for (kind, i, amount) in [
        (Kind::Paid, 0, 10_000),
        (Kind::Paid, 1, 20_000),
        (Kind::PaymentFailed, 2, 30_000),
        (Kind::Refunded, 1, 5_000),
    ] {
        event(kind, people[i], t)
            .amount(usd(amount))
            .record(&app.db)
            .await
            .unwrap();
    }
}

/// The whole journey of one visitor, ending in an $80 payment, at `old`.
async fn record_an_earlier_purchase(app: &TestApp, who: (UserId, ClientId), old: DateTime<Utc>) {
    for kind in [
        Kind::StoreView,
        Kind::ProductView,
        Kind::AddToCart,
        Kind::CheckoutStarted,
        Kind::Paid,
    ] {
        event(kind, who, old)
            .amount(usd(8_000))
            .record(&app.db)
            .await
            .unwrap();
    }
}

/// SEO Audit ×1 bought by the first person, Logo Design ×2 by the second; a service each, the
/// Logo Design one in progress.
async fn two_paid_orders_with_one_service_started(
    app: &TestApp,
    people: &People,
    t: DateTime<Utc>,
    logo: &service_template::Model,
    seo: &service_template::Model,
) {
    let a = paid_order(
        app,
        "M-1",
        people[0].1,
        people[0].0,
        t,
        &[(seo.id, "SEO Audit", 1, 10_000)],
    )
    .await;
    let b = paid_order(
        app,
        "M-2",
        people[1].1,
        people[1].0,
        t,
        &[(logo.id, "Logo Design", 2, 10_000)],
    )
    .await;
    for (item, template) in [(&a[0], seo), (&b[0], logo)] {
        provisioning::provision_service(
            &app.db,
            &Actor::System,
            template,
            if item.id == a[0].id {
                people[0].1
            } else {
                people[1].1
            },
            Origin::Purchase {
                order_item_id: item.id,
                unit: 1,
            },
            t,
        )
        .await
        .unwrap();
    }
    service::Entity::update_many()
        .col_expr(
            service::Column::Status,
            Expr::value(ServiceStatus::InProgress),
        )
        .filter(service::Column::Name.eq("Logo Design"))
        .exec(&app.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_dashboard_figure_comes_from_a_known_data_set() {
    // No background work: no catalog sync, so no Stripe event but the five below.
    let app = crate::harness::spawn_app_without_background_work().await;
    known_data(&app).await;
    let p = Period::last_days(30, Utc::now() + Duration::seconds(1));
    let f = dashboard::figures(&app.db, &p).await.unwrap();
    assert_the_last_30_days_figures(&f);

    let before = dashboard::figures(&app.db, &p.previous()).await.unwrap();
    assert_eq!(
        (
            before.orders,
            before.net.clone(),
            before.visitors,
            before.buyers
        ),
        (1, usd_only(8_000), 1, 1)
    );

    app.signed_in_as(Role::Admin).await;
    assert_the_page_shows_them_with_the_period_before(&app).await;
    assert_other_periods_and_bad_input(&app).await;
}

fn usd_only(minor: i64) -> BTreeMap<Currency, i64> {
    BTreeMap::from([(Currency::USD, minor)])
}

fn assert_the_last_30_days_figures(f: &Figures) {
    assert_eq!(f.paid, usd_only(30_000));
    assert_eq!(f.refunded, usd_only(5_000));
    assert_eq!(f.net, usd_only(25_000));
    assert_eq!(f.orders, 2);
    assert_eq!(f.average_order, usd_only(15_000));
    assert_eq!((f.visitors, f.buyers), (5, 2));
    assert_eq!(f.conversion(), Some(0.4));
    assert_eq!(f.checkouts, 3);
    assert_eq!(f.payment_success(), Some(2.0 / 3.0));
    assert_eq!(f.checkout_abandonment(), Some(1.0 / 3.0));
    assert_eq!((f.carts, f.carts_left), (4, 1));
    assert_eq!(f.cart_abandonment(), Some(0.25));
    assert_eq!((f.services_bought, f.services_started), (2, 1));
    assert_eq!(f.refunds, 1);
    assert_eq!(f.payment_failures, 1);
    assert_eq!((f.webhook_p50_ms, f.webhook_p95_ms), (Some(30), Some(100)));
    assert_eq!(f.funnel, [5, 4, 0, 4, 3, 2]);
    let top: Vec<(&str, i64, i64)> = f
        .top_by_revenue
        .iter()
        .map(|t| (t.name.as_str(), t.units, t.revenue_minor))
        .collect();
    assert_eq!(top, [("Logo Design", 2, 20_000), ("SEO Audit", 1, 10_000)]);
    assert_eq!(f.series.iter().map(|d| d.orders).sum::<i64>(), 2);
    assert_eq!(
        f.series.iter().map(|d| d.revenue_minor).sum::<i64>(),
        30_000
    );
    assert!(f.series.len() >= 30, "a bar a day");
}

/// The stat box of `label` on the dashboard's page, up to its end.
fn stat<'a>(html: &'a str, label: &str) -> &'a str {
    let start = html
        .find(&format!("data-stat=\"{label}\""))
        .unwrap_or_else(|| panic!("{label}"));
    let rest = &html[start..];
    &rest[..rest.find("</div>").unwrap()]
}

async fn assert_the_page_shows_them_with_the_period_before(app: &TestApp) {
    let html = app.page("/admin/metrics?period=30").await;
    // No figure before: nothing said of it (no "before: —").
    assert!(!stat(&html, "Service activation").contains("before"));
    for (label, parts) in [
        (
            "Net revenue",
            vec![
                "$250.00",
                "paid $300.00, less $50.00 refunded",
                "before: $80.00",
                "+212%",
            ],
        ),
        ("Orders", vec![">2<", "before: 1", "+100%"]),
        ("Average order", vec!["$150.00", "before: $80.00"]),
        (
            "Store conversion",
            vec!["40.0%", "before: 100.0%", "-60.0 pts"],
        ),
        ("Checkout abandonment", vec!["33.3%", "before: 0.0%"]),
        ("Cart abandonment", vec!["25.0%", "before: 0.0%"]),
        ("Payment success", vec!["66.7%", "before: 100.0%"]),
        ("Service activation", vec!["50.0%"]),
        ("Refunds", vec![">1<", "before: 0"]),
        ("Refunded", vec!["$50.00"]),
        ("Webhook", vec!["p50 30 ms · p95 100 ms"]),
    ] {
        let s = stat(&html, label);
        for part in parts {
            assert!(s.contains(part), "{label}: {part} in {s}");
        }
    }
    for text in [
        "5 · 100%",
        "4 · 80%",
        "3 · 60%",
        "2 · 40%",
        "<title id=\"funnel-t\">",
        "Paid per day (USD)",
        "<title>Store metrics · ",
        "Each person counts once a step: 2 people paid the period's 2 orders.",
    ] {
        assert!(html.contains(text), "{text}");
    }
    let revenue_table = &html[html.find("Top services by revenue").unwrap()..];
    assert!(revenue_table.find("Logo Design").unwrap() < revenue_table.find("SEO Audit").unwrap());
}

async fn assert_other_periods_and_bad_input(app: &TestApp) {
    assert!(
        app.page("/admin/metrics?period=7")
            .await
            .contains("data-stat=\"Orders\"")
    );
    let custom = app
        .page("/admin/metrics?period=custom&from=2026-01-01&to=2026-01-31")
        .await;
    assert!(
        custom.contains("2026-01-01 to 2026-01-31") && custom.contains("Nothing happened"),
        "{custom}"
    );
    for (query, field) in [
        ("period=12", "period"),
        ("period=custom&from=x&to=2026-01-01", "date"),
        ("period=custom&from=2026-02-01&to=2026-01-01", "before"),
    ] {
        let res = app.get(&format!("/admin/metrics?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        assert!(res.text().await.unwrap().contains(field), "{query}");
    }
}

#[tokio::test]
async fn only_admins_see_the_store_dashboard() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Manager).await;
    assert_eq!(app.get("/admin/metrics").await.status(), 403);
}

#[tokio::test]
async fn the_journey_is_tracked_from_the_cart_to_the_refund() {
    let app = spawn_app().await;
    crate::purchase::shopping(&app).await;
    assert_eq!(app.get("/store").await.status(), 200);
    let (order_id, url) = crate::purchase::start_checkout(&app).await;
    assert_eq!(
        crate::purchase::pay(&url, "4242 4242 4242 4242")
            .await
            .status(),
        303
    );
    let paid = crate::purchase::wait_for_order(&app, order_id, OrderStatus::Completed).await;
    let res = crate::harness::browser()
        .post(format!("{}/v1/refunds", app.emulator))
        .bearer_auth("sk_test_tests")
        .form(&[
            (
                "payment_intent",
                paid.stripe_payment_intent_id.unwrap().as_str(),
            ),
            ("amount", "5000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for _ in 0..100 {
        if order::Entity::find_by_id(order_id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .refunded_minor
            == 5_000
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.state.views.flush().await;
    let events = store_event::Entity::find().all(&app.db).await.unwrap();
    let count = |k: Kind| events.iter().filter(|e| e.kind == k.as_str()).count();
    assert_eq!(count(Kind::StoreView), 1);
    assert_eq!(count(Kind::AddToCart), 2);
    assert_eq!(count(Kind::CheckoutStarted), 1);
    assert_eq!(count(Kind::Paid), 1);
    assert_eq!(count(Kind::Refunded), 1);
    let paid_event = events.iter().find(|e| e.kind == "paid").unwrap();
    assert_eq!(
        (paid_event.amount_minor, paid_event.currency),
        (Some(119_900), Some(Currency::USD))
    );
    assert!(paid_event.client_id.is_some() && paid_event.user_id.is_some());
    let refunded = events.iter().find(|e| e.kind == "refunded").unwrap();
    assert_eq!(refunded.amount_minor, Some(5_000));
}

/// Views are written in batches, off the request: a burst of 10,000 (from 50 users, queued
/// from 10 tasks at once) and 256 store pages fetched 64 at a time are each counted exactly
/// once flushed, and the dashboard's visitors are exact.
#[tokio::test]
async fn a_burst_of_10000_views_is_counted_exactly_after_a_flush() {
    let app = spawn_app().await;
    let client = app.signed_in_as(Role::Client).await;
    let company = fixtures::company(&app.db, "Burst Co").await;
    let mut people = Vec::new();
    for i in 0..50 {
        let u = app
            .create_user(
                Role::Client,
                &format!("viewer{i}@burst.example"),
                Some("Burst Co"),
            )
            .await;
        people.push(u.id);
    }
    let tasks: Vec<_> = (0..10)
        .map(|t| {
            let (views, people) = (app.state.views.clone(), people.clone());
            tokio::spawn(async move {
                for i in 0..1000 {
                    let who = people[(t * 1000 + i) % people.len()];
                    views
                        .record(Event::new(Kind::StoreView, Some(company.id), Some(who)))
                        .await;
                }
            })
        })
        .collect();
    let pages: Vec<_> = (0..64)
        .map(|_| {
            let (http, url) = (app.client.clone(), app.url("/api/store/services"));
            tokio::spawn(async move {
                for _ in 0..4 {
                    let res = http.get(&url).send().await.unwrap();
                    assert_eq!(res.status(), 200);
                }
            })
        })
        .collect();
    for t in tasks.into_iter().chain(pages) {
        t.await.unwrap();
    }
    app.state.views.flush().await;

    let views = store_event::Entity::find()
        .filter(store_event::Column::Kind.eq(Kind::StoreView.as_str()))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(views.len(), 10_000 + 256);
    let of_client = views
        .iter()
        .filter(|v| v.user_id == Some(client.id))
        .count();
    assert_eq!(of_client, 256, "each page fetched is one view");
    let figures = dashboard::figures(&app.db, &Period::last_days(1, Utc::now()))
        .await
        .unwrap();
    assert_eq!(figures.visitors, 51);
}

fn eur_currency() -> Currency {
    Currency::parse("EUR").unwrap()
}

/// A subscription of `item`'s order in `status`, as checkout would have left it.
#[allow(clippy::too_many_arguments)]
async fn subscription_row(
    app: &TestApp,
    item: &order_item::Model,
    client: ClientId,
    status: &str,
    (currency, unit, quantity): (&str, i64, i32),
    (interval, count): (&str, i32),
    paused: bool,
) {
    let now = Utc::now();
    subscription::Entity::insert(subscription::ActiveModel {
        client_id: Set(client),
        template_id: Set(item.template_id),
        order_id: Set(item.order_id),
        order_item_id: Set(item.id),
        stripe_subscription_id: Set(format!("sub_known_{}", item.id)),
        status: Set(status.into()),
        quantity: Set(quantity),
        unit_amount_minor: Set(unit),
        currency: Set(currency.into()),
        interval: Set(interval.into()),
        interval_count: Set(count),
        cancel_at_period_end: Set(false),
        pause_behavior: Set(paused.then(|| "void".to_string())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn mrr_and_churn_match_a_known_data_set() {
    let app = crate::harness::spawn_app_without_background_work().await;
    let care = fixtures::for_sale(&app.db, "Care", "Retainers", "100", "USD", 5).await;
    let people = five_client_users(&app).await;
    let (now, old) = (Utc::now(), Utc::now() - Duration::days(40));
    let t = now - Duration::days(2);
    // Running: every interval, two currencies, overdue, a trial and a paused one; one ended.
    let running = [
        ("active", ("USD", 14_900, 2), ("month", 1), false), // $298.00 a month
        ("active", ("USD", 30_000, 1), ("month", 3), false), // $100.00
        ("past_due", ("USD", 120_000, 1), ("year", 1), false), // $100.00
        ("active", ("USD", 1_000, 1), ("week", 1), false),   // $43.33
        ("active", ("EUR", 100, 1), ("day", 1), false),      // €30.42
        ("trialing", ("USD", 50_000, 1), ("month", 1), false), // not yet paying
        ("active", ("USD", 9_900, 1), ("month", 1), true),   // paused: not collected
        ("canceled", ("USD", 20_000, 1), ("month", 1), false), // ended
    ];
    for (i, (status, price, every, paused)) in running.into_iter().enumerate() {
        let (user, client) = people[i % people.len()];
        let items = paid_order(
            &app,
            &format!("S-{i}"),
            client,
            user,
            old,
            &[(care.id, "Care", 1, 0)],
        )
        .await;
        subscription_row(&app, &items[0], client, status, price, every, paused).await;
    }
    // In the last 30 days: three new, one back after an end, two ended; a first invoice in an
    // order of $800 (of which $300 recurring), and renewals of $298 + $100 and €1.
    let c = people[0];
    let mut events = vec![
        event(Kind::SubscriptionStarted, c, t),
        event(Kind::SubscriptionStarted, c, t),
        event(Kind::SubscriptionStarted, c, t),
        event(Kind::SubscriptionReactivated, c, t),
        event(Kind::SubscriptionEnded, c, t),
        event(Kind::SubscriptionEnded, c, t),
        event(Kind::Paid, c, t).amount(usd(80_000)),
        event(Kind::RecurringPaid, c, t).amount(usd(30_000)),
    ];
    for (amount, currency) in [
        (29_800, Currency::USD),
        (10_000, Currency::USD),
        (100, eur_currency()),
    ] {
        let money = Money::new(amount, currency);
        events.push(event(Kind::RenewalPaid, c, t).amount(money));
        events.push(event(Kind::RecurringPaid, c, t).amount(money));
    }
    // The 30 days before: one new.
    events.push(event(Kind::SubscriptionStarted, c, old));
    Event::record_many(&app.db, events).await.unwrap();

    let p = Period::last_days(30, now + Duration::seconds(1));
    let f = dashboard::figures(&app.db, &p).await.unwrap();
    let eur = |m| (eur_currency(), m);
    assert_eq!(
        f.mrr,
        BTreeMap::from([
            (Currency::USD, 29_800 + 10_000 + 10_000 + 4_333),
            eur(3_042)
        ])
    );
    assert_eq!(f.subscriptions_active, 7);
    assert_eq!(
        (
            f.subscriptions_new,
            f.subscriptions_churned,
            f.subscriptions_reactivated
        ),
        (3, 2, 1)
    );
    assert_eq!(f.paid, usd_only(80_000));
    assert_eq!(
        f.renewals,
        BTreeMap::from([(Currency::USD, 39_800), eur(100)])
    );
    assert_eq!(f.net, BTreeMap::from([(Currency::USD, 119_800), eur(100)]));
    assert_eq!(
        f.recurring,
        BTreeMap::from([(Currency::USD, 69_800), eur(100)])
    );
    assert_eq!(
        f.one_time,
        BTreeMap::from([(Currency::USD, 50_000), eur(0)])
    );
    let before = dashboard::figures(&app.db, &p.previous()).await.unwrap();
    assert_eq!(
        (before.subscriptions_new, before.subscriptions_churned),
        (1, 0)
    );

    app.signed_in_as(Role::Admin).await;
    let html = app.page("/admin/metrics?period=30").await;
    for (label, parts) in [
        ("MRR", vec!["$541.33", "€30.42"]),
        ("Active subscriptions", vec![">7<"]),
        ("New subscriptions", vec![">3<", "before: 1"]),
        ("Churned subscriptions", vec![">2<", "before: 0"]),
        ("Reactivated subscriptions", vec![">1<", "before: 0"]),
        ("Recurring revenue", vec!["$698.00", "€1.00"]),
        ("One-time revenue", vec!["$500.00"]),
        ("Net revenue", vec!["$1,198.00", "€1.00"]),
    ] {
        let s = stat(&html, label);
        for part in parts {
            assert!(s.contains(part), "{label}: {part} in {s}");
        }
    }
}
