//! The staff's order list: filters, search, sorting, the CSV export and paging.

use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::order_item;
use agency_hub::db::entities::user::Role;
use agency_hub::ids::{ClientId, TemplateId, UserId};
use agency_hub::money::Currency;
use chrono::{TimeZone, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait};

use crate::fixtures;
use crate::harness::{TestApp, spawn_app};

struct Row {
    number: String,
    client: ClientId,
    user: Option<UserId>,
    status: OrderStatus,
    payment: PaymentStatus,
    total: i64,
    refunded: i64,
    day: (u32, u32),
}

async fn insert(app: &TestApp, template_id: TemplateId, r: Row) {
    let at = Utc
        .with_ymd_and_hms(2026, r.day.0, r.day.1, 12, 0, 0)
        .unwrap();
    let o = order::Entity::insert(order::ActiveModel {
        order_number: Set(r.number),
        client_id: Set(r.client),
        user_id: Set(r.user),
        status: Set(r.status),
        payment_status: Set(r.payment),
        currency: Set(Currency::USD),
        subtotal_minor: Set(r.total),
        total_minor: Set(r.total),
        refunded_minor: Set(r.refunded),
        notes: Set(String::new()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    })
    .exec_with_returning(&app.db)
    .await
    .unwrap();
    order_item::Entity::insert(order_item::ActiveModel {
        order_id: Set(o.id),
        template_id: Set(template_id),
        service_name: Set("Logo Design".into()),
        unit_price_minor: Set(r.total / 2),
        quantity: Set(2),
        total_minor: Set(r.total),
        ..Default::default()
    })
    .exec_without_returning(&app.db)
    .await
    .unwrap();
}

/// The order numbers in a page's or a CSV's text, in their order.
fn numbers(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("T-0") {
        let n: String = rest[i..].chars().take(6).collect();
        if found.last() != Some(&n) {
            found.push(n);
        }
        rest = &rest[i + 6..];
    }
    found
}

#[tokio::test]
async fn the_staff_list_filters_searches_sorts_and_exports_what_it_shows() {
    let app = spawn_app().await;
    let globex = five_orders_of_acme_and_globex(&app).await;
    app.signed_in_as(Role::Admin).await;

    let all = app.page("/admin/orders").await;
    assert_eq!(
        numbers(&all),
        ["T-0005", "T-0003", "T-0004", "T-0002", "T-0001"],
        "newest first"
    );
    assert_each_query_shows_and_exports_its_orders(&app, globex).await;
    assert_the_totals_are_the_filtered_sets(&app, &all).await;
    let csv = app
        .get("/admin/orders/export.csv?q=T-0004")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("T-0004,2026-02-15T12:00:00+00:00,Globex,COMPLETED,SUCCEEDED,2,USD,300.00,0.00,0.00,300.00,50.00,"),
        "{csv}"
    );

    assert_bad_filters_are_named_and_refused(&app).await;
    let empty = app.page("/admin/orders?q=nobody").await;
    assert!(empty.contains("No order matches these filters"), "{empty}");
}

/// T-0001 to T-0005 in 2026, of every status, three of Acme's and two of Globex's (one bought
/// by pat@globex.example); returns Globex.
async fn five_orders_of_acme_and_globex(app: &TestApp) -> ClientId {
    let t = fixtures::for_sale(&app.db, "Logo Design", "Design", "50", "USD", 5).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await.id;
    let globex = fixtures::company(&app.db, "Globex").await.id;
    let buyer = app
        .create_user(Role::Client, "pat@globex.example", Some("Globex"))
        .await
        .id;
    use OrderStatus as O;
    use PaymentStatus as P;
    for r in [
        Row {
            number: "T-0001".into(),
            client: acme,
            user: None,
            status: O::Completed,
            payment: P::Succeeded,
            total: 10_000,
            refunded: 0,
            day: (1, 10),
        },
        Row {
            number: "T-0002".into(),
            client: acme,
            user: None,
            status: O::Pending,
            payment: P::Pending,
            total: 5_000,
            refunded: 0,
            day: (2, 1),
        },
        Row {
            number: "T-0003".into(),
            client: acme,
            user: None,
            status: O::Refunded,
            payment: P::Refunded,
            total: 20_000,
            refunded: 20_000,
            day: (3, 5),
        },
        Row {
            number: "T-0004".into(),
            client: globex,
            user: Some(buyer),
            status: O::Completed,
            payment: P::Succeeded,
            total: 30_000,
            refunded: 5_000,
            day: (2, 15),
        },
        Row {
            number: "T-0005".into(),
            client: globex,
            user: None,
            status: O::Cancelled,
            payment: P::Cancelled,
            total: 1_000,
            refunded: 0,
            day: (3, 20),
        },
    ] {
        insert(app, t.id, r).await;
    }
    globex
}

