//! Prices in several currencies: a template priced in USD with EUR and JPY prices (typed on
//! its form), client companies paying in EUR, JPY and GBP. Each sees, sorts and pays in their
//! own currency (JPY without decimals, through the emulator), a service without a price there
//! is unavailable rather than converted, and a company whose currency changes finds its cart
//! flagged.

use agency_hub::db::entities::order::OrderStatus;
use agency_hub::db::entities::service_template;
use agency_hub::db::entities::user::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestApp, browser, spawn_app};
use crate::purchase::{emulator_get, pay, start_checkout, wait_for_order};

fn template(name: &str, usd: &str, others: &str) -> Vec<(String, String)> {
    [
        ("name", name),
        ("category", "Design"),
        ("purchasable", "on"),
        ("price", usd),
        ("currency", "USD"),
        ("max_quantity", "3"),
        ("task-0-name", "Kick-off"),
        ("task-0-visible", "on"),
        ("other_prices", others),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn post(app: &TestApp, path: &str, fields: &[(String, String)]) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    app.post_form(path, &pairs).await
}

/// A client user of `company`, paying in `currency` (set on the company's form), signed in.
async fn client_paying_in(app: &mut TestApp, email: &str, company: &str, currency: &str) {
    let user = app.create_user(Role::Client, email, Some(company)).await;
    app.switch_browser(browser());
    assert_eq!(
        app.sign_in("admin@example.com", PASSWORD).await.status(),
        303
    );
    let res = app
        .post_form(
            &format!("/admin/clients/{}", user.client_id.unwrap()),
            &[("name", company), ("billing_currency", currency)],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.switch_browser(browser());
    assert_eq!(app.sign_in(email, PASSWORD).await.status(), 303);
}

async fn add(app: &TestApp, template: impl serde::Serialize, quantity: i64) -> reqwest::Response {
    app.post_json(
        "/api/cart/items",
        &json!({"serviceTemplateId": template, "quantity": quantity}),
    )
    .await
}

async fn store_items(app: &TestApp, query: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/api/store/services{query}"))
        .await
        .json()
        .await
        .unwrap();
    page["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn each_company_sees_and_pays_in_its_own_currency() {
    let mut app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;

    // Prices typed one a line; a mistake names its line, and nothing is saved.
    let res = post(
        &app,
        "/admin/templates",
        &template("Logo Design", "499", "EUR 459\nJPY 7.5"),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Line 2 (JPY)"));
    assert!(
        service_template::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .is_none()
    );
    // A setup fee (after a +) is for a retainer only.
    let res = post(
        &app,
        "/admin/templates",
        &template("Logo Design", "499", "EUR 459 + 10"),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("for a recurring service")
    );
    for (name, usd, others) in [
        ("Logo Design", "499", "EUR 459\njpy 75000"),
        ("Brand Book", "199", "EUR 650"),
        ("Site Audit", "99", ""),
    ] {
        let res = post(&app, "/admin/templates", &template(name, usd, others)).await;
        assert_eq!(res.status(), 303, "{name}");
    }
    let logo = service_template::Entity::find()
        .filter(service_template::Column::Name.eq("Logo Design"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let edit = app.page(&format!("/admin/templates/{}", logo.id)).await;
    assert!(
        edit.contains("EUR 459.00\nJPY 75000"),
        "the form shows them back"
    );

    // A EUR company: EUR prices, sorted in EUR, the one without a EUR price unavailable (last).
    client_paying_in(&mut app, "ana@acme.example", "Acme EU", "EUR").await;
    let html = app.page("/store").await;
    assert!(
        html.contains("€459.00") && html.contains("€650.00"),
        "{html}"
    );
    assert!(!html.contains("$499.00"));
    assert!(html.contains("Not available in EUR"));
    let items = store_items(&app, "?sort=price_asc").await;
    let order: Vec<(&str, Value)> = items
        .iter()
        .map(|i| {
            (
                i["title"].as_str().unwrap(),
                i["price"]["amountMinor"].clone(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("Logo Design", json!(45_900)),
            ("Brand Book", json!(65_000)),
            ("Site Audit", Value::Null)
        ]
    );
    assert_eq!(items[2]["available"], false);
    let res = add(&app, &items[2]["id"], 1).await;
    assert_eq!(res.status(), 400);
    let e: Value = res.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Site Audit is not available in EUR"),
        "{e}"
    );
    let res = add(&app, logo.id.get(), 2).await;
    assert_eq!(res.status(), 201);
    let cart: Value = res.json().await.unwrap();
    assert_eq!(cart["total"]["formatted"], "€918.00");
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    let paid = wait_for_order(&app, order_id, OrderStatus::Completed).await;
    assert_eq!((paid.currency.code(), paid.total_minor), ("EUR", 91_800));
    let session = emulator_get(
        &app,
        &format!("/v1/checkout/sessions/{}", paid.stripe_session_id.unwrap()),
    )
    .await;
    assert_eq!(
        (
            session["currency"].as_str(),
            session["amount_total"].as_i64()
        ),
        (Some("eur"), Some(91_800))
    );

    // A JPY company: yen without decimals, end to end.
    client_paying_in(&mut app, "kenji@nippon.example", "Nippon KK", "JPY").await;
    let html = app.page(&format!("/store/{}", logo.id)).await;
    assert!(html.contains("¥75,000"), "{html}");
    let res = add(&app, logo.id.get(), 1).await;
    assert_eq!(res.status(), 201);
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    let paid = wait_for_order(&app, order_id, OrderStatus::Completed).await;
    assert_eq!((paid.currency.code(), paid.total_minor), ("JPY", 75_000));
    let page = app.page(&format!("/store/orders/{order_id}")).await;
    assert!(page.contains("¥75,000") && !page.contains("¥75,000.00"));

    // A GBP company sees nothing it can buy; a cart made in EUR is flagged when its company
    // moves to GBP.
    app.switch_browser(browser());
    app.sign_in("ana@acme.example", PASSWORD).await;
    let res = add(&app, logo.id.get(), 1).await;
    assert_eq!(res.status(), 201);
    client_paying_in(&mut app, "gus@globex.example", "Globex UK", "GBP").await;
    assert!(
        store_items(&app, "")
            .await
            .iter()
            .all(|i| i["available"] == false)
    );
    let acme = crate::fixtures::company(&app.db, "Acme EU").await;
    app.switch_browser(browser());
    app.sign_in("admin@example.com", PASSWORD).await;
    let res = app
        .post_form(
            &format!("/admin/clients/{}", acme.id),
            &[("name", "Acme EU"), ("billing_currency", "GBP")],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.switch_browser(browser());
    app.sign_in("ana@acme.example", PASSWORD).await;
    let cart: Value = app.get("/api/cart").await.json().await.unwrap();
    assert_eq!(cart["items"][0]["problem"], "not_in_currency");
    assert_eq!(cart["canCheckout"], false);
    let html = app.page("/store/cart").await;
    assert!(html.contains("Not available in GBP"));
    let res = app.post_json("/api/store/checkout", &json!({})).await;
    assert_eq!(res.status(), 400);
}
