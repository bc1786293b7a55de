//! Addresses for automatic tax: a customer's `address`, Checkout's `billing_address_collection`
//! and `customer_update`, the refusal of tax without an address, and the hosted page asking for
//! the billing country and postal code.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Harness, harness};

const TAX_NEEDS_ADDRESS: &str = "Automatic tax calculation in Checkout requires a valid address on the Customer. Add a valid address to the Customer or set either `customer_update[address]` or `customer_update[shipping]` to 'auto' to save the address entered in Checkout.";

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

#[tokio::test]
async fn customers_take_an_address_on_create_and_update() {
    let h = harness().await;
    let none = h.ok_post("/v1/customers", &[("email", "a@x.co")]).await;
    assert_eq!(none["address"], Value::Null);
    let customer = h
        .ok_post(
            "/v1/customers",
            &[
                ("email", "ana@x.co"),
                ("address[line1]", "1 Rue de la Paix"),
                ("address[line2]", "3e étage"),
                ("address[city]", "Paris"),
                ("address[state]", "IDF"),
                ("address[postal_code]", "75002"),
                ("address[country]", "FR"),
            ],
        )
        .await;
    let paris = json!({
        "line1": "1 Rue de la Paix", "line2": "3e étage", "city": "Paris", "state": "IDF",
        "postal_code": "75002", "country": "FR",
    });
    assert_eq!(customer["address"], paris);
    let path = format!("/v1/customers/{}", id(&customer));
    assert_eq!(h.ok_get(&path).await["address"], paris);

    // Other fields leave the address alone; a new address replaces the old one whole.
    let renamed = h.ok_post(&path, &[("name", "Ana")]).await;
    assert_eq!(renamed["address"], paris);
    let moved = h
        .ok_post(
            &path,
            &[
                ("address[country]", "DE"),
                ("address[postal_code]", "10115"),
            ],
        )
        .await;
    let berlin = json!({
        "line1": null, "line2": null, "city": null, "state": null,
        "postal_code": "10115", "country": "DE",
    });
    assert_eq!(moved["address"], berlin);
    let updated = h.ok_get("/v1/events?type=customer.updated&limit=1").await;
    assert_eq!(
        updated["data"][0]["data"]["previous_attributes"]["address"],
        paris
    );
    assert_eq!(updated["data"][0]["data"]["object"]["address"], berlin);

    // `address=` unsets it.
    let cleared = h.ok_post(&path, &[("address", "")]).await;
    assert_eq!(cleared["address"], Value::Null);

    for (form, param, code) in [
        (
            vec![("address[street]", "x")],
            "address[street]",
            Some("parameter_unknown"),
        ),
        (vec![("address", "Paris")], "address", None),
        (vec![("address[city][0]", "Paris")], "address[city]", None),
        (
            vec![("address[city]", "")],
            "address[city]",
            Some("parameter_invalid_empty"),
        ),
    ] {
        let (status, err) = h.post(&path, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {err}");
        assert_eq!(err["error"]["type"], "invalid_request_error");
        assert_eq!(err["error"]["param"], param, "{form:?}");
        if let Some(code) = code {
            assert_eq!(err["error"]["code"], code, "{form:?}");
        }
    }
    assert_eq!(h.ok_get(&path).await["address"], Value::Null);
}

/// A session's form for one price with automatic tax, plus `extra`.
fn taxed<'a>(price: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("mode", "payment"),
        ("success_url", "http://shop.test/ok"),
        ("line_items[0][price]", price),
        ("line_items[0][quantity]", "1"),
        ("automatic_tax[enabled]", "true"),
    ];
    form.extend_from_slice(extra);
    form
}

