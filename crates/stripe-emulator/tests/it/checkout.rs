//! The purchase journey through the hosted page: cards, bank debits, expiry, refunds, promotion
//! codes and tax.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Harness, eventually, fast_config, harness, harness_with};

fn redirect(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_paid_checkout_redirects_to_success_and_emits_its_events() {
    let h = harness().await;
    let price = h.price("Website audit", "usd", 5000).await;
    let session = order_session(&h, &price).await;
    let id = session["id"].as_str().unwrap();
    page_shows_the_order(&h, session["url"].as_str().unwrap()).await;

    let res = h.pay_card(id, "4242 4242 4242 4242").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        redirect(&res),
        format!("http://shop.test/thanks?session={id}")
    );

    the_order_is_paid(&h, id, &price).await;
    the_payment_emits_its_events(&h, id).await;

    // The page of a completed session says so and cannot be paid twice.
    let again = h.pay_card(id, "4242424242424242").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

/// An open session for the order of two lines, one by price and one inline, by email.
async fn order_session(h: &Harness, price: &str) -> Value {
    let session = h
        .session(&[
            ("line_items[0][price]", price),
            ("line_items[0][quantity]", "1"),
            ("line_items[1][price_data][currency]", "usd"),
            ("line_items[1][price_data][unit_amount]", "1250"),
            (
                "line_items[1][price_data][product_data][name]",
                "Hosting month",
            ),
            ("line_items[1][quantity]", "2"),
            ("client_reference_id", "order_42"),
            ("customer_email", "buyer@example.com"),
            ("metadata[order_id]", "42"),
            ("payment_intent_data[metadata][order_id]", "42"),
        ])
        .await;
    let id = session["id"].as_str().unwrap();
    assert!(id.starts_with("cs_test_"));
    assert_eq!(session["status"], "open");
    assert_eq!(session["payment_status"], "unpaid");
    assert_eq!(session["amount_subtotal"], 7500);
    assert_eq!(session["amount_total"], 7500);
    assert_eq!(session["currency"], "usd");
    assert_eq!(session["payment_intent"], Value::Null);
    let url = session["url"].as_str().unwrap();
    assert_eq!(url, h.url(&format!("/c/pay/{id}")));
    session
}

async fn page_shows_the_order(h: &Harness, url: &str) {
    let page = h.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for needle in [
        "TEST MODE",
        "Website audit",
        "Hosting month × 2",
        "$50.00",
        "$25.00",
        "$75.00",
        "buyer@example.com",
        "name=\"card_number\"",
        "name=\"card_expiry\"",
        "name=\"card_cvc\"",
        "Cancel and return",
        "http://shop.test/cart",
    ] {
        assert!(html.contains(needle), "page lacks {needle}");
    }
    assert!(
        !html.contains("name=\"promotion_code\""),
        "no promotion field unless allowed"
    );
}

/// The paid session, its PaymentIntent, charge and line items, as an app reads them after.
async fn the_order_is_paid(h: &Harness, id: &str, price: &str) {
    let done = h
        .ok_get(&format!(
            "/v1/checkout/sessions/{id}?expand[]=line_items&expand[]=payment_intent.latest_charge"
        ))
        .await;
    assert_eq!(done["status"], "complete");
    assert_eq!(done["payment_status"], "paid");
    assert_eq!(done["url"], Value::Null);
    assert_eq!(done["client_reference_id"], "order_42");
    assert_eq!(done["metadata"]["order_id"], "42");
    assert_eq!(done["customer_details"]["email"], "buyer@example.com");
    assert_eq!(done["line_items"]["data"].as_array().unwrap().len(), 2);
    assert_eq!(done["line_items"]["data"][1]["amount_total"], 2500);
    assert_eq!(
        done["line_items"]["data"][1]["description"],
        "Hosting month"
    );
    let pi = &done["payment_intent"];
    assert!(pi["id"].as_str().unwrap().starts_with("pi_"));
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount"], 7500);
    assert_eq!(pi["amount_received"], 7500);
    assert_eq!(pi["metadata"]["order_id"], "42");
    let charge = &pi["latest_charge"];
    assert!(charge["id"].as_str().unwrap().starts_with("ch_"));
    assert_eq!(charge["paid"], true);
    assert_eq!(charge["payment_method_details"]["card"]["last4"], "4242");

    let items = h
        .ok_get(&format!("/v1/checkout/sessions/{id}/line_items?limit=1"))
        .await;
    assert_eq!(items["has_more"], true);
    assert_eq!(items["data"][0]["price"]["id"], price);
}

/// Only the payment's events after the catalogue's, and the completion delivered by webhook.
async fn the_payment_emits_its_events(h: &Harness, id: &str) {
    let types = h.event_types().await;
    let tail: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| !t.starts_with("product.") && !t.starts_with("price."))
        .collect();
    assert_eq!(
        tail,
        [
            "charge.succeeded",
            "payment_intent.succeeded",
            "checkout.session.completed"
        ]
    );
    eventually("webhooks delivered", || async {
        h.receiver
            .types()
            .contains(&"checkout.session.completed".to_string())
    })
    .await;
    let completed = h
        .receiver
        .events()
        .into_iter()
        .find(|e| e["type"] == "checkout.session.completed")
        .unwrap();
    assert_eq!(completed["data"]["object"]["id"], id);
    assert_eq!(completed["data"]["object"]["payment_status"], "paid");
}

