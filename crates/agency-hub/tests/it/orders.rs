//! After payment: the client's order history, the staff's order list and page, refunds from
//! both directions, cancelling, running fulfilment again, and webhook health.

use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::service::ServiceStatus;
use agency_hub::db::entities::task::TaskStatus;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{activity, email, order_item, service, stripe_event, task};
use agency_hub::ids::{ClientId, OrderId, OrderItemId, ServiceId, TemplateId, UserId};
use agency_hub::money::Currency;
use chrono::{TimeZone, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::checkout::{
    control, emulator_events, emulator_get, pay, post_event, shopping, start_checkout,
    wait_for_order,
};
use crate::fixtures;
use crate::harness::{PASSWORD, TestApp, browser, spawn_app};

/// A paid order of Acme (Logo Design ×1, SEO Audit ×2: $1,199.00, three services), bought by
/// the signed-in client; a manager exists.
async fn paid_order(app: &TestApp) -> order::Model {
    shopping(app).await;
    let (order_id, url) = start_checkout(app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    wait_for_order(app, order_id, OrderStatus::Completed).await
}

async fn reload(app: &TestApp, id: OrderId) -> order::Model {
    order::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn services_of(app: &TestApp, order_id: OrderId) -> Vec<service::Model> {
    let items: Vec<OrderItemId> = order_item::Entity::find()
        .filter(order_item::Column::OrderId.eq(order_id))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    let mut s = service::Entity::find()
        .filter(service::Column::OrderItemId.is_in(items))
        .all(&app.db)
        .await
        .unwrap();
    s.sort_by_key(|s| s.id);
    s
}

async fn emails_of_kind(app: &TestApp, kind: &str) -> Vec<email::Model> {
    email::Entity::find()
        .filter(email::Column::Kind.eq(kind))
        .all(&app.db)
        .await
        .unwrap()
}

async fn actions_on(app: &TestApp, order_id: OrderId, action: &str) -> Vec<activity::Model> {
    activity::Entity::find()
        .filter(activity::Column::EntityType.eq("order"))
        .filter(activity::Column::EntityId.eq(order_id))
        .filter(activity::Column::Action.eq(action))
        .all(&app.db)
        .await
        .unwrap()
}

/// Signs an admin in on a browser of its own; the client's browser is returned.
async fn as_admin(app: &mut TestApp) -> reqwest::Client {
    let client = app.switch_browser(browser());
    app.signed_in_as(Role::Admin).await;
    client
}

#[tokio::test]
async fn a_client_sees_its_companys_orders_and_no_one_elses() {
    let mut app = spawn_app().await;
    let o = paid_order(&app).await;

    let list = app.page("/store/orders").await;
    assert!(list.contains(&o.order_number), "{list}");
    assert!(
        list.contains("$1,199.00") && list.contains("Paid"),
        "{list}"
    );
    let page = app.page(&format!("/store/orders/{}", o.id)).await;
    for text in [
        "Logo Design",
        "SEO Audit",
        "$350.00",
        "$700.00",
        "Order placed",
        "Paid by card",
    ] {
        assert!(page.contains(text), "{text} in {page}");
    }
    assert_eq!(page.matches("href=\"/my/services/").count(), 3, "{page}");
    let receipt = app.page(&format!("/store/orders/{}/receipt", o.id)).await;
    assert!(receipt.contains(&o.order_number) && receipt.contains("Acme Corp"));

    let api: Value = app.get("/api/store/orders").await.json().await.unwrap();
    assert_eq!(api["pagination"]["totalItems"], 1);
    assert_eq!(api["data"][0]["orderNumber"], o.order_number.as_str());
    assert_eq!(api["data"][0]["items"], 3);
    assert_eq!(api["data"][0]["total"]["amountMinor"], 119_900);
    let one: Value = app
        .get(&format!("/api/store/orders/{}", o.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["lines"].as_array().unwrap().len(), 2);
    assert_eq!(one["services"].as_array().unwrap().len(), 3);
    assert_eq!(one["status"], "COMPLETED");

    // Another company sees none of it.
    app.switch_browser(browser());
    app.create_user(Role::Client, "buyer@globex.example", Some("Globex"))
        .await;
    assert_eq!(
        app.sign_in("buyer@globex.example", PASSWORD).await.status(),
        303
    );
    let empty = app.page("/store/orders").await;
    assert!(empty.contains("No orders yet"), "{empty}");
    assert!(!empty.contains(&o.order_number));
    for path in [
        format!("/store/orders/{}", o.id),
        format!("/store/orders/{}/receipt", o.id),
        format!("/api/store/orders/{}", o.id),
    ] {
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
    }
    let api: Value = app.get("/api/store/orders").await.json().await.unwrap();
    assert_eq!(api["pagination"]["totalItems"], 0);
    // Staff pages are not for clients.
    assert_eq!(app.get("/admin/orders").await.status(), 403);
}

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
        insert(&app, t.id, r).await;
    }
    app.signed_in_as(Role::Admin).await;

    let all = app.page("/admin/orders").await;
    assert_eq!(
        numbers(&all),
        ["T-0005", "T-0003", "T-0004", "T-0002", "T-0001"],
        "newest first"
    );
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
        // The CSV holds the same orders in the same order.
        let res = app.get(&format!("/admin/orders/export.csv?{query}")).await;
        assert_eq!(res.status(), 200);
        assert!(crate::harness::content_type(&res).starts_with("text/csv"));
        let csv = res.text().await.unwrap();
        assert!(csv.starts_with("order_number,created_at,client,"), "{csv}");
        assert_eq!(numbers(&csv), expected, "CSV of {query}");
        assert_eq!(csv.lines().count(), expected.len() + 1, "{csv}");
    }
    // The totals are those of the filtered set.
    let completed = app.page("/admin/orders?status=COMPLETED").await;
    let totals = &completed[completed.find("data-totals=\"USD\"").unwrap()..];
    let totals = &totals[..totals.find("</tr>").unwrap()];
    for cell in [">2<", "$400.00", "$50.00", "$350.00"] {
        assert!(totals.contains(cell), "{cell} in {totals}");
    }
    // The whole year: five orders, but only the paid ones' money ($100 + $200 + $300).
    assert!(all.contains("to see the totals") && !all.contains("data-totals"));
    let year = app
        .page("/admin/orders?from=2026-01-01&to=2026-12-31")
        .await;
    let totals = &year[year.find("data-totals=\"USD\"").unwrap()..];
    let totals = &totals[..totals.find("</tr>").unwrap()];
    for cell in [">5<", "$600.00", "$250.00", "$350.00"] {
        assert!(totals.contains(cell), "{cell} in {totals}");
    }
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

    // Bad filters are named and refused.
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
    let empty = app.page("/admin/orders?q=nobody").await;
    assert!(empty.contains("No order matches these filters"), "{empty}");
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
    assert_eq!(first.matches("<td><a href=\"/admin/orders/").count(), 50);
    assert!(first.contains("P-0050") && !first.contains("P-0000"));
    assert!(first.contains("Next →") && !first.contains("← Previous"));
    let second = app.page("/admin/orders?page=2").await;
    assert_eq!(second.matches("<td><a href=\"/admin/orders/").count(), 1);
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

#[tokio::test]
async fn a_partial_then_a_full_refund_from_the_admin_cancels_unstarted_services_and_flags_the_others()
 {
    let mut app = spawn_app().await;
    let o = paid_order(&app).await;
    let client_browser = as_admin(&mut app).await;
    // The logo's work has started; the two audits' has not.
    let services = services_of(&app, o.id).await;
    assert_eq!(services.len(), 3);
    let logo = services
        .iter()
        .find(|s| s.name == "Logo Design")
        .unwrap()
        .id;
    task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(TaskStatus::InProgress))
        .filter(task::Column::ServiceId.eq(logo))
        .exec(&app.db)
        .await
        .unwrap();
    let path = format!("/admin/orders/{}/refund", o.id);

    // The first step only asks for a confirmation.
    let res = app
        .post_form(
            &path,
            &[("amount", "100"), ("reason", "requested_by_customer")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Confirm the refund of $100.00"), "{html}");
    assert_eq!(
        reload(&app, o.id).await.refunded_minor,
        0,
        "nothing refunded yet"
    );

    let res = app
        .post_form(
            &path,
            &[
                ("amount", "100"),
                ("reason", "requested_by_customer"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let partly = reload(&app, o.id).await;
    assert_eq!(
        (partly.refunded_minor, partly.status),
        (10_000, OrderStatus::Completed)
    );
    assert!(
        services_of(&app, o.id)
            .await
            .iter()
            .all(|s| s.status == ServiceStatus::ToDo && s.review_reason.is_none())
    );

    // An amount that is not one, and a reason Stripe does not know, are refused by name.
    for (amount, reason, says) in [
        ("lots", "duplicate", "is not an amount"),
        ("0", "duplicate", "above zero"),
        ("10", "whim", "Choose a reason"),
    ] {
        let res = app
            .post_form(
                &path,
                &[("amount", amount), ("reason", reason), ("confirm", "yes")],
            )
            .await;
        assert_eq!(res.status(), 400, "{amount} {reason}");
        assert!(res.text().await.unwrap().contains(says), "{says}");
    }
    assert_eq!(reload(&app, o.id).await.refunded_minor, 10_000);

    // More than remains is refused, with what remains.
    let res = app
        .post_form(
            &path,
            &[
                ("amount", "1100"),
                ("reason", "requested_by_customer"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("At most $1,099.00 remains to refund"),
        "{html}"
    );
    assert_eq!(reload(&app, o.id).await.refunded_minor, 10_000);

    let res = app
        .post_form(
            &path,
            &[
                ("amount", "1099"),
                ("reason", "duplicate"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let refunded = reload(&app, o.id).await;
    assert_eq!(
        (
            refunded.status,
            refunded.payment_status,
            refunded.refunded_minor
        ),
        (OrderStatus::Refunded, PaymentStatus::Refunded, 119_900)
    );
    let after = services_of(&app, o.id).await;
    let logo_after = after.iter().find(|s| s.id == logo).unwrap();
    assert_eq!(
        logo_after.status,
        ServiceStatus::ToDo,
        "started work is left to a manager"
    );
    assert!(logo_after.review_reason.is_some());
    assert_eq!(
        after
            .iter()
            .filter(|s| s.status == ServiceStatus::Cancelled)
            .count(),
        2
    );
    // The admin's page lists the service to decide on; Stripe's events change nothing more.
    let page = app.page(&format!("/admin/orders/{}", o.id)).await;
    assert!(
        page.contains("work had started: finish it or cancel it"),
        "{page}"
    );
    wait_for_refund_events(&app, 2).await;
    assert_eq!(reload(&app, o.id).await.refunded_minor, 119_900);
    assert_eq!(
        emails_of_kind(&app, "refund_issued").await.len(),
        2,
        "the client, once a refund"
    );
    let staff = emails_of_kind(&app, "order_refunded").await;
    assert_eq!(staff.len(), 4, "manager and admin, each refund");
    assert!(
        staff
            .iter()
            .any(|e| e.payload["to_review"] == json!(["Logo Design"]))
    );
    assert_eq!(actions_on(&app, o.id, "order.refunded").await.len(), 2);

    // A manager decides on the flagged service from its page: going on clears the flag, once.
    let service_page = app.page(&format!("/services/{logo}")).await;
    assert!(service_page.contains("data-review") && service_page.contains("Go on with the work"));
    assert_eq!(
        app.post_form(&format!("/services/{logo}/keep"), &[])
            .await
            .status(),
        303
    );
    let kept = service::Entity::find_by_id(logo)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.status, kept.review_reason),
        (ServiceStatus::ToDo, None)
    );
    assert_eq!(
        app.post_form(&format!("/services/{logo}/keep"), &[])
            .await
            .status(),
        409
    );
    assert!(
        !app.page(&format!("/services/{logo}"))
            .await
            .contains("data-review")
    );

    // The client sees it refunded.
    app.switch_browser(client_browser);
    let mine = app.page(&format!("/store/orders/{}", o.id)).await;
    assert!(
        mine.contains("Refunded") && mine.contains("-$1,199.00"),
        "{mine}"
    );
}

/// Waits until the app has recorded `n` charge.refunded events.
async fn wait_for_refund_events(app: &TestApp, n: u64) {
    for _ in 0..200 {
        let got = stripe_event::Entity::find()
            .filter(stripe_event::Column::EventType.eq("charge.refunded"))
            .count(&app.db)
            .await
            .unwrap();
        if got >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{n} charge.refunded events never arrived");
}

#[tokio::test]
async fn a_refund_made_in_stripes_dashboard_gives_the_same_state_and_duplicates_change_nothing() {
    let app = spawn_app().await;
    let o = paid_order(&app).await;
    let pi = o.stripe_payment_intent_id.clone().unwrap();
    // A refund in Stripe's dashboard: the app hears of it only by charge.refunded.
    let res = browser()
        .post(format!("{}/v1/refunds", app.emulator))
        .bearer_auth("sk_test_tests")
        .form(&[("payment_intent", pi.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let refunded = wait_for_order(&app, o.id, OrderStatus::Refunded).await;
    assert_eq!(
        (refunded.payment_status, refunded.refunded_minor),
        (PaymentStatus::Refunded, 119_900)
    );
    assert!(
        services_of(&app, o.id)
            .await
            .iter()
            .all(|s| s.status == ServiceStatus::Cancelled)
    );
    assert_eq!(emails_of_kind(&app, "refund_issued").await.len(), 1);

    // The same event three more times, and an older figure arriving late: nothing changes.
    let event = emulator_events(&app, "charge.refunded").await.remove(0);
    let id = event["id"].as_str().unwrap();
    control(&app, &format!("events/{id}/deliver"), &[("times", "3")]).await;
    let mut stale = event.clone();
    stale["id"] = json!("evt_stale_partial");
    stale["data"]["object"]["amount_refunded"] = json!(5_000);
    let res = post_event(&app, &stale).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["outcome"], "ignored");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(reload(&app, o.id).await.refunded_minor, 119_900);
    assert_eq!(emails_of_kind(&app, "refund_issued").await.len(), 1);
    assert_eq!(actions_on(&app, o.id, "order.refunded").await.len(), 1);
}

#[tokio::test]
async fn an_admin_cancels_a_pending_order_and_runs_fulfilment_again_and_both_are_logged() {
    let mut app = spawn_app().await;
    let paid = paid_order(&app).await;
    // A second, unpaid checkout.
    let item = order_item::Entity::find()
        .filter(order_item::Column::OrderId.eq(paid.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let added = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": item.template_id, "quantity": 1}),
        )
        .await;
    assert_eq!(added.status(), 201);
    let (pending, _) = start_checkout(&app).await;
    as_admin(&mut app).await;

    let res = app
        .post_form(&format!("/admin/orders/{pending}/cancel"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let cancelled = reload(&app, pending).await;
    assert_eq!(
        (cancelled.status, cancelled.payment_status),
        (OrderStatus::Cancelled, PaymentStatus::Cancelled)
    );
    let session = emulator_get(
        &app,
        &format!(
            "/v1/checkout/sessions/{}",
            cancelled.stripe_session_id.unwrap()
        ),
    )
    .await;
    assert_eq!(session["status"], "expired");
    let logged = actions_on(&app, pending, "order.cancelled").await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].actor_name, "Admin user");
    // A paid order cannot be cancelled.
    let res = app
        .post_form(&format!("/admin/orders/{}/cancel", paid.id), &[])
        .await;
    assert_eq!(res.status(), 409);

    // Services lost: running fulfilment again makes them, once.
    let lost: Vec<ServiceId> = services_of(&app, paid.id)
        .await
        .iter()
        .map(|s| s.id)
        .collect();
    task::Entity::delete_many()
        .filter(task::Column::ServiceId.is_in(lost.clone()))
        .exec(&app.db)
        .await
        .unwrap();
    service::Entity::delete_many()
        .filter(service::Column::Id.is_in(lost))
        .exec(&app.db)
        .await
        .unwrap();
    let health = app.page("/admin/orders").await;
    assert!(
        health.contains("without their services") && health.contains(&paid.order_number),
        "{health}"
    );
    for _ in 0..2 {
        let res = app
            .post_form(&format!("/admin/orders/{}/fulfil", paid.id), &[])
            .await;
        assert_eq!(res.status(), 303);
    }
    assert_eq!(services_of(&app, paid.id).await.len(), 3);
    assert_eq!(
        actions_on(&app, paid.id, "order.fulfilment_rerun")
            .await
            .len(),
        2
    );
    assert_eq!(
        actions_on(&app, paid.id, "order.provisioned").await.len(),
        1
    );
    assert!(
        !app.page("/admin/orders")
            .await
            .contains("without their services")
    );

    // A flagged order is shown until an admin marks it reviewed (once).
    order::Entity::update_many()
        .col_expr(order::Column::ReviewReason, Expr::value("Checked by hand."))
        .filter(order::Column::Id.eq(paid.id))
        .exec(&app.db)
        .await
        .unwrap();
    assert!(app.page("/admin/orders").await.contains("Checked by hand."));
    let reviewed = format!("/admin/orders/{}/reviewed", paid.id);
    assert_eq!(app.post_form(&reviewed, &[]).await.status(), 303);
    assert_eq!(reload(&app, paid.id).await.review_reason, None);
    assert_eq!(actions_on(&app, paid.id, "order.reviewed").await.len(), 1);
    assert_eq!(app.post_form(&reviewed, &[]).await.status(), 409);
}

#[tokio::test]
async fn a_manager_reads_orders_and_writes_notes_but_cannot_refund_or_cancel() {
    let mut app = spawn_app().await;
    let o = paid_order(&app).await;
    app.switch_browser(browser());
    assert_eq!(
        app.sign_in("manager@example.com", PASSWORD).await.status(),
        303
    );
    assert!(app.page("/admin/orders").await.contains(&o.order_number));
    let page = app.page(&format!("/admin/orders/{}", o.id)).await;
    assert!(
        page.contains("Refunds, cancelling and fulfilment are for admins"),
        "{page}"
    );
    for action in ["refund", "cancel", "fulfil", "reviewed"] {
        let res = app
            .post_form(
                &format!("/admin/orders/{}/{action}", o.id),
                &[
                    ("amount", "10"),
                    ("reason", "duplicate"),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(res.status(), 403, "{action}");
    }
    assert_eq!(reload(&app, o.id).await.refunded_minor, 0);

    let res = app
        .post_form(
            &format!("/admin/orders/{}/notes", o.id),
            &[("body", "Called the client: all good.")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(&format!("/admin/orders/{}/notes", o.id), &[("body", "   ")])
        .await;
    assert_eq!(res.status(), 400);
    let page = app.page(&format!("/admin/orders/{}", o.id)).await;
    assert!(
        page.contains("Called the client: all good.") && page.contains("Manager user"),
        "{page}"
    );
    assert_eq!(
        page.matches("<li><p>").count(),
        1,
        "the blank note was not kept"
    );
}

#[tokio::test]
async fn a_failed_event_is_kept_shown_and_handled_when_retried_or_delivered_again() {
    let mut app = spawn_app().await;
    let o = paid_order(&app).await;
    as_admin(&mut app).await;
    let pi = o.stripe_payment_intent_id.clone().unwrap();
    let good = |id: &str| {
        json!({"id": id, "object": "event", "type": "charge.refunded", "data": {"object": {
            "id": "ch_1", "object": "charge", "amount": 119_900, "amount_refunded": 19_900,
            "currency": "usd", "payment_intent": pi}}})
    };
    let mut broken = good("evt_broken");
    broken["data"]["object"]["amount"] = json!("lots");

    // Handling fails: the event is kept with its error, and health shows it.
    assert_eq!(post_event(&app, &broken).await.status(), 400);
    let row = stripe_event::Entity::find_by_id("evt_broken".to_string())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.outcome, "failed");
    assert!(row.error.unwrap().contains("charge"));
    let dashboard = app.page("/dashboard").await;
    assert!(
        dashboard.contains("1 event failed processing") && dashboard.contains("evt_broken"),
        "{dashboard}"
    );

    // Retrying the same body fails again and keeps it.
    let res = app
        .post_form("/admin/stripe-events/evt_broken/retry", &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(reload(&app, o.id).await.refunded_minor, 0);

    // Stripe delivers it again, readable this time: handled once.
    assert_eq!(post_event(&app, &good("evt_broken")).await.status(), 200);
    let row = stripe_event::Entity::find_by_id("evt_broken".to_string())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.outcome.as_str(), row.payload), ("refunded", None));
    assert_eq!(reload(&app, o.id).await.refunded_minor, 19_900);
    assert_eq!(
        post_event(&app, &good("evt_broken"))
            .await
            .json::<Value>()
            .await
            .unwrap()["outcome"],
        "duplicate"
    );

    // A failed event whose stored body now reads is handled by the retry button.
    let mut later = good("evt_later");
    later["data"]["object"]["amount_refunded"] = json!("x");
    assert_eq!(post_event(&app, &later).await.status(), 400);
    let fixed = good("evt_later").to_string().replace("19900", "29900");
    stripe_event::Entity::update_many()
        .col_expr(stripe_event::Column::Payload, Expr::value(fixed))
        .filter(stripe_event::Column::Id.eq("evt_later"))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(
        app.post_form("/admin/stripe-events/evt_later/retry", &[])
            .await
            .status(),
        303
    );
    assert_eq!(reload(&app, o.id).await.refunded_minor, 29_900);
    assert!(!app.page("/dashboard").await.contains("failed processing"));
    // Retrying what did not fail is refused.
    let res = app
        .post_form("/admin/stripe-events/evt_later/retry", &[])
        .await;
    assert_eq!(res.status(), 303);
    let page = app.page("/admin/orders").await;
    assert!(page.contains("did not fail"), "{page}");
}