#[tokio::test]
async fn automatic_tax_for_a_customer_without_an_address_is_refused() {
    let h = harness().await;
    let price = h.price("Audit", "usd", 5000).await;
    let bare = h.ok_post("/v1/customers", &[("email", "a@x.co")]).await;
    let bare = id(&bare);
    let us_no_zip = h
        .ok_post(
            "/v1/customers",
            &[("address[country]", "US"), ("address[city]", "Austin")],
        )
        .await;
    for extra in [
        vec![("customer", bare)],
        vec![("customer", bare), ("customer_update[address]", "never")],
        vec![("customer", bare), ("customer_update[name]", "auto")],
        vec![
            ("customer", bare),
            ("billing_address_collection", "required"),
        ],
        vec![("customer", id(&us_no_zip))],
    ] {
        let (status, err) = h
            .post("/v1/checkout/sessions", &taxed(&price, &extra))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra:?}: {err}");
        assert_eq!(err["error"]["type"], "invalid_request_error");
        assert_eq!(err["error"]["message"], TAX_NEEDS_ADDRESS);
        assert_eq!(err["error"]["param"], "customer_update[address]");
    }
    assert!(
        h.ok_get("/v1/checkout/sessions").await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let (status, err) = h
        .post(
            "/v1/checkout/sessions",
            &taxed(
                &price,
                &[
                    ("customer_email", "a@x.co"),
                    ("customer_update[address]", "auto"),
                ],
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["error"]["message"],
        "`customer_update` can only be used with `customer`."
    );
    assert_eq!(err["error"]["param"], "customer_update");
    for (extra, param) in [
        (
            vec![("customer", bare), ("customer_update[address]", "always")],
            "customer_update[address]",
        ),
        (
            vec![("customer", bare), ("customer_update[phone]", "auto")],
            "customer_update[phone]",
        ),
        (
            vec![("billing_address_collection", "always")],
            "billing_address_collection",
        ),
    ] {
        let (status, err) = h
            .post("/v1/checkout/sessions", &taxed(&price, &extra))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra:?}: {err}");
        assert_eq!(err["error"]["param"], param);
    }
    assert!(
        h.ok_get("/v1/checkout/sessions").await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn automatic_tax_is_fine_with_an_address_or_one_checkout_may_save() {
    let h = harness().await;
    let price = h.price("Audit", "usd", 5000).await;
    let bare = h.ok_post("/v1/customers", &[("email", "a@x.co")]).await;
    let bare = id(&bare);
    let fr = h
        .ok_post(
            "/v1/customers",
            &[
                ("address[country]", "FR"),
                ("address[postal_code]", "75002"),
            ],
        )
        .await;
    let us = h
        .ok_post(
            "/v1/customers",
            &[
                ("address[country]", "US"),
                ("address[postal_code]", "78701"),
            ],
        )
        .await;
    let cases: [(Vec<(&str, &str)>, Value); 7] = [
        (
            vec![("customer", bare), ("customer_update[address]", "auto")],
            Value::Null,
        ),
        (
            vec![("customer", bare), ("customer_update[shipping]", "auto")],
            Value::Null,
        ),
        (
            vec![
                ("customer", bare),
                ("customer_update[address]", "auto"),
                ("billing_address_collection", "required"),
            ],
            json!("required"),
        ),
        (vec![("customer", id(&fr))], Value::Null),
        (
            vec![
                ("customer", id(&us)),
                ("billing_address_collection", "auto"),
            ],
            json!("auto"),
        ),
        // Without a customer, Checkout collects the address itself.
        (vec![("customer_email", "a@x.co")], Value::Null),
        (vec![], Value::Null),
    ];
    for (extra, collection) in cases {
        let (status, session) = h
            .post("/v1/checkout/sessions", &taxed(&price, &extra))
            .await;
        assert_eq!(status, StatusCode::OK, "{extra:?}: {session}");
        assert_eq!(
            session["billing_address_collection"], collection,
            "{extra:?}"
        );
        assert_eq!(session["automatic_tax"]["enabled"], true);
        assert_eq!(session["total_details"]["amount_tax"], 500);
    }
    // Without automatic tax, an address is not needed.
    let untaxed = h
        .session(&[
            ("line_items[0][price]", &price),
            ("line_items[0][quantity]", "1"),
            ("customer", bare),
            ("customer_update[name]", "never"),
        ])
        .await;
    assert_eq!(untaxed["automatic_tax"]["enabled"], false);
    assert_eq!(
        h.ok_get("/v1/checkout/sessions").await["data"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
}

/// The hosted page's text for `session`.
async fn page(h: &Harness, session: &Value) -> String {
    let res = h
        .http
        .get(session["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

fn asks_for_the_address(html: &str) -> bool {
    html.contains("<legend>Billing address</legend>")
        && html.contains("name=\"billing_country\"")
        && html.contains("name=\"billing_postal_code\"")
}

#[tokio::test]
async fn the_page_asks_for_the_billing_address_and_saves_it_on_the_customer() {
    let h = harness().await;
    let price = h.price("Audit", "usd", 5000).await;
    let customer = h.ok_post("/v1/customers", &[("email", "ana@x.co")]).await;
    let session = h
        .session(&[
            ("line_items[0][price]", &price),
            ("line_items[0][quantity]", "1"),
            ("customer", id(&customer)),
            ("automatic_tax[enabled]", "true"),
            ("customer_update[address]", "auto"),
        ])
        .await;
    let sid = id(&session);
    let html = page(&h, &session).await;
    assert!(asks_for_the_address(&html), "{html}");
    for needle in [
        "Country (two-letter code) <input type=\"text\" name=\"billing_country\" value=\"\" required autocomplete=\"billing country\"",
        "Postal code <input type=\"text\" name=\"billing_postal_code\" value=\"\" required autocomplete=\"billing postal-code\"",
    ] {
        assert!(html.contains(needle), "page lacks {needle}");
    }
    refuses_a_missing_or_bad_address(&h, sid).await;

    let declined = h
        .pay_card_with(
            sid,
            "4000000000000002",
            &[("billing_country", "de"), ("billing_postal_code", "10115")],
        )
        .await;
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    let customer_path = format!("/v1/customers/{}", id(&customer));
    assert_eq!(
        h.ok_get(&customer_path).await["address"],
        Value::Null,
        "not saved on a decline"
    );

    let paid = h
        .pay_card_with(
            sid,
            "4242424242424242",
            &[
                ("billing_country", " de "),
                ("billing_postal_code", " 10115 "),
            ],
        )
        .await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let berlin = json!({
        "line1": null, "line2": null, "city": null, "state": null,
        "postal_code": "10115", "country": "DE",
    });
    assert_eq!(h.ok_get(&customer_path).await["address"], berlin);
    let done = h
        .ok_get(&format!(
            "/v1/checkout/sessions/{sid}?expand[]=payment_intent.latest_charge"
        ))
        .await;
    assert_eq!(done["payment_status"], "paid");
    assert_eq!(done["customer_details"]["address"], berlin);
    assert_eq!(
        done["payment_intent"]["latest_charge"]["billing_details"]["address"],
        berlin
    );
    let updated = h.ok_get("/v1/events?type=customer.updated").await;
    assert_eq!(updated["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        updated["data"][0]["data"]["previous_attributes"],
        json!({"address": null})
    );
    assert_eq!(updated["data"][0]["data"]["object"]["address"], berlin);
}

/// Each missing or malformed part of the address is a 400 on the page, with its message and
/// the typed values kept, and no payment attempt.
async fn refuses_a_missing_or_bad_address(h: &Harness, sid: &str) {
    for (country, postal_code, message) in [
        ("", "10115", "Enter your billing country."),
        (
            "Germany",
            "10115",
            "Enter your billing country as a two-letter code, such as US or DE.",
        ),
        (
            "D1",
            "10115",
            "Enter your billing country as a two-letter code, such as US or DE.",
        ),
        ("DE", "  ", "Enter your postal code."),
        (
            "DE",
            "123456789012345678901",
            "Your postal code is too long.",
        ),
    ] {
        let res = h
            .pay_card_with(
                sid,
                "4242424242424242",
                &[
                    ("billing_country", country),
                    ("billing_postal_code", postal_code),
                ],
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "{country} {postal_code}"
        );
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!("<p class=\"error\" role=\"alert\">{message}</p>")),
            "{country} {postal_code}: {message}"
        );
        assert!(html.contains(&format!("name=\"billing_country\" value=\"{country}\"")));
    }
    let res = h.pay_card(sid, "4242424242424242").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "no address at all");
    assert!(
        h.ok_get("/v1/charges").await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let session = h.ok_get(&format!("/v1/checkout/sessions/{sid}")).await;
    assert_eq!(session["status"], "open");
    assert_eq!(session["payment_intent"], Value::Null);
}

#[tokio::test]
async fn a_required_billing_address_is_asked_for_and_kept_off_the_customer() {
    let h = harness().await;
    let price = h.price("Audit", "usd", 5000).await;
    let customer = h
        .ok_post(
            "/v1/customers",
            &[
                ("address[country]", "FR"),
                ("address[postal_code]", "75002"),
            ],
        )
        .await;
    let session = h
        .session(&[
            ("line_items[0][price]", &price),
            ("line_items[0][quantity]", "1"),
            ("customer", id(&customer)),
            ("billing_address_collection", "required"),
        ])
        .await;
    let sid = id(&session);
    let html = page(&h, &session).await;
    assert!(asks_for_the_address(&html));
    // Prefilled from the customer's address.
    assert!(html.contains("name=\"billing_country\" value=\"FR\""));
    assert!(html.contains("name=\"billing_postal_code\" value=\"75002\""));
    let res = h
        .pay_card_with(
            sid,
            "4242424242424242",
            &[("billing_country", "DE"), ("billing_postal_code", "10115")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let done = h.ok_get(&format!("/v1/checkout/sessions/{sid}")).await;
    assert_eq!(done["billing_address_collection"], "required");
    assert_eq!(done["customer_details"]["address"]["country"], "DE");
    // Without `customer_update[address]=auto` the customer keeps its address.
    let kept = h.ok_get(&format!("/v1/customers/{}", id(&customer))).await;
    assert_eq!(kept["address"]["country"], "FR");
    assert!(
        h.ok_get("/v1/events?type=customer.updated").await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // `auto` without tax, or tax without saving onto a customer: nothing to ask.
    for extra in [
        vec![
            ("billing_address_collection", "auto"),
            ("customer_email", "a@x.co"),
        ],
        vec![
            ("automatic_tax[enabled]", "true"),
            ("customer_email", "a@x.co"),
        ],
        vec![
            ("automatic_tax[enabled]", "true"),
            ("customer", id(&customer)),
        ],
    ] {
        let mut form = vec![
            ("line_items[0][price]", price.as_str()),
            ("line_items[0][quantity]", "1"),
        ];
        form.extend(extra);
        let other = h.session(&form).await;
        assert!(!asks_for_the_address(&page(&h, &other).await), "{form:?}");
    }
}
