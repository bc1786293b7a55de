//! Promotion codes made and managed by admins from the app, kept at Stripe (the emulator over
//! HTTP): a coupon limited to a service, amounts in several currencies, a code's own limits,
//! a code turned off; bad input names each mistake and makes nothing.

use agency_hub::db::entities::order::{self, OrderStatus};
use agency_hub::db::entities::user::Role;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::checkout::template_when;
use crate::fixtures;
use crate::harness::{PASSWORD, TestApp, browser, spawn_app};
use crate::purchase::{emulator_get, pay, shopping, start_checkout, wait_for_order};

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
    let res = app
        .post_form(
            &format!("/admin/promotions/{id}/active"),
            &[("active", "maybe")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        emulator_get(&app, &format!("/v1/promotion_codes/{id}")).await["active"],
        false
    );

    // Promotions are the admin's.
    app.create_user(Role::Manager, "manager@example.com", None)
        .await;
    app.switch_browser(browser());
    app.sign_in("manager@example.com", PASSWORD).await;
    assert_eq!(app.get("/admin/promotions").await.status(), 403);
}

/// A promotion code applied in our cart: checked with Stripe against the cart, the discount
/// shown before checkout, passed to Checkout, recorded on the order and on its line.
#[tokio::test]
async fn a_code_for_one_service_discounts_only_its_line_and_a_used_up_code_is_refused() {
    let app = spawn_app().await;
    // Logo Design ($499) and two SEO Audits ($350 each).
    let (logo, seo) = shopping(&app).await;
    let product = template_when(&app, logo, "synced")
        .await
        .stripe_product_id
        .unwrap();
    template_when(&app, seo, "synced").await;
    let coupon = emulator_post(
        &app,
        "/v1/coupons",
        &[("percent_off", "20"), ("applies_to[products][]", &product)],
    )
    .await;
    emulator_post(
        &app,
        "/v1/promotion_codes",
        &[
            ("coupon", coupon["id"].as_str().unwrap()),
            ("code", "LOGO20"),
            ("max_redemptions", "1"),
        ],
    )
    .await;

    let res = app
        .post_form(
            "/store/cart/promotion-code",
            &[("action", "apply"), ("code", "NOPE")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("There is no promotion code NOPE")
    );
    let res = app
        .post_form(
            "/store/cart/promotion-code",
            &[("action", "apply"), ("code", "logo20")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let cart = app.page("/store/cart").await;
    assert!(cart.contains("Discount (LOGO20)"), "{cart}");
    assert!(cart.contains("−$99.80"), "{cart}");
    assert!(cart.contains("$1,099.20"), "{cart}");
    // Removed, then applied again.
    let res = app
        .post_form("/store/cart/promotion-code", &[("action", "remove")])
        .await;
    assert_eq!(res.status(), 303);
    assert!(!app.page("/store/cart").await.contains("Discount ("));
    let res = app
        .post_form(
            "/store/cart/promotion-code",
            &[("action", "apply"), ("code", "LOGO20")],
        )
        .await;
    assert_eq!(res.status(), 303);
    // The same through the API: the cart says the code, its discount and what is left to pay.
    let code_api = |method| app.api(method, "/api/cart/promotion-code");
    let cart: Value = code_api(reqwest::Method::DELETE)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cart["promotionCode"], Value::Null);
    assert_eq!(cart["discount"], Value::Null);
    let res = code_api(reqwest::Method::PUT)
        .json(&json!({"code": "NOPE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "code", "{body}");
    let res = code_api(reqwest::Method::PUT)
        .json(&json!({"code": "logo20"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cart: Value = res.json().await.unwrap();
    assert_eq!(cart["promotionCode"], "LOGO20");
    assert_eq!(cart["discount"]["amountMinor"], 9_980);
    assert_eq!(cart["totalAfterDiscount"]["amountMinor"], 109_920);

    let (order_id, url) = start_checkout(&app).await;
    let session_id = url.rsplit('/').next().unwrap();
    let session = emulator_get(&app, &format!("/v1/checkout/sessions/{session_id}")).await;
    assert_eq!(session["amount_total"], 109_920);
    assert_eq!(session["allow_promotion_codes"], false);
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    let paid = wait_for_order(&app, order_id, OrderStatus::Completed).await;
    assert_eq!(paid.discount_minor, 9_980);
    assert_eq!(paid.total_minor, 109_920);
    assert_eq!(paid.promotion_code.as_deref(), Some("LOGO20"));
    // Only the logo's line carries the discount.
    let items = crate::tax::items_read(&app, order_id, |i| i.discount_minor > 0).await;
    let of = |t| {
        items
            .iter()
            .find(|i| i.template_id == t)
            .unwrap()
            .discount_minor
    };
    assert_eq!((of(logo), of(seo)), (9_980, 0));

    // Used once, it is used up: our cart refuses it and says so.
    assert_eq!(
        app.post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": logo, "quantity": 1})
        )
        .await
        .status(),
        201
    );
    let res = app
        .post_form(
            "/store/cart/promotion-code",
            &[("action", "apply"), ("code", "LOGO20")],
        )
        .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("The code LOGO20 has expired or been used up."),
        "{page}"
    );
    assert!(!app.page("/store/cart").await.contains("Discount ("));
}

async fn emulator_post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> Value {
    let res = browser()
        .post(format!("{}{path}", app.emulator))
        .bearer_auth("sk_test_tests")
        .form(form)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap()
}

/// A code typed on Stripe's page rather than in our cart: the order records it once its lines
/// are read, and the promotions list and the dashboard count the order and its revenue.
#[tokio::test]
async fn a_code_typed_on_stripes_page_is_recorded_and_counted() {
    let app = spawn_app().await;
    // Logo Design ($499) and two SEO Audits ($350 each): $1,199.00.
    shopping(&app).await;
    let coupon = emulator_post(
        &app,
        "/v1/coupons",
        &[("amount_off", "5000"), ("currency", "usd")],
    )
    .await;
    emulator_post(
        &app,
        "/v1/promotion_codes",
        &[
            ("coupon", coupon["id"].as_str().unwrap()),
            ("code", "PAGE50"),
        ],
    )
    .await;
    let (order_id, url) = start_checkout(&app).await;
    let applied = browser()
        .post(&url)
        .form(&[
            ("action", "apply_promotion_code"),
            ("promotion_code", "PAGE50"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(applied.status(), 200);
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    let paid = wait_for_order(&app, order_id, OrderStatus::Completed).await;
    assert_eq!((paid.discount_minor, paid.total_minor), (5_000, 114_900));
    let mut recorded = None;
    for _ in 0..200 {
        let o = order::Entity::find_by_id(order_id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        if o.promotion_code.is_some() {
            recorded = o.promotion_code;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(recorded.as_deref(), Some("PAGE50"));

    app.signed_in_as(Role::Admin).await;
    let page = app.page("/admin/promotions").await;
    assert!(page.contains("Paid: 1 order, $1,149.00"), "{page}");
    let dashboard = app.page("/admin/metrics").await;
    let row = dashboard
        .split("<code>PAGE50</code>")
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .unwrap_or_else(|| panic!("no PAGE50 row: {dashboard}"));
    assert!(row.contains(">1<"), "{row}");
    assert!(row.contains("$1,149.00"), "{row}");
    assert!(row.contains("$50.00"), "{row}");
}