#[tokio::test]
async fn a_declined_card_leaves_the_session_open_and_a_retry_pays() {
    let h = harness().await;
    let session = h
        .session(&[
            ("line_items[0][price_data][currency]", "eur"),
            ("line_items[0][price_data][unit_amount]", "9900"),
            ("line_items[0][price_data][product_data][name]", "SEO"),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
    let id = session["id"].as_str().unwrap();
    let res = h.pay_card(id, "4000 0000 0000 0002").await;
    assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your card was declined.")
    );
    let open = h
        .ok_get(&format!(
            "/v1/checkout/sessions/{id}?expand[]=payment_intent"
        ))
        .await;
    assert_eq!(open["status"], "open");
    assert_eq!(open["payment_status"], "unpaid");
    assert_eq!(open["payment_intent"]["status"], "requires_payment_method");
    assert_eq!(
        open["payment_intent"]["last_payment_error"]["decline_code"],
        "generic_decline"
    );
    let types = h.event_types().await;
    assert!(types.contains(&"payment_intent.payment_failed".to_string()));
    assert!(!types.contains(&"checkout.session.completed".to_string()));

    let res = h.pay_card(id, "4242424242424242").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let paid = h
        .ok_get(&format!(
            "/v1/checkout/sessions/{id}?expand[]=payment_intent"
        ))
        .await;
    assert_eq!(paid["payment_status"], "paid");
    // The same PaymentIntent carries both attempts.
    assert_eq!(paid["payment_intent"]["id"], open["payment_intent"]["id"]);
    assert_eq!(paid["payment_intent"]["status"], "succeeded");
}

#[tokio::test]
async fn insufficient_funds_is_declined_with_its_reason() {
    let h = harness().await;
    let price = h.price("Logo", "usd", 2000).await;
    let session = h
        .session(&[
            ("line_items[0][price]", &price),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
    let id = session["id"].as_str().unwrap();
    let res = h.pay_card(id, "4000000000009995").await;
    assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your card has insufficient funds.")
    );
    let events = h
        .ok_get("/v1/events?type=payment_intent.payment_failed")
        .await;
    let pi = &events["data"][0]["data"]["object"];
    assert_eq!(
        pi["last_payment_error"]["decline_code"],
        "insufficient_funds"
    );
    assert_eq!(pi["last_payment_error"]["code"], "card_declined");
    assert_eq!(
        h.ok_get(&format!("/v1/checkout/sessions/{id}")).await["status"],
        "open"
    );
}

#[tokio::test]
async fn card_fields_are_checked_before_any_charge() {
    let h = harness().await;
    let price = h.price("Logo", "usd", 2000).await;
    let session = h
        .session(&[
            ("line_items[0][price]", &price),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
    let id = session["id"].as_str().unwrap();
    for (number, expiry, cvc, message) in [
        (
            "4242424242424241",
            "12/34",
            "123",
            "Your card number is invalid.",
        ),
        (
            "4242424242424242",
            "01/20",
            "123",
            "Your card's expiration date is in the past.",
        ),
        (
            "4242424242424242",
            "13/34",
            "123",
            "Your card's expiration month is invalid.",
        ),
        (
            "4242424242424242",
            "12/34",
            "12",
            "Your card's security code is invalid.",
        ),
    ] {
        let res = h
            .submit(
                id,
                &[
                    ("email", "a@b.co"),
                    ("payment_method", "card"),
                    ("card_number", number),
                    ("card_expiry", expiry),
                    ("card_cvc", cvc),
                ],
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "{number} {expiry} {cvc}"
        );
        let html = res.text().await.unwrap();
        assert!(html.contains(&askama_escape(message)), "{message}");
    }
    let res = h
        .submit(
            id,
            &[
                ("email", "not-an-email"),
                ("card_number", "4242424242424242"),
                ("card_expiry", "12/34"),
                ("card_cvc", "123"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        h.ok_get("/v1/events?type=charge.failed").await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        h.ok_get(&format!("/v1/checkout/sessions/{id}")).await["payment_intent"],
        Value::Null
    );
}

fn askama_escape(s: &str) -> String {
    s.replace('\'', "&#39;")
}

#[tokio::test]
async fn a_bank_debit_completes_unpaid_and_settles_later() {
    let h = harness().await;
    let price = h.price("Retainer", "eur", 30000).await;
    let session = h
        .session(&[
            ("line_items[0][price]", &price),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
    let id = session["id"].as_str().unwrap();
    let res = h
        .submit(id, &[("email", "a@b.co"), ("payment_method", "bank_debit")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let pending = h
        .ok_get(&format!(
            "/v1/checkout/sessions/{id}?expand[]=payment_intent"
        ))
        .await;
    assert_eq!(pending["status"], "complete");
    assert_eq!(pending["payment_status"], "unpaid");
    assert_eq!(pending["payment_intent"]["status"], "processing");

    // The configured delay is 150 ms.
    eventually("settlement", || async {
        h.ok_get(&format!("/v1/checkout/sessions/{id}")).await["payment_status"] == "paid"
    })
    .await;
    let types = h.event_types().await;
    let completed = types
        .iter()
        .position(|t| t == "checkout.session.completed")
        .unwrap();
    let settled = types
        .iter()
        .position(|t| t == "checkout.session.async_payment_succeeded")
        .unwrap();
    assert!(completed < settled);
    let event = &h
        .ok_get("/v1/events?type=checkout.session.async_payment_succeeded")
        .await["data"][0];
    assert_eq!(event["data"]["object"]["payment_status"], "paid");
    let pi = h
        .ok_get(&format!(
            "/v1/payment_intents/{}",
            pending["payment_intent"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(pi["status"], "succeeded");
}

#[tokio::test]
async fn a_failing_bank_debit_settles_as_failed_when_told_to() {
    let mut config = fast_config();
    config.settlement_delay = std::time::Duration::from_secs(3600);
    let h = harness_with(config, vec![]).await;
    let price = h.price("Retainer", "eur", 30000).await;
    let session = h
        .session(&[
            ("line_items[0][price]", &price),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
    let id = session["id"].as_str().unwrap();
    let res = h
        .submit(
            id,
            &[
                ("email", "a@b.co"),
                ("payment_method", "bank_debit_failing"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        !h.event_types()
            .await
            .contains(&"checkout.session.async_payment_failed".to_string())
    );

    let settled = h
        .ok_post(&format!("/_emulator/checkout/sessions/{id}/settle"), &[])
        .await;
    assert_eq!(settled["payment_status"], "unpaid");
    let types = h.event_types().await;
    assert!(types.contains(&"checkout.session.async_payment_failed".to_string()));
    assert!(types.contains(&"payment_intent.payment_failed".to_string()));
    // Nothing is left to settle.
    let (status, _) = h
        .post(&format!("/_emulator/checkout/sessions/{id}/settle"), &[])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sessions_expire_by_api_and_by_time() {
    let h = harness().await;
    let price = h.price("Logo", "usd", 2000).await;
    let one = h
        .session(&[
            ("line_items[0][price]", &price),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
    let one_id = one["id"].as_str().unwrap();
    let expired = h
        .ok_post(&format!("/v1/checkout/sessions/{one_id}/expire"), &[])
        .await;
    assert_eq!(expired["status"], "expired");
    assert_eq!(expired["url"], Value::Null);
    let (status, err) = h
        .post(&format!("/v1/checkout/sessions/{one_id}/expire"), &[])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("status of `open`")
    );
    let page = h
        .http
        .get(h.url(&format!("/c/pay/{one_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::GONE);

    let now = h.ok_get("/_emulator/clock").await["now"].as_i64().unwrap();
    let expires_at = (now + 1800).to_string();
    let two = h
        .session(&[
            ("line_items[0][price]", &price),
            ("line_items[0][quantity]", "1"),
            ("expires_at", &expires_at),
        ])
        .await;
    let two_id = two["id"].as_str().unwrap();
    assert_eq!(two["expires_at"].as_i64().unwrap(), now + 1800);
    h.ok_post("/_emulator/clock/advance", &[("seconds", "1700")])
        .await;
    assert_eq!(
        h.ok_get(&format!("/v1/checkout/sessions/{two_id}")).await["status"],
        "open"
    );
    h.ok_post("/_emulator/clock/advance", &[("seconds", "200")])
        .await;
    assert_eq!(
        h.ok_get(&format!("/v1/checkout/sessions/{two_id}")).await["status"],
        "expired"
    );
    let expired_events = h.ok_get("/v1/events?type=checkout.session.expired").await;
    let ids: Vec<&str> = expired_events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["object"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [two_id, one_id]);
    // A paid-for session cannot be paid after it expired.
    let res = h.pay_card(two_id, "4242424242424242").await;
    assert_eq!(res.status(), StatusCode::GONE);
}

async fn paid_session(h: &crate::helpers::Harness, amount: i64) -> Value {
    let price = h.price("Work", "usd", amount).await;
    let session = h
        .session(&[
            ("line_items[0][price]", &price),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
    let id = session["id"].as_str().unwrap();
    assert_eq!(
        h.pay_card(id, "4242424242424242").await.status(),
        StatusCode::SEE_OTHER
    );
    h.ok_get(&format!(
        "/v1/checkout/sessions/{id}?expand[]=payment_intent"
    ))
    .await
}

#[tokio::test]
async fn refunds_partial_then_full_and_never_more_than_remains() {
    let h = harness().await;
    let session = paid_session(&h, 5000).await;
    let pi = session["payment_intent"]["id"].as_str().unwrap();
    let charge = session["payment_intent"]["latest_charge"].as_str().unwrap();

    let partial = h
        .ok_post(
            "/v1/refunds",
            &[
                ("payment_intent", pi),
                ("amount", "1500"),
                ("reason", "requested_by_customer"),
            ],
        )
        .await;
    assert!(partial["id"].as_str().unwrap().starts_with("re_"));
    assert_eq!(partial["amount"], 1500);
    assert_eq!(partial["status"], "succeeded");
    assert_eq!(partial["charge"], charge);

    let (status, err) = h
        .post("/v1/refunds", &[("charge", charge), ("amount", "3501")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["param"], "amount");
    assert!(err["error"]["message"].as_str().unwrap().contains("$35.00"));

    let rest = h.ok_post("/v1/refunds", &[("charge", charge)]).await;
    assert_eq!(rest["amount"], 3500);
    let ch = h.ok_get(&format!("/v1/charges/{charge}")).await;
    assert_eq!(ch["amount_refunded"], 5000);
    assert_eq!(ch["refunded"], true);
    assert_eq!(ch["refunds"]["data"].as_array().unwrap().len(), 2);

    let (status, err) = h
        .post("/v1/refunds", &[("payment_intent", pi), ("amount", "1")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["code"], "charge_already_refunded");

    let refunded = h.ok_get("/v1/events?type=charge.refunded").await;
    let amounts: Vec<i64> = refunded["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["object"]["amount_refunded"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [5000, 1500]);
    assert_eq!(
        refunded["data"][1]["data"]["previous_attributes"]["amount_refunded"],
        0
    );
    assert_eq!(
        h.ok_get("/v1/events?type=refund.created").await["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let listed = h.ok_get(&format!("/v1/refunds?payment_intent={pi}")).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        h.ok_get(&format!("/v1/refunds/{}", partial["id"].as_str().unwrap()))
            .await["amount"],
        1500
    );
}

#[tokio::test]
async fn a_promotion_code_and_automatic_tax_make_the_totals() {
    let h = harness().await;
    let promo = launch_codes(&h).await;
    let id = taxed_session(&h).await;
    let id = id.as_str();
    codes_that_do_not_fit_are_refused(&h, id).await;

    let applied = h
        .submit(
            id,
            &[
                ("action", "apply_promotion_code"),
                ("promotion_code", "launch25"),
            ],
        )
        .await;
    assert_eq!(applied.status(), StatusCode::OK);
    let html = applied.text().await.unwrap();
    // Subtotal 7500, discount 25 % = 1875, tax 10 % per line on 3750 and 1875 = 375 + 188.
    assert!(html.contains("$75.00"), "subtotal");
    assert!(html.contains("−$18.75"), "discount");
    assert!(html.contains("$5.63"), "tax");
    assert!(html.contains("$61.88"), "total");
    let s = h.ok_get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(s["amount_subtotal"], 7500);
    assert_eq!(s["total_details"]["amount_discount"], 1875);
    assert_eq!(s["total_details"]["amount_tax"], 563);
    assert_eq!(s["amount_total"], 6188);
    let lines = h
        .ok_get(&format!("/v1/checkout/sessions/{id}/line_items"))
        .await;
    let line_totals: i64 = lines["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount_total"].as_i64().unwrap())
        .sum();
    assert_eq!(line_totals, 6188);

    assert_eq!(
        h.pay_card(id, "4242424242424242").await.status(),
        StatusCode::SEE_OTHER
    );
    let pi = h
        .ok_get(&format!(
            "/v1/checkout/sessions/{id}?expand[]=payment_intent"
        ))
        .await;
    assert_eq!(pi["payment_intent"]["amount"], 6188);
    let promo = h
        .ok_get(&format!(
            "/v1/promotion_codes/{}",
            promo["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(promo["times_redeemed"], 1);
    assert_eq!(promo["coupon"]["times_redeemed"], 1);
}

/// `LAUNCH25` (25 % off, returned) and `FIVEEUR` (5 EUR off, for the wrong currency).
async fn launch_codes(h: &Harness) -> Value {
    let coupon = h
        .ok_post(
            "/v1/coupons",
            &[
                ("percent_off", "25"),
                ("duration", "once"),
                ("name", "Launch"),
            ],
        )
        .await;
    assert_eq!(coupon["percent_off"], 25.0);
    assert_eq!(coupon["valid"], true);
    let promo = h
        .ok_post(
            "/v1/promotion_codes",
            &[
                ("coupon", coupon["id"].as_str().unwrap()),
                ("code", "LAUNCH25"),
            ],
        )
        .await;
    assert!(promo["id"].as_str().unwrap().starts_with("promo_"));
    assert_eq!(promo["coupon"]["id"], coupon["id"]);
    let euro_off = h
        .ok_post("/v1/coupons", &[("amount_off", "500"), ("currency", "eur")])
        .await;
    h.ok_post(
        "/v1/promotion_codes",
        &[
            ("coupon", euro_off["id"].as_str().unwrap()),
            ("code", "FIVEEUR"),
        ],
    )
    .await;
    promo
}

/// A code for another currency, and an unknown one, leave the session as it was.
async fn codes_that_do_not_fit_are_refused(h: &Harness, id: &str) {
    let wrong_currency = h
        .submit(
            id,
            &[
                ("action", "apply_promotion_code"),
                ("promotion_code", "FIVEEUR"),
            ],
        )
        .await;
    assert_eq!(wrong_currency.status(), StatusCode::BAD_REQUEST);
    assert!(
        wrong_currency
            .text()
            .await
            .unwrap()
            .contains("not valid for this currency")
    );
    let unknown = h
        .submit(
            id,
            &[
                ("action", "apply_promotion_code"),
                ("promotion_code", "NOPE"),
            ],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
}

/// A 75.00 USD session that allows codes, with 10 % tax; returns its id.
async fn taxed_session(h: &Harness) -> String {
    let price = h.price("Website audit", "usd", 5000).await;
    let session = h
        .session(&[
            ("line_items[0][price]", &price),
            ("line_items[0][quantity]", "1"),
            ("line_items[1][price_data][currency]", "usd"),
            ("line_items[1][price_data][unit_amount]", "1250"),
            ("line_items[1][price_data][product_data][name]", "Hosting"),
            ("line_items[1][quantity]", "2"),
            ("allow_promotion_codes", "true"),
            ("automatic_tax[enabled]", "true"),
        ])
        .await;
    let id = session["id"].as_str().unwrap();
    // 10 % tax on 7500.
    assert_eq!(session["total_details"]["amount_tax"], 750);
    assert_eq!(session["amount_total"], 8250);
    let html = h
        .http
        .get(h.url(&format!("/c/pay/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"promotion_code\""));
    assert!(html.contains("Tax (10.00%)"));
    assert!(html.contains("$82.50"));
    id.to_string()
}

#[tokio::test]
async fn zero_decimal_currencies_show_no_cents() {
    let h = harness().await;
    let session = h
        .session(&[
            ("line_items[0][price_data][currency]", "jpy"),
            ("line_items[0][price_data][unit_amount]", "5000"),
            (
                "line_items[0][price_data][product_data][name]",
                "Consultation",
            ),
            ("line_items[0][quantity]", "3"),
            ("automatic_tax[enabled]", "true"),
        ])
        .await;
    assert_eq!(session["amount_total"], 16500);
    let html = h
        .http
        .get(session["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("¥15,000"));
    assert!(html.contains("¥1,500"));
    assert!(html.contains("¥16,500"));
    assert!(!html.contains("¥16,500.00"));
    assert!(html.contains("Total due today (JPY)"));
}

#[tokio::test]
async fn mixed_currencies_are_refused_and_create_nothing() {
    let h = harness().await;
    let (status, err) = h
        .post(
            "/v1/checkout/sessions",
            &[
                ("mode", "payment"),
                ("success_url", "http://shop.test/ok"),
                ("line_items[0][price_data][currency]", "usd"),
                ("line_items[0][price_data][unit_amount]", "100"),
                ("line_items[0][price_data][product_data][name]", "A"),
                ("line_items[0][quantity]", "1"),
                ("line_items[1][price_data][currency]", "eur"),
                ("line_items[1][price_data][unit_amount]", "100"),
                ("line_items[1][price_data][product_data][name]", "B"),
                ("line_items[1][quantity]", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["param"], "line_items[1]");
    assert_eq!(
        h.ok_get("/v1/products").await["data"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "a refused session creates no products"
    );
}
