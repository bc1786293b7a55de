//! Checkout against the built-in Stripe emulator over HTTP, with its really signed webhooks.

use std::time::Duration;

use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{email, service, stripe_event, task};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fixtures;
use crate::harness::{TestApp, spawn_app};

/// A client with Logo Design ×1 and SEO Audit ×2 in the cart, and a manager to be told.
async fn shopping(app: &TestApp) -> (i64, i64) {
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

async fn start_checkout(app: &TestApp) -> (i64, String) {
    let res = app.post_json("/api/store/checkout", &json!({})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    (
        body["orderId"].as_i64().unwrap(),
        body["checkoutUrl"].as_str().unwrap().to_string(),
    )
}

/// Pays on the emulator's hosted page as a person would (a plain form post).
async fn pay(url: &str, card: &str) -> reqwest::Response {
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

async fn wait_for_order(app: &TestApp, id: i64, status: OrderStatus) -> order::Model {
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

#[tokio::test]
async fn a_paid_checkout_provisions_a_service_per_unit_empties_the_cart_and_queues_the_emails() {
    let app = spawn_app().await;
    shopping(&app).await;
    let (order_id, url) = start_checkout(&app).await;
    let pending = order::Entity::find_by_id(order_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            pending.status,
            pending.subtotal_minor,
            pending.currency.as_str()
        ),
        (OrderStatus::Pending, 119_900, "USD")
    );
    assert!(pending.order_number.starts_with("AH-"));
    assert_eq!(
        app.get("/api/cart").await.json::<Value>().await.unwrap()["count"],
        3,
        "the cart waits for the payment"
    );

    let res = pay(&url, "4242 4242 4242 4242").await;
    assert_eq!(res.status(), 303);
    let success = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        success.contains("/store/success?session_id=cs_test_"),
        "{success}"
    );

    let paid = wait_for_order(&app, order_id, OrderStatus::Completed).await;
    assert_eq!(paid.payment_status, PaymentStatus::Succeeded);
    assert_eq!(paid.total_minor, 119_900);
    assert!(paid.paid_at.is_some() && paid.stripe_payment_intent_id.is_some());

    let services = service::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(services.len(), 3, "1 + 2 units");
    for s in &services {
        assert_eq!(
            task::Entity::find()
                .filter(task::Column::ServiceId.eq(s.id))
                .count(&app.db)
                .await
                .unwrap(),
            1
        );
    }
    assert_eq!(
        app.get("/api/cart").await.json::<Value>().await.unwrap()["count"],
        0,
        "the cart is empty"
    );
    let kinds: Vec<String> = email::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "order_confirmation").count(),
        1
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "new_service").count(),
        3,
        "the manager hears of each service"
    );

    // The success page shows it paid (the webhook came first here).
    let path = &success[success.find("/store/success").unwrap()..];
    let html = app.page(path).await;
    assert!(html.contains("your order is paid"), "{html}");
    assert_eq!(
        service::Entity::find().count(&app.db).await.unwrap(),
        3,
        "still provisioned once"
    );
    assert!(stripe_event::Entity::find().count(&app.db).await.unwrap() >= 1);
}

#[tokio::test]
async fn a_declined_card_leaves_the_order_pending_and_the_cart_intact() {
    let app = spawn_app().await;
    shopping(&app).await;
    let (order_id, url) = start_checkout(&app).await;
    let res = pay(&url, "4000 0000 0000 0002").await;
    assert_eq!(res.status(), 402);
    assert!(
        res.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("declined")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let o = order::Entity::find_by_id(order_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (o.status, o.payment_status),
        (OrderStatus::Pending, PaymentStatus::Pending)
    );
    assert_eq!(service::Entity::find().count(&app.db).await.unwrap(), 0);
    assert_eq!(
        app.get("/api/cart").await.json::<Value>().await.unwrap()["count"],
        3
    );
}

#[tokio::test]
async fn a_second_checkout_expires_the_first_session() {
    let app = spawn_app().await;
    shopping(&app).await;
    let (first, first_url) = start_checkout(&app).await;
    let (second, _) = start_checkout(&app).await;
    assert_ne!(first, second);
    let o = order::Entity::find_by_id(first)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.status, OrderStatus::Cancelled);
    // The first page can no longer take money.
    let res = crate::harness::browser()
        .get(&first_url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410, "the first session is expired");
}

#[tokio::test]
async fn a_webhook_with_a_bad_signature_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let body = r#"{"id":"evt_forged","type":"checkout.session.completed","data":{"object":{}}}"#;
    let now = chrono::Utc::now().timestamp();
    for header in [
        None,
        Some(format!("t={now},v1=deadbeef")),
        Some(format!("t={},v1=00", now - 3600)),
    ] {
        let mut req = app
            .client
            .post(app.url("/api/webhooks/stripe"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(h) = &header {
            req = req.header("stripe-signature", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 400, "{header:?}");
    }
    assert_eq!(
        stripe_event::Entity::find().count(&app.db).await.unwrap(),
        0
    );
}
