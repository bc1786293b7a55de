//! Coupons and promotion codes with their restrictions, given at session creation
//! (`discounts[]`): a coupon limited to products discounts only their lines, and a code that
//! does not fit is refused as Stripe refuses it, naming the parameter.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Harness, harness};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// A price and its product's id.
async fn priced(h: &Harness, name: &str, currency: &str, amount: i64) -> (String, String) {
    let price = h.price(name, currency, amount).await;
    let product = h.ok_get(&format!("/v1/prices/{price}")).await["product"]
        .as_str()
        .unwrap()
        .to_string();
    (price, product)
}

async fn code(h: &Harness, coupon: &str, code: &str, extra: &[(&str, &str)]) -> String {
    let mut form = vec![("coupon", coupon), ("code", code)];
    form.extend_from_slice(extra);
    id(&h.ok_post("/v1/promotion_codes", &form).await)
}

/// A session's creation refused: its error's parameter and message.
async fn refused(h: &Harness, form: &[(&str, &str)]) -> (String, String) {
    let mut all = vec![("mode", "payment"), ("success_url", "http://shop.test/ok")];
    all.extend_from_slice(form);
    let (status, body) = h.post("/v1/checkout/sessions", &all).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    (
        body["error"]["param"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["error"]["message"].as_str().unwrap().to_string(),
    )
}

/// A one-line session's form: `price` once, and `extra`.
fn with<'a>(price: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("line_items[0][price]", price),
        ("line_items[0][quantity]", "1"),
    ];
    form.extend_from_slice(extra);
    form
}

#[tokio::test]
async fn a_coupon_limited_to_a_product_discounts_only_its_line() {
    let h = harness().await;
    let (logo, logo_product) = priced(&h, "Logo", "usd", 10_000).await;
    let (seo, _) = priced(&h, "SEO", "usd", 5_000).await;
    let coupon = h
        .ok_post(
            "/v1/coupons",
            &[
                ("percent_off", "20"),
                ("applies_to[products][]", &logo_product),
            ],
        )
        .await;
    // `applies_to` is includable.
    assert!(coupon.get("applies_to").is_none());
    let shown = h
        .ok_get(&format!("/v1/coupons/{}?expand[]=applies_to", id(&coupon)))
        .await;
    assert_eq!(shown["applies_to"]["products"][0], logo_product.as_str());
    let promo = code(&h, &id(&coupon), "LOGO20", &[("max_redemptions", "1")]).await;

    let session = h
        .session(&[
            ("line_items[0][price]", &logo),
            ("line_items[0][quantity]", "1"),
            ("line_items[1][price]", &seo),
            ("line_items[1][quantity]", "1"),
            ("discounts[0][promotion_code]", &promo),
        ])
        .await;
    assert_eq!(session["amount_subtotal"], 15_000);
    assert_eq!(session["total_details"]["amount_discount"], 2_000);
    assert_eq!(session["amount_total"], 13_000);
    let lines = h
        .ok_get(&format!(
            "/v1/checkout/sessions/{}/line_items",
            id(&session)
        ))
        .await;
    let discounts: Vec<i64> = lines["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount_discount"].as_i64().unwrap())
        .collect();
    assert_eq!(discounts, [2_000, 0]);
    // Each line's `discounts` is includable, its promotion code expandable: how a code typed on
    // the page is found after payment.
    assert!(lines["data"][0].get("discounts").is_none());
    let lines = h
        .ok_get(&format!(
            "/v1/checkout/sessions/{}/line_items?expand[]=data.discounts.discount.promotion_code",
            id(&session)
        ))
        .await;
    let first = &lines["data"][0]["discounts"][0];
    assert_eq!(first["amount"], 2_000);
    assert_eq!(first["discount"]["coupon"]["percent_off"], 20.0);
    assert_eq!(first["discount"]["promotion_code"]["code"], "LOGO20");
    assert_eq!(lines["data"][1]["discounts"], serde_json::json!([]));
    // A session of the other product only has nothing the code applies to.
    let (param, message) = refused(
        &h,
        &[
            ("line_items[0][price]", &seo),
            ("line_items[0][quantity]", "1"),
            ("discounts[0][promotion_code]", &promo),
        ],
    )
    .await;
    assert_eq!(param, "discounts[0][promotion_code]");
    assert!(message.contains("does not apply"), "{message}");

    // Paid, the code is used up (one redemption).
    let paid = h.pay_card(&id(&session), "4242 4242 4242 4242").await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let used = h.ok_get(&format!("/v1/promotion_codes/{promo}")).await;
    assert_eq!(used["times_redeemed"], 1);
    assert_eq!(used["coupon"]["times_redeemed"], 1);
    let (param, message) = refused(
        &h,
        &[
            ("line_items[0][price]", &logo),
            ("line_items[0][quantity]", "1"),
            ("discounts[0][promotion_code]", &promo),
        ],
    )
    .await;
    assert_eq!(param, "discounts[0][promotion_code]");
    assert!(message.contains("used up"), "{message}");
}

