//! Buying as a client does, for the tests of what follows a purchase: a cart, a checkout, a
//! payment on the emulator's page, Stripe's signed events, and the emulator's own view.

use std::time::Duration;

use agency_hub::db::entities::order::{self, OrderStatus};
use agency_hub::db::entities::user::Role;
use agency_hub::ids::{OrderId, TemplateId};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::fixtures;
use crate::harness::TestApp;

/// A client with Logo Design ×1 and SEO Audit ×2 in the cart, and a manager to be told.
pub async fn shopping(app: &TestApp) -> (TemplateId, TemplateId) {
    app.create_user(Role::Manager, "manager@example.com", None)
        .await;
    app.signed_in_as(Role::Client).await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let seo = fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 5).await;
    assert_eq!(
        app.post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": logo.id, "quantity": 1})
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        app.post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": seo.id, "quantity": 2})
        )
        .await
        .status(),
        201
    );
    (logo.id, seo.id)
}

pub async fn start_checkout(app: &TestApp) -> (OrderId, String) {
    let res = app.post_json("/api/store/checkout", &json!({})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    (
        OrderId(body["orderId"].as_i64().unwrap()),
        body["checkoutUrl"].as_str().unwrap().to_string(),
    )
}

/// Pays on the emulator's hosted page as a person would (a plain form post).
pub async fn pay(url: &str, card: &str) -> reqwest::Response {
    let browser = crate::harness::browser();
    let page = browser.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    browser
        .post(url)
        .form(&[
            ("action", "pay"),
            ("email", "client@acme.example"),
            ("payment_method", "card"),
            ("card_number", card),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
        ])
        .send()
        .await
        .unwrap()
}

pub async fn wait_for_order(app: &TestApp, id: OrderId, status: OrderStatus) -> order::Model {
    for _ in 0..200 {
        let o = order::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        if o.status == status {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {id} never became {status:?}");
}

/// A paid order of Acme (Logo Design ×1, SEO Audit ×2: $1,199.00, three services), bought by
/// the signed-in client; a manager exists.
pub async fn paid_order(app: &TestApp) -> order::Model {
    shopping(app).await;
    let (order_id, url) = start_checkout(app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    wait_for_order(app, order_id, OrderStatus::Completed).await
}

/// The emulator's events of a type, newest first.
pub async fn emulator_events(app: &TestApp, kind: &str) -> Vec<Value> {
    let list: Value = crate::harness::browser()
        .get(format!("{}/v1/events?type={kind}&limit=100", app.emulator))
        .bearer_auth("sk_test_tests")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["data"].as_array().cloned().unwrap_or_default()
}

pub async fn control(app: &TestApp, path: &str, form: &[(&str, &str)]) {
    let res = crate::harness::browser()
        .post(format!("{}/_emulator/{path}", app.emulator))
        .form(form)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
}

/// Signs and posts an event as Stripe would, with the tests' webhook secret.
pub async fn post_event(app: &TestApp, event: &Value) -> reqwest::Response {
    signed_post(
        &app.client,
        &app.url("/api/webhooks/stripe"),
        event.to_string(),
    )
    .await
}

pub async fn signed_post(client: &reqwest::Client, url: &str, body: String) -> reqwest::Response {
    use hmac::{Hmac, KeyInit, Mac};
    let t = chrono::Utc::now().timestamp();
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(crate::harness::WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    client
        .post(url)
        .header("content-type", "application/json")
        .header("stripe-signature", format!("t={t},v1={sig}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A form posted to the emulator's API (as a Stripe client would) or to one of its pages.
pub async fn emulator_post(
    app: &TestApp,
    url_or_path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let url = if url_or_path.starts_with("http") {
        url_or_path.to_string()
    } else {
        format!("{}{url_or_path}", app.emulator)
    };
    crate::harness::browser()
        .post(url)
        .bearer_auth("sk_test_tests")
        .form(form)
        .send()
        .await
        .unwrap()
}

pub async fn emulator_get(app: &TestApp, path: &str) -> Value {
    crate::harness::browser()
        .get(format!("{}{path}", app.emulator))
        .bearer_auth("sk_test_tests")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
