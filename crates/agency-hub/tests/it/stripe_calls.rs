//! Our requests to Stripe across environments: two installations on one Stripe account, a
//! refusal that is not an outage, a price set back to an earlier amount. Each test here failed
//! before its fix.

use std::time::Duration;

use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{client, order, service_template};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::checkout::{logo_design_at, template_when};
use crate::harness::{TestApp, spawn_app, spawn_app_with};
use crate::purchase::{emulator_get, shopping};

async fn emulator(api_key: Option<&str>) -> stripe_emulator::Running {
    stripe_emulator::Emulator::start(stripe_emulator::Config {
        api_key: api_key.map(str::to_string),
        ..stripe_emulator::Config::default()
    })
    .await
    .expect("starting an emulator")
}

/// The company's Stripe Customer and the order's Checkout Session, after a checkout.
async fn customer_and_session(app: &TestApp) -> (String, String) {
    let company = client::Entity::find().one(&app.db).await.unwrap().unwrap();
    let order = order::Entity::find().one(&app.db).await.unwrap().unwrap();
    (
        company.stripe_customer_id.expect("a Customer"),
        order.stripe_session_id.expect("a Checkout Session"),
    )
}

/// A staging and a production install (or a database reset) on one Stripe account have the
/// same local ids; their first checkouts must still make their own Customer and Session.
#[tokio::test]
async fn two_installations_on_one_stripe_account_each_get_their_own_customer_and_session() {
    let stripe = emulator(None).await;
    let env = [
        ("STRIPE_SECRET_KEY", "sk_test_shared_account"),
        ("STRIPE_API_BASE", stripe.base_url()),
    ];
    let mut made = Vec::new();
    for _ in 0..2 {
        let app = spawn_app_with(&env).await;
        shopping(&app).await;
        let res = app.post_json("/api/store/checkout", &json!({})).await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        made.push(customer_and_session(&app).await);
    }
    assert_ne!(made[0].0, made[1].0, "each installation its own Customer");
    assert_ne!(made[0].1, made[1].1, "each installation its own Session");
}

/// Stripe refusing our key is not an outage: the client is told it is the store's settings,
/// with Stripe's request id as the reference.
#[tokio::test]
async fn a_refused_key_is_told_apart_from_an_outage_with_a_reference() {
    let stripe = emulator(Some("sk_test_the_right_key")).await;
    let app = spawn_app_with(&[
        ("STRIPE_SECRET_KEY", "sk_test_a_revoked_key"),
        ("STRIPE_API_BASE", stripe.base_url()),
    ])
    .await;
    shopping(&app).await;
    let res = app.post_json("/api/store/checkout", &json!({})).await;
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payment_provider_misconfigured");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("reference req_"), "{message}");
    assert!(message.contains("Your cart is unchanged."), "{message}");
    assert!(!message.contains("could not reach"), "{message}");
    assert_eq!(
        app.get("/api/cart").await.json::<Value>().await.unwrap()["count"],
        3
    );
}

/// $499 → $599 → $499: the template ends on an active Price of $499 (not the archived first
/// one, which the old idempotency key replayed).
#[tokio::test]
async fn a_price_set_back_to_an_earlier_amount_ends_on_an_active_price() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    assert_eq!(
        app.post_form("/admin/templates", &logo_design_at("499"))
            .await
            .status(),
        303
    );
    let id = service_template::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let mut prices = vec![synced_price(&app, id, None).await];
    for amount in ["599", "499"] {
        assert_eq!(
            app.post_form(&format!("/admin/templates/{id}"), &logo_design_at(amount))
                .await
                .status(),
            303
        );
        prices.push(synced_price(&app, id, prices.last().map(String::as_str)).await);
    }
    let last = emulator_get(&app, &format!("/v1/prices/{}", prices[2])).await;
    assert_eq!(last["unit_amount"], 49_900);
    assert_eq!(last["active"], true, "the template's Price is active");
    assert_ne!(prices[2], prices[0], "a new Price, not the archived one");
    for old in &prices[..2] {
        assert_eq!(
            emulator_get(&app, &format!("/v1/prices/{old}")).await["active"],
            false
        );
    }
}

/// The template's Price once synced, when it differs from `not`.
async fn synced_price(app: &TestApp, id: agency_hub::ids::TemplateId, not: Option<&str>) -> String {
    for _ in 0..100 {
        let t = template_when(app, id, "synced").await;
        if let Some(price) = t.stripe_price_id.filter(|p| Some(p.as_str()) != not) {
            return price;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("template {id} never synced to a new Price");
}

/// With automatic tax, Checkout collects the billing address and saves it on the Customer
/// (Stripe refuses automatic tax for a Customer without an address otherwise); the order
/// records the tax.
#[tokio::test]
async fn automatic_tax_collects_the_address_stripe_needs() {
    let app = spawn_app_with(&[("STRIPE_AUTOMATIC_TAX", "true")]).await;
    shopping(&app).await;
    let res = app.post_json("/api/store/checkout", &json!({})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    let url = body["checkoutUrl"].as_str().unwrap();
    let (customer, session) = customer_and_session(&app).await;
    let started = emulator_get(&app, &format!("/v1/checkout/sessions/{session}")).await;
    assert_eq!(started["billing_address_collection"], "required");

    let browser = crate::harness::browser();
    let paid = browser
        .post(url)
        .form(&[
            ("action", "pay"),
            ("email", "client@acme.example"),
            ("payment_method", "card"),
            ("card_number", "4242 4242 4242 4242"),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
            ("billing_country", "US"),
            ("billing_postal_code", "94107"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303, "{}", paid.text().await.unwrap());
    let order_id = agency_hub::ids::OrderId(body["orderId"].as_i64().unwrap());
    let order = crate::purchase::wait_for_order(
        &app,
        order_id,
        agency_hub::db::entities::order::OrderStatus::Completed,
    )
    .await;
    assert!(order.tax_minor > 0, "tax recorded: {}", order.tax_minor);
    assert_eq!(order.total_minor, order.subtotal_minor + order.tax_minor);
    let saved = emulator_get(&app, &format!("/v1/customers/{customer}")).await;
    assert_eq!(saved["address"]["country"], "US");
    assert_eq!(saved["address"]["postal_code"], "94107");
}