#[tokio::test]
async fn codes_that_do_not_fit_are_refused_at_creation() {
    let h = harness().await;
    let (usd, _) = priced(&h, "Logo", "usd", 10_000).await;
    let (eur, _) = priced(&h, "Logo", "eur", 9_000).await;
    let (gbp, _) = priced(&h, "Logo", "gbp", 8_000).await;

    // $10 off, or €9 off in euros; nothing in pounds.
    let ten = h
        .ok_post(
            "/v1/coupons",
            &[
                ("amount_off", "1000"),
                ("currency", "usd"),
                ("currency_options[eur][amount_off]", "900"),
            ],
        )
        .await;
    let shown = h
        .ok_get(&format!(
            "/v1/coupons/{}?expand[]=currency_options",
            id(&ten)
        ))
        .await;
    assert_eq!(shown["currency_options"]["eur"]["amount_off"], 900);
    let ten_off = code(&h, &id(&ten), "TENOFF", &[]).await;
    let in_euros = h
        .session(&[
            ("line_items[0][price]", &eur),
            ("line_items[0][quantity]", "1"),
            ("discounts[0][promotion_code]", &ten_off),
        ])
        .await;
    assert_eq!(in_euros["total_details"]["amount_discount"], 900);
    let (param, message) = refused(
        &h,
        &with(&gbp, &[("discounts[0][promotion_code]", &ten_off)]),
    )
    .await;
    assert_eq!(param, "discounts[0][promotion_code]");
    assert!(message.contains("currency"), "{message}");

    // A coupon given directly discounts too.
    let direct = h
        .session(&[
            ("line_items[0][price]", &usd),
            ("line_items[0][quantity]", "1"),
            ("discounts[0][coupon]", &id(&ten)),
        ])
        .await;
    assert_eq!(direct["amount_total"], 9_000);

    // Not with `allow_promotion_codes`, not two, not an unknown code.
    for (extra, want_param) in [
        (
            vec![
                ("allow_promotion_codes", "true"),
                ("discounts[0][promotion_code]", ten_off.as_str()),
            ],
            "discounts",
        ),
        (
            vec![
                ("discounts[0][promotion_code]", ten_off.as_str()),
                ("discounts[1][coupon]", "nope"),
            ],
            "discounts",
        ),
        (
            vec![("discounts[0][promotion_code]", "promo_unknown")],
            "discounts[0][promotion_code]",
        ),
    ] {
        assert_eq!(refused(&h, &with(&usd, &extra)).await.0, want_param);
    }

    // A code for first-time customers is refused to a customer who has paid before.
    let customer = id(&h.ok_post("/v1/customers", &[("email", "ana@x.co")]).await);
    let welcome = code(
        &h,
        &id(&ten),
        "WELCOME",
        &[("restrictions[first_time_transaction]", "true")],
    )
    .await;
    let first = h
        .session(&[
            ("line_items[0][price]", &usd),
            ("line_items[0][quantity]", "1"),
            ("customer", &customer),
            ("discounts[0][promotion_code]", &welcome),
        ])
        .await;
    assert_eq!(first["amount_total"], 9_000);
    let paid = h.pay_card(&id(&first), "4242 4242 4242 4242").await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let form = with(
        &usd,
        &[
            ("customer", &customer),
            ("discounts[0][promotion_code]", &welcome),
        ],
    );
    let (_, message) = refused(&h, &form).await;
    assert!(message.contains("first-time"), "{message}");

    // A code turned off is refused; turned on again, it works.
    let off = h
        .ok_post(
            &format!("/v1/promotion_codes/{ten_off}"),
            &[("active", "false")],
        )
        .await;
    assert_eq!(off["active"], false);
    let form = with(&usd, &[("discounts[0][promotion_code]", &ten_off)]);
    assert!(refused(&h, &form).await.1.contains("expired"));
    h.ok_post(
        &format!("/v1/promotion_codes/{ten_off}"),
        &[("active", "true")],
    )
    .await;
    let again = h
        .session(&[
            ("line_items[0][price]", &usd),
            ("line_items[0][quantity]", "1"),
            ("discounts[0][promotion_code]", &ten_off),
        ])
        .await;
    assert_eq!(again["amount_total"], 9_000);
}