/// Each filter, search and sort lists its orders, and the CSV holds the same orders in the
/// same order.
async fn assert_each_query_shows_and_exports_its_orders(app: &TestApp, globex: ClientId) {
    for (query, expected) in [
        ("status=COMPLETED", vec!["T-0004", "T-0001"]),
        ("payment=REFUNDED", vec!["T-0003"]),
        (
            &format!("client={globex}") as &str,
            vec!["T-0005", "T-0004"],
        ),
        (
            "from=2026-02-01&to=2026-03-05",
            vec!["T-0003", "T-0004", "T-0002"],
        ),
        ("q=GLOBEX", vec!["T-0005", "T-0004"]),
        ("q=pat%40globex", vec!["T-0004"]),
        ("q=t-0002", vec!["T-0002"]),
        (
            "sort=total_desc",
            vec!["T-0004", "T-0003", "T-0001", "T-0002", "T-0005"],
        ),
        ("status=COMPLETED&sort=oldest", vec!["T-0001", "T-0004"]),
    ] {
        let html = app.page(&format!("/admin/orders?{query}")).await;
        assert_eq!(numbers(&html), expected, "{query}");
        let res = app.get(&format!("/admin/orders/export.csv?{query}")).await;
        assert_eq!(res.status(), 200);
        assert!(crate::harness::content_type(&res).starts_with("text/csv"));
        let csv = res.text().await.unwrap();
        assert!(csv.starts_with("order_number,created_at,client,"), "{csv}");
        assert_eq!(numbers(&csv), expected, "CSV of {query}");
        assert_eq!(csv.lines().count(), expected.len() + 1, "{csv}");
    }
}

/// The USD totals row of an order list's page.
fn usd_totals(html: &str) -> &str {
    let totals = &html[html.find("data-totals=\"USD\"").unwrap()..];
    &totals[..totals.find("</tr>").unwrap()]
}

/// The totals are those of the filtered set; unfiltered (`all`), there are none.
async fn assert_the_totals_are_the_filtered_sets(app: &TestApp, all: &str) {
    let completed = app.page("/admin/orders?status=COMPLETED").await;
    let totals = usd_totals(&completed);
    for cell in [">2<", "$400.00", "$50.00", "$350.00"] {
        assert!(totals.contains(cell), "{cell} in {totals}");
    }
    // The whole year: five orders, but only the paid ones' money ($100 + $200 + $300).
    assert!(all.contains("to see the totals") && !all.contains("data-totals"));
    let year = app
        .page("/admin/orders?from=2026-01-01&to=2026-12-31")
        .await;
    let totals = usd_totals(&year);
    for cell in [">5<", "$600.00", "$250.00", "$350.00"] {
        assert!(totals.contains(cell), "{cell} in {totals}");
    }
}

async fn assert_bad_filters_are_named_and_refused(app: &TestApp) {
    for (query, field) in [
        ("from=yesterday", "from"),
        ("status=LOST", "status"),
        ("sort=random", "sort"),
        ("from=2026-03-01&to=2026-02-01", "to"),
    ] {
        let res = app.get(&format!("/admin/orders?{query}")).await;
        assert!(res.status().is_client_error(), "{query}: {}", res.status());
        let body = res.text().await.unwrap();
        assert!(
            body.contains(field) || body.contains("date"),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn the_staff_list_pages_through_many_orders() {
    let app = spawn_app().await;
    let t = fixtures::for_sale(&app.db, "Logo Design", "Design", "50", "USD", 5).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await.id;
    for i in 0..51u32 {
        let r = Row {
            number: format!("P-{i:04}"),
            client: acme,
            user: None,
            status: OrderStatus::Completed,
            payment: PaymentStatus::Succeeded,
            total: 1_000,
            refunded: 0,
            day: (1 + i / 28, 1 + i % 28),
        };
        insert(&app, t.id, r).await;
    }
    app.signed_in_as(Role::Admin).await;
    let first = app.page("/admin/orders").await;
    assert_eq!(
        first
            .matches("<td class=\"row-title\"><a href=\"/admin/orders/")
            .count(),
        50
    );
    assert!(first.contains("P-0050") && !first.contains("P-0000"));
    assert!(first.contains("Next →") && !first.contains("← Previous"));
    let second = app.page("/admin/orders?page=2").await;
    assert_eq!(
        second
            .matches("<td class=\"row-title\"><a href=\"/admin/orders/")
            .count(),
        1
    );
    assert!(
        second.contains("P-0000") && second.contains("← Previous") && !second.contains("Next →")
    );
    let filtered = app.page("/admin/orders?status=COMPLETED&page=2").await;
    assert!(filtered.contains("51 orders match"), "{filtered}");
    assert!(
        filtered.contains("href=\"/admin/orders?status=COMPLETED&#38;page=1\""),
        "{filtered}"
    );
}
