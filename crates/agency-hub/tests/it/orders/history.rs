//! The client's order history: its company's orders, and no one else's.

use agency_hub::db::entities::user::Role;
use serde_json::Value;

use crate::harness::{PASSWORD, browser, spawn_app};
use crate::purchase::{
    emulator_events, emulator_get, emulator_post, paid_order, pay, post_event, shopping,
    start_checkout, wait_for_order,
};

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

/// The order's Checkout Session, as the app knows it.
async fn session_of(app: &crate::harness::TestApp, id: agency_hub::ids::OrderId) -> String {
    crate::orders::reload(app, id)
        .await
        .stripe_session_id
        .expect("a session")
}

/// Stripe expires the session and its event cancels the order; the order is then put back as it
/// was before the event came (the moment between the two, when a client may resume).
async fn expired_before_its_event(app: &crate::harness::TestApp, id: agency_hub::ids::OrderId) {
    use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let session = session_of(app, id).await;
    let res = emulator_post(app, &format!("/v1/checkout/sessions/{session}/expire"), &[]).await;
    assert_eq!(res.status(), 200);
    wait_for_order(app, id, OrderStatus::Cancelled).await;
    order::ActiveModel {
        id: Set(id),
        status: Set(OrderStatus::Pending),
        payment_status: Set(PaymentStatus::Pending),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_checkout_left_unpaid_waits_apart_and_is_resumed_then_paid() {
    use agency_hub::db::entities::order::OrderStatus;
    let app = spawn_app().await;
    shopping(&app).await;
    let (id, url) = start_checkout(&app).await;
    let number = crate::orders::reload(&app, id).await.order_number;

    // Apart from the history, with what to do; no receipt for it.
    let list = app.page("/store/orders").await;
    assert!(list.contains("Waiting for your payment"), "{list}");
    assert!(
        list.contains(&number) && list.contains("$1,199.00"),
        "{list}"
    );
    assert!(list.contains(&format!("action=\"/store/orders/{id}/resume\"")));
    assert!(
        !list.contains("No orders yet") && !list.contains("<table"),
        "{list}"
    );
    let page = app.page(&format!("/store/orders/{id}")).await;
    assert!(page.contains("Resume payment") && !page.contains("Printable receipt"));
    let receipt = app.get(&format!("/store/orders/{id}/receipt")).await;
    assert_eq!(receipt.status(), 409);
    assert!(receipt.text().await.unwrap().contains("it has no receipt"));

    // While its session is open, "Resume payment" leads back to it.
    let resume = format!("/store/orders/{id}/resume");
    let res = app.post_form(&resume, &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), url);

    // Expired (its event not yet here): a new session for the same order, at the same prices.
    let old = session_of(&app, id).await;
    let expired_event = {
        expired_before_its_event(&app, id).await;
        emulator_events(&app, "checkout.session.expired")
            .await
            .remove(0)
    };
    let res = app.post_form(&resume, &[]).await;
    assert_eq!(res.status(), 303);
    let new_url = location(&res);
    assert_ne!(new_url, url);
    let new = session_of(&app, id).await;
    assert_ne!(new, old);
    let session = emulator_get(&app, &format!("/v1/checkout/sessions/{new}")).await;
    assert_eq!(
        (session["amount_total"].as_i64(), session["status"].as_str()),
        (Some(119_900), Some("open"))
    );
    // The old session's expiry, arriving now, leaves the order to its new session.
    assert_eq!(post_event(&app, &expired_event).await.status(), 200);
    assert_eq!(
        crate::orders::reload(&app, id).await.status,
        OrderStatus::Pending
    );

    assert_eq!(pay(&new_url, "4242 4242 4242 4242").await.status(), 303);
    wait_for_order(&app, id, OrderStatus::Completed).await;
    let list = app.page("/store/orders").await;
    assert!(!list.contains("Waiting for your payment"), "{list}");
    assert!(list.contains(&number) && list.contains("Paid"), "{list}");
    assert_eq!(
        app.get(&format!("/store/orders/{id}/receipt"))
            .await
            .status(),
        200
    );
    // Paid, it cannot be resumed or cancelled.
    for action in ["resume", "cancel"] {
        let res = app
            .post_form(&format!("/store/orders/{id}/{action}"), &[])
            .await;
        assert_eq!(res.status(), 303, "{action}");
        assert_eq!(location(&res), format!("/store/orders/{id}"));
        assert_eq!(
            crate::orders::reload(&app, id).await.status,
            OrderStatus::Completed
        );
    }
}

#[tokio::test]
async fn an_unpaid_order_is_cancelled_by_the_client_or_when_its_prices_no_longer_hold() {
    use agency_hub::db::entities::order::OrderStatus;
    use agency_hub::db::entities::service_template;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let app = spawn_app().await;
    let (logo, _) = shopping(&app).await;

    let (first, _) = start_checkout(&app).await;
    let res = app
        .post_form(&format!("/store/orders/{first}/cancel"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/store/orders");
    assert_eq!(
        crate::orders::reload(&app, first).await.status,
        OrderStatus::Cancelled
    );
    let session = session_of(&app, first).await;
    let at_stripe = emulator_get(&app, &format!("/v1/checkout/sessions/{session}")).await;
    assert_eq!(at_stripe["status"], "expired");
    let number = crate::orders::reload(&app, first).await.order_number;
    let list = app.page("/store/orders").await;
    assert!(list.contains("is cancelled: nothing was charged"), "{list}");
    // Named in the message only: no longer listed.
    assert!(
        list.matches(&number).count() == 1 && list.contains("No orders yet"),
        "{list}"
    );

    // Logo Design costs more since the order was made: resuming cancels it and says why.
    let (second, _) = start_checkout(&app).await;
    expired_before_its_event(&app, second).await;
    service_template::ActiveModel {
        id: Set(logo),
        price_minor: Set(55_000),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    let res = app
        .post_form(&format!("/store/orders/{second}/resume"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("/store/orders/{second}"));
    assert_eq!(
        crate::orders::reload(&app, second).await.status,
        OrderStatus::Cancelled
    );
    let page = app.page(&format!("/store/orders/{second}")).await;
    assert!(
        page.contains("can no longer be paid as it was made"),
        "{page}"
    );
}
