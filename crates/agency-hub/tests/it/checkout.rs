//! Checkout against the built-in Stripe emulator over HTTP, with its really signed webhooks.

use std::time::Duration;

use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{email, service, stripe_event, task};
use agency_hub::ids::{OrderId, TemplateId};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::harness::{TestApp, spawn_app};
use crate::purchase::{
    control, emulator_events, emulator_get, pay, post_event, shopping, signed_post, start_checkout,
    wait_for_order,
};

#[tokio::test]
async fn a_paid_checkout_provisions_a_service_per_unit_empties_the_cart_and_queues_the_emails() {
    let app = spawn_app().await;
    shopping(&app).await;
    let (order_id, url) = start_checkout(&app).await;
    assert_pending_with_the_cart_waiting(&app, order_id).await;

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
    assert_a_service_of_one_task_per_unit_and_the_cart_empty(&app).await;
    assert_the_confirmation_and_a_new_service_email_each_queued(&app).await;

    // The success page shows it paid (the webhook came first here).
    let path = &success[success.find("/store/success").unwrap()..];
    let html = app.page(path).await;
    assert!(html.contains("your order is paid"), "{html}");
    assert!(
        html.contains(&format!(r#"Order <a href="/store/orders/{order_id}">"#)),
        "the order's number leads to it"
    );
    assert_eq!(
        service::Entity::find().count(&app.db).await.unwrap(),
        3,
        "still provisioned once"
    );

    // The buyer is told in the app; opening the order reads it.
    let news: Value = app.get("/api/notifications").await.json().await.unwrap();
    assert_eq!(news["data"][0]["kind"], "order_paid");
    assert_eq!(news["data"][0]["read"], false);
    let link = format!("/store/orders/{order_id}");
    assert_eq!(news["data"][0]["link"], link.as_str());
    let html = app.page(&link).await;
    assert!(!html.contains("nav-badge"), "no unread news is counted");
    let news: Value = app.get("/api/notifications").await.json().await.unwrap();
    assert_eq!(news["data"][0]["read"], true);
    assert!(stripe_event::Entity::find().count(&app.db).await.unwrap() >= 1);
}

async fn assert_pending_with_the_cart_waiting(app: &TestApp, order_id: OrderId) {
    let pending = order::Entity::find_by_id(order_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            pending.status,
            pending.subtotal_minor,
            pending.currency.code()
        ),
        (OrderStatus::Pending, 119_900, "USD")
    );
    assert!(pending.order_number.starts_with("AH-"));
    assert_eq!(
        app.get("/api/cart").await.json::<Value>().await.unwrap()["count"],
        3,
        "the cart waits for the payment"
    );
}

async fn assert_a_service_of_one_task_per_unit_and_the_cart_empty(app: &TestApp) {
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
}

async fn assert_the_confirmation_and_a_new_service_email_each_queued(app: &TestApp) {
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

#[tokio::test]
async fn the_same_completed_event_delivered_20_times_at_once_provisions_once() {
    let app = spawn_app().await;
    shopping(&app).await;
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242424242424242").await.status(), 303);
    wait_for_order(&app, order_id, OrderStatus::Completed).await;
    let event = emulator_events(&app, "checkout.session.completed")
        .await
        .remove(0);
    control(
        &app,
        &format!("events/{}/deliver", event["id"].as_str().unwrap()),
        &[("times", "20")],
    )
    .await;
    // And the same body 20 times from here, all on the wire at once.
    let body = event.to_string();
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let (client, url, body) = (
                app.client.clone(),
                app.url("/api/webhooks/stripe"),
                body.clone(),
            );
            tokio::spawn(async move { signed_post(&client, &url, body).await.status() })
        })
        .collect();
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        service::Entity::find().count(&app.db).await.unwrap(),
        3,
        "one set of services"
    );
    assert_eq!(
        email::Entity::find()
            .filter(email::Column::Kind.eq("order_confirmation"))
            .count(&app.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        stripe_event::Entity::find()
            .filter(stripe_event::Column::Id.eq(event["id"].as_str().unwrap()))
            .count(&app.db)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn the_success_page_before_the_webhook_provisions_once_and_a_later_expiry_changes_nothing() {
    let app = spawn_app().await;
    shopping(&app).await;
    control(&app, "webhooks/hold", &[]).await;
    let (order_id, url) = start_checkout(&app).await;
    let res = pay(&url, "4242424242424242").await;
    let success = res.headers()["location"].to_str().unwrap().to_string();
    let html = app
        .page(&success[success.find("/store/success").unwrap()..])
        .await;
    assert!(
        html.contains("your order is paid"),
        "the success page fulfils by itself"
    );
    assert_eq!(service::Entity::find().count(&app.db).await.unwrap(), 3);

    control(&app, "webhooks/release", &[]).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        service::Entity::find().count(&app.db).await.unwrap(),
        3,
        "the webhook after it changes nothing"
    );

    let order = order::Entity::find_by_id(order_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let expired = json!({
        "id": "evt_late_expiry", "object": "event", "type": "checkout.session.expired",
        "data": {"object": {"id": order.stripe_session_id, "object": "checkout.session", "status": "expired",
            "payment_status": "unpaid", "client_reference_id": order_id.to_string(), "metadata": {}}}
    });
    assert_eq!(post_event(&app, &expired).await.status(), 200);
    let after = order::Entity::find_by_id(order_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (after.status, after.payment_status),
        (OrderStatus::Completed, PaymentStatus::Succeeded),
        "still paid"
    );
}

#[tokio::test]
async fn an_amount_that_does_not_match_the_order_is_flagged_and_provisions_nothing() {
    let app = spawn_app().await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    shopping(&app).await;
    control(&app, "webhooks/hold", &[]).await;
    let (order_id, _) = start_checkout(&app).await;
    let order = order::Entity::find_by_id(order_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let forged = json!({
        "id": "evt_mismatch", "object": "event", "type": "checkout.session.completed",
        "data": {"object": {"id": order.stripe_session_id, "object": "checkout.session", "status": "complete",
            "payment_status": "paid", "amount_subtotal": 100, "amount_total": 100, "currency": "usd",
            "client_reference_id": order_id.to_string(), "metadata": {}}}
    });
    assert_eq!(post_event(&app, &forged).await.status(), 200);
    let after = order::Entity::find_by_id(order_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, OrderStatus::Pending);
    assert!(after.review_reason.unwrap().contains("100"));
    assert_eq!(service::Entity::find().count(&app.db).await.unwrap(), 0);
    let told = email::Entity::find()
        .filter(email::Column::Kind.eq("order_flagged"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(told.len(), 1, "the admin is told");
    assert_eq!(told[0].to_address, "admin@example.com");
}

/// Pays on the hosted page with a bank debit that settles later (or fails).
async fn pay_by_debit(url: &str, method: &str) -> reqwest::Response {
    crate::harness::browser()
        .post(url)
        .form(&[
            ("action", "pay"),
            ("email", "client@acme.example"),
            ("payment_method", method),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bank_debit_is_processing_then_paid_or_failed() {
    let app = spawn_app().await;
    shopping(&app).await;
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay_by_debit(&url, "bank_debit").await.status(), 303);
    let processing = wait_for_order(&app, order_id, OrderStatus::Processing).await;
    assert_eq!(processing.payment_status, PaymentStatus::Processing);
    assert_eq!(
        service::Entity::find().count(&app.db).await.unwrap(),
        0,
        "nothing before the money arrives"
    );
    control(
        &app,
        &format!(
            "checkout/sessions/{}/settle",
            processing.stripe_session_id.unwrap()
        ),
        &[],
    )
    .await;
    wait_for_order(&app, order_id, OrderStatus::Completed).await;
    assert_eq!(service::Entity::find().count(&app.db).await.unwrap(), 3);

    // The failing kind: the order fails and the client is told.
    let templates: Vec<TemplateId> = agency_hub::db::entities::service_template::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    app.post_json(
        "/api/cart/items",
        &json!({"serviceTemplateId": templates[0], "quantity": 1}),
    )
    .await;
    let (failing, url) = start_checkout(&app).await;
    assert_eq!(pay_by_debit(&url, "bank_debit_failing").await.status(), 303);
    let waiting = wait_for_order(&app, failing, OrderStatus::Processing).await;
    control(
        &app,
        &format!(
            "checkout/sessions/{}/settle",
            waiting.stripe_session_id.unwrap()
        ),
        &[],
    )
    .await;
    let failed = wait_for_order(&app, failing, OrderStatus::Cancelled).await;
    assert_eq!(failed.payment_status, PaymentStatus::Failed);
    assert_eq!(
        email::Entity::find()
            .filter(email::Column::Kind.eq("payment_failed"))
            .count(&app.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        service::Entity::find().count(&app.db).await.unwrap(),
        3,
        "no service for the failed one"
    );
}

#[tokio::test]
async fn stripe_being_down_gives_a_clear_message_and_leaves_no_half_made_order() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{dead}");
    let app = crate::harness::spawn_app_with(&[
        ("STRIPE_SECRET_KEY", "sk_test_unreachable"),
        ("STRIPE_API_BASE", &base),
    ])
    .await;
    shopping(&app).await;
    let res = app.post_json("/api/store/checkout", &json!({})).await;
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payment_provider_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Your cart is unchanged")
    );
    assert_eq!(
        app.get("/api/cart").await.json::<Value>().await.unwrap()["count"],
        3
    );
    let open = order::Entity::find()
        .filter(order::Column::Status.ne(OrderStatus::Cancelled))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(open, 0, "no order waits for a payment that cannot happen");
}

/// Two app instances on one PostgreSQL database receive the same event at once.
#[tokio::test]
async fn two_instances_receiving_the_same_event_at_once_provision_once() {
    let app = spawn_app().await;
    shopping(&app).await;
    control(&app, "webhooks/hold", &[]).await;
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242424242424242").await.status(), 303);
    let event = emulator_events(&app, "checkout.session.completed")
        .await
        .remove(0);

    // A second instance on the same database, as behind a load balancer.
    let second = agency_hub::App::build(crate::harness::test_config(&app.database_url(), &[]))
        .await
        .unwrap();
    let second_url = format!("http://{}/api/webhooks/stripe", second.local_addr());
    tokio::spawn(second.run(std::future::pending()));

    let body = event.to_string();
    let handles: Vec<_> = (0..10)
        .flat_map(|_| [app.url("/api/webhooks/stripe"), second_url.clone()])
        .map(|url| {
            let (client, body) = (app.client.clone(), body.clone());
            tokio::spawn(async move { signed_post(&client, &url, body).await.status() })
        })
        .collect();
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    let paid = order::Entity::find_by_id(order_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paid.status, OrderStatus::Completed);
    assert_eq!(
        service::Entity::find().count(&app.db).await.unwrap(),
        3,
        "one set of services"
    );
}

pub async fn template_when(
    app: &TestApp,
    id: TemplateId,
    status: &str,
) -> agency_hub::db::entities::service_template::Model {
    for _ in 0..200 {
        let t = agency_hub::db::entities::service_template::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        if t.stripe_sync_status == status {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("template {id} never reached sync status {status}");
}

#[tokio::test]
async fn a_purchasable_template_gets_its_stripe_product_and_a_new_price_when_its_price_changes() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    assert_eq!(
        app.post_form("/admin/templates", &logo_design_at("499"))
            .await
            .status(),
        303
    );
    let id = agency_hub::db::entities::service_template::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let (product, price) = assert_synced_to_a_product_and_its_price(&app, id).await;
    assert_a_new_price_replaces_the_old_one(&app, id, &product, &price).await;
    assert_archiving_deactivates_the_product(&app, id, &product).await;
}

/// The Logo Design template's form, on sale at `price`, saved.
pub fn logo_design_at(price: &str) -> Vec<(&str, &str)> {
    vec![
        ("name", "Logo Design"),
        ("category", "Design"),
        ("purchasable", "on"),
        ("price", price),
        ("currency", "USD"),
        ("intent", "save"),
    ]
}

/// The first sync: a Product of the template's name and a Price of $499.00; returns their ids.
async fn assert_synced_to_a_product_and_its_price(
    app: &TestApp,
    id: TemplateId,
) -> (String, String) {
    let first = template_when(app, id, "synced").await;
    let product = first.stripe_product_id.clone().unwrap();
    let price = first.stripe_price_id.clone().unwrap();
    assert_eq!(
        emulator_get(app, &format!("/v1/products/{product}")).await["name"],
        "Logo Design"
    );
    assert_eq!(
        emulator_get(app, &format!("/v1/prices/{price}")).await["unit_amount"],
        49_900
    );
    (product, price)
}

async fn assert_a_new_price_replaces_the_old_one(
    app: &TestApp,
    id: TemplateId,
    product: &str,
    price: &str,
) {
    assert_eq!(
        app.post_form(&format!("/admin/templates/{id}"), &logo_design_at("550"))
            .await
            .status(),
        303
    );
    let mut second = template_when(app, id, "synced").await;
    for _ in 0..100 {
        if second.stripe_price_id.as_deref() != Some(price) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        second = template_when(app, id, "synced").await;
    }
    let new_price = second.stripe_price_id.clone().unwrap();
    assert_ne!(new_price, price, "a new Price");
    assert_eq!(
        second.stripe_product_id.as_deref(),
        Some(product),
        "the same Product"
    );
    assert_eq!(
        emulator_get(app, &format!("/v1/prices/{new_price}")).await["unit_amount"],
        55_000
    );
    assert_eq!(
        emulator_get(app, &format!("/v1/prices/{price}")).await["active"],
        false,
        "the old Price is archived"
    );
}

async fn assert_archiving_deactivates_the_product(app: &TestApp, id: TemplateId, product: &str) {
    assert_eq!(
        app.post_form(
            &format!("/admin/templates/{id}/archive"),
            &[("archived", "true")]
        )
        .await
        .status(),
        303
    );
    // The job deactivates the Product, then records the template synced.
    let synced = async || {
        app.page("/admin/templates?archived=true")
            .await
            .contains("synced")
    };
    for _ in 0..100 {
        if synced().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(synced().await);
    assert_eq!(
        emulator_get(app, &format!("/v1/products/{product}")).await["active"],
        false,
        "archiving deactivates the Product"
    );
}

#[tokio::test]
async fn a_stripe_outage_never_blocks_saving_a_template_and_the_admin_sees_why() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{dead}");
    let app = crate::harness::spawn_app_with(&[
        ("STRIPE_SECRET_KEY", "sk_test_unreachable"),
        ("STRIPE_API_BASE", &base),
    ])
    .await;
    app.signed_in_as(Role::Admin).await;
    let res = app
        .post_form(
            "/admin/templates",
            &[
                ("name", "SEO Audit"),
                ("category", "Marketing"),
                ("purchasable", "on"),
                ("price", "350"),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "saved");
    let id = agency_hub::db::entities::service_template::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let failed = template_when(&app, id, "failed").await;
    assert!(
        failed
            .stripe_sync_error
            .unwrap()
            .contains("could not be reached")
    );
    let page = app.page("/admin/templates").await;
    assert!(page.contains("failed") && page.contains("could not be reached"));
}
