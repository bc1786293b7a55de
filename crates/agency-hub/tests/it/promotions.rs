//! Promotion codes made and managed by admins from the app, kept at Stripe (the emulator over
//! HTTP): a coupon limited to a service, amounts in several currencies, a code's own limits,
//! a code turned off; bad input names each mistake and makes nothing.

use agency_hub::db::entities::user::Role;
use serde_json::Value;

use crate::checkout::template_when;
use crate::fixtures;
use crate::harness::{PASSWORD, TestApp, browser, spawn_app};
use crate::purchase::emulator_get;

async fn codes_at_stripe(app: &TestApp) -> Vec<Value> {
    emulator_get(
        app,
        "/v1/promotion_codes?expand[]=data.coupon.applies_to&expand[]=data.coupon.currency_options",
    )
    .await["data"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn an_admin_makes_a_promotion_code_limited_to_a_service_and_turns_it_off() {
    let mut app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let seo = fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 5).await;
    // Their Stripe products, made by the catalog's sync.
    let logo = template_when(&app, logo.id, "synced").await;
    let seo = template_when(&app, seo.id, "synced").await;
    let product = logo.stripe_product_id.clone().unwrap();
    let seo_product = seo.stripe_product_id.clone().unwrap();
    let page = app.page("/admin/promotions").await;
    assert!(page.contains("No promotion codes yet"), "{page}");

    // Every mistake is named in place, and nothing is made at Stripe.
    let (logo_id, seo_id) = (logo.id.to_string(), seo.id.to_string());
    let res = app
        .post_form(
            "/admin/promotions",
            &[
                ("code", "no spaces"),
                ("kind", "percent"),
                ("percent", "150"),
                ("duration", "repeating"),
                ("months", "0"),
                ("redeem_by", "2001-01-01"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    for message in [
        "Give a code of 3 to 40 letters",
        "Give a percentage above 0 and at most 100",
        "Give the months as a whole number from 1 to 36",
        "That day has passed",
    ] {
        assert!(body.contains(message), "{message}: {body}");
    }
    assert!(
        body.contains("value=\"no spaces\""),
        "what was typed is kept"
    );
    assert!(codes_at_stripe(&app).await.is_empty());

    // 20% off the logo and the audit, five times, for first orders of $100 or more.
    let res = app
        .post_form(
            "/admin/promotions",
            &[
                ("code", "spring24"),
                ("kind", "percent"),
                ("percent", "20"),
                ("duration", "once"),
                ("template", &logo_id),
                ("template", &seo_id),
                ("code_max_redemptions", "5"),
                ("minimum", "USD 100"),
                ("first_time", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let codes = codes_at_stripe(&app).await;
    assert_eq!(codes.len(), 1);
    let spring = &codes[0];
    assert_eq!(spring["code"], "SPRING24");
    assert_eq!(spring["max_redemptions"], 5);
    assert_eq!(spring["restrictions"]["first_time_transaction"], true);
    assert_eq!(spring["restrictions"]["minimum_amount"], 10_000);
    assert_eq!(spring["restrictions"]["minimum_amount_currency"], "usd");
    assert_eq!(spring["coupon"]["percent_off"], 20.0);
    assert_eq!(spring["coupon"]["duration"], "once");
    assert_eq!(
        spring["coupon"]["applies_to"]["products"],
        serde_json::json!([product, seo_product])
    );
    let page = app.page("/admin/promotions").await;
    for text in [
        "SPRING24",
        "20% off, once on Logo Design, SEO Audit",
        "0 of 5",
        "first-time customers only",
        "orders of $100.00 or more",
    ] {
        assert!(page.contains(text), "{text}: {page}");
    }

    // The same code again is Stripe's refusal, shown at the code.
    let res = app
        .post_form(
            "/admin/promotions",
            &[
                ("code", "SPRING24"),
                ("kind", "percent"),
                ("percent", "10"),
                ("duration", "once"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("already exists"));

    // $10 off, or €9 in euros, on every payment of a subscription.
    let res = app
        .post_form(
            "/admin/promotions",
            &[
                ("code", "TENOFF"),
                ("kind", "amount"),
                ("amounts", "USD 10\r\nEUR 9"),
                ("duration", "forever"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let codes = codes_at_stripe(&app).await;
    let ten = codes.iter().find(|c| c["code"] == "TENOFF").unwrap();
    assert_eq!(ten["coupon"]["amount_off"], 1_000);
    assert_eq!(ten["coupon"]["currency"], "usd");
    assert_eq!(ten["coupon"]["currency_options"]["eur"]["amount_off"], 900);
    let page = app.page("/admin/promotions").await;
    assert!(
        page.contains("$10.00 off (€9.00 in other currencies), forever"),
        "{page}"
    );

    // Turned off, clients can no longer use it.
    let id = spring["id"].as_str().unwrap();
    let res = app
        .post_form(
            &format!("/admin/promotions/{id}/active"),
            &[("active", "false")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let off = emulator_get(&app, &format!("/v1/promotion_codes/{id}")).await;
    assert_eq!(off["active"], false);
    assert!(app.page("/admin/promotions").await.contains("Turn on"));
    let res = app
        .post_form(
            "/admin/promotions/promo_unknown/active",
            &[("active", "false")],
        )
        .await;
    assert_eq!(res.status(), 404);

    // Promotions are the admin's.
    app.create_user(Role::Manager, "manager@example.com", None)
        .await;
    app.switch_browser(browser());
    app.sign_in("manager@example.com", PASSWORD).await;
    assert_eq!(app.get("/admin/promotions").await.status(), 403);
}
