//! The wire format: resources, lists, errors, authentication, idempotency and versions.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Harness, KEY, harness};

#[tokio::test]
async fn products_prices_and_customers_round_trip_with_events() {
    let h = harness().await;
    let product = product_round_trip(&h).await;
    price_round_trip(&h, &product).await;
    customer_round_trip(&h).await;

    assert_eq!(
        h.event_types().await,
        [
            "product.created",
            "product.updated",
            "price.created",
            "price.updated",
            "customer.created",
            "customer.updated"
        ]
    );
    let events = h.ok_get("/v1/events?type=product.updated").await;
    let event = &events["data"][0];
    assert_eq!(event["data"]["previous_attributes"]["active"], true);
    assert_eq!(event["data"]["object"]["active"], false);
    assert_eq!(event["api_version"], stripe_emulator::API_VERSION);
    let again = h
        .ok_get(&format!("/v1/events/{}", event["id"].as_str().unwrap()))
        .await;
    assert_eq!(again["id"], event["id"]);
    assert!(again["pending_webhooks"].is_u64());
}

/// Creates a product, archives it and drops one metadata key; returns its id.
async fn product_round_trip(h: &Harness) -> String {
    let product = h
        .ok_post(
            "/v1/products",
            &[
                ("name", "Website audit"),
                ("metadata[service]", "audit"),
                ("metadata[tier]", "gold"),
            ],
        )
        .await;
    let id = product["id"].as_str().unwrap();
    assert!(id.starts_with("prod_"));
    assert_eq!(product["object"], "product");
    assert_eq!(product["livemode"], false);
    assert_eq!(product["active"], true);
    assert!(product["created"].as_i64().unwrap() > 1_600_000_000);

    let updated = h
        .ok_post(
            &format!("/v1/products/{id}"),
            &[("active", "false"), ("metadata[tier]", "")],
        )
        .await;
    assert_eq!(updated["active"], false);
    assert_eq!(updated["metadata"], json!({"service": "audit"}));
    assert_eq!(
        h.ok_get(&format!("/v1/products/{id}")).await["active"],
        false
    );
    id.to_string()
}

/// A price for product `id`: amounts cannot change, the rest can, and it expands its product.
async fn price_round_trip(h: &Harness, id: &str) {
    let price = h
        .ok_post(
            "/v1/prices",
            &[
                ("currency", "EUR"),
                ("unit_amount", "5000"),
                ("product", id),
            ],
        )
        .await;
    assert!(price["id"].as_str().unwrap().starts_with("price_"));
    assert_eq!(price["currency"], "eur");
    assert_eq!(price["unit_amount"], 5000);
    assert_eq!(price["type"], "one_time");
    let price_id = price["id"].as_str().unwrap();

    // Amounts are immutable: the update endpoint does not know the parameter.
    let (status, err) = h
        .post(&format!("/v1/prices/{price_id}"), &[("unit_amount", "1")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["param"], "unit_amount");
    assert_eq!(err["error"]["code"], "parameter_unknown");
    let archived = h
        .ok_post(
            &format!("/v1/prices/{price_id}"),
            &[("active", "false"), ("metadata[k]", "v")],
        )
        .await;
    assert_eq!(archived["active"], false);
    assert_eq!(archived["unit_amount"], 5000);
    assert_eq!(archived["metadata"]["k"], "v");

    let expanded = h
        .ok_get(&format!("/v1/prices/{price_id}?expand[]=product"))
        .await;
    assert_eq!(expanded["product"]["id"], id);
    assert_eq!(expanded["product"]["name"], "Website audit");
}

async fn customer_round_trip(h: &Harness) {
    let customer = h
        .ok_post(
            "/v1/customers",
            &[("email", "ana@example.com"), ("name", "Ana")],
        )
        .await;
    let cus = customer["id"].as_str().unwrap();
    assert!(cus.starts_with("cus_"));
    let customer = h
        .ok_post(&format!("/v1/customers/{cus}"), &[("name", "Ana B.")])
        .await;
    assert_eq!(customer["name"], "Ana B.");
    assert_eq!(customer["email"], "ana@example.com");
}

#[tokio::test]
async fn lists_paginate_with_cursors() {
    let h = harness().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let p = h
            .ok_post("/v1/products", &[("name", &format!("P{i}"))])
            .await;
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    let page1 = h.ok_get("/v1/products?limit=2").await;
    assert_eq!(page1["object"], "list");
    assert_eq!(page1["url"], "/v1/products");
    assert_eq!(page1["has_more"], true);
    // Newest first, as on Stripe.
    assert_eq!(page1["data"][0]["id"], ids[4]);
    assert_eq!(page1["data"][1]["id"], ids[3]);
    let page2 = h
        .ok_get(&format!("/v1/products?limit=2&starting_after={}", ids[3]))
        .await;
    assert_eq!(page2["data"][0]["id"], ids[2]);
    let page3 = h
        .ok_get(&format!("/v1/products?limit=2&starting_after={}", ids[1]))
        .await;
    assert_eq!(page3["data"].as_array().unwrap().len(), 1);
    assert_eq!(page3["has_more"], false);
    let back = h
        .ok_get(&format!("/v1/products?limit=2&ending_before={}", ids[2]))
        .await;
    assert_eq!(back["data"][0]["id"], ids[4]);

    let (status, err) = h.get("/v1/products?limit=101").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["param"], "limit");
}

/// Path, form, the parameter the error must name, and its code when Stripe gives one.
type BadCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, Option<&'a str>);

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter_and_change_nothing() {
    let h = harness().await;
    let price = h.price("Logo", "usd", 1000).await;
    let cases = [
        product_and_price_cases(),
        session_param_cases(&price),
        session_rule_cases(&price),
        refund_and_coupon_cases(),
    ]
    .concat();
    for (path, form, param, code) in cases {
        let (status, body) = h.post(path, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {form:?}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
        assert_eq!(body["error"]["param"], param, "{path} {form:?}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        if let Some(code) = code {
            assert_eq!(body["error"]["code"], code, "{path} {form:?}: {body}");
        }
    }
    let (status, body) = h.get("/v1/products?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "colour");

    // Only the fixture's product exists, and no session was made.
    assert_eq!(
        h.ok_get("/v1/products").await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        h.ok_get("/v1/checkout/sessions").await["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

/// Unknown, missing and mistyped parameters of products and prices.
fn product_and_price_cases() -> Vec<BadCase<'static>> {
    vec![
        (
            "/v1/products",
            vec![("name", "X"), ("colour", "red")],
            "colour",
            Some("parameter_unknown"),
        ),
        (
            "/v1/products",
            vec![("description", "no name")],
            "name",
            Some("parameter_missing"),
        ),
        (
            "/v1/products",
            vec![("name", "X"), ("active", "maybe")],
            "active",
            None,
        ),
        (
            "/v1/prices",
            vec![
                ("currency", "usd"),
                ("unit_amount", "12.5"),
                ("product_data[name]", "X"),
            ],
            "unit_amount",
            Some("parameter_invalid_integer"),
        ),
    ]
}

/// Session parameters the schema refuses, and a line item's missing price.
fn session_param_cases(price: &str) -> Vec<BadCase<'_>> {
    vec![
        (
            "/v1/checkout/sessions",
            vec![
                ("mode", "payment"),
                ("line_items[0][price]", price),
                ("line_items[0][quantity]", "1"),
            ],
            "success_url",
            Some("parameter_missing"),
        ),
        (
            "/v1/checkout/sessions",
            vec![
                ("mode", "payment"),
                ("success_url", "http://shop.test/ok"),
                ("line_items[0][price_data][currency]", "usd"),
                ("line_items[0][price_data][unit_amount]", "ten"),
                ("line_items[0][price_data][product_data][name]", "X"),
                ("line_items[0][quantity]", "1"),
            ],
            "line_items[0][price_data][unit_amount]",
            Some("parameter_invalid_integer"),
        ),
        (
            "/v1/checkout/sessions",
            vec![
                ("mode", "payment"),
                ("success_url", "http://shop.test/ok"),
                ("line_items[0][price]", price),
                ("line_items[0][quantity]", "1"),
                ("line_items[0][price_data][transform_quantity]", "2"),
            ],
            "line_items[0][price_data][transform_quantity]",
            Some("parameter_unknown"),
        ),
        (
            "/v1/checkout/sessions",
            vec![
                ("mode", "payment"),
                ("success_url", "http://shop.test/ok"),
                ("line_items[0][quantity]", "1"),
                ("line_items[0][price_data][currency]", "usd"),
                ("line_items[0][price_data][unit_amount]", "1000"),
                ("line_items[0][price_data][product_data][name]", "Logo"),
                (
                    "line_items[0][price_data][product_data][tax_code]",
                    "txcd_123",
                ),
            ],
            "line_items[0][price_data][product_data][tax_code]",
            None,
        ),
        (
            "/v1/checkout/sessions",
            vec![
                ("mode", "payment"),
                ("success_url", "http://shop.test/ok"),
                ("line_items[0][price]", price),
            ],
            "line_items[0][quantity]",
            Some("parameter_missing"),
        ),
        (
            "/v1/checkout/sessions",
            vec![
                ("mode", "payment"),
                ("success_url", "http://shop.test/ok"),
                ("line_items[0][price]", "price_nope"),
                ("line_items[0][quantity]", "1"),
            ],
            "line_items[0][price]",
            Some("resource_missing"),
        ),
    ]
}

/// Session parameters of the right type that break one of Checkout's rules.
fn session_rule_cases(price: &str) -> Vec<BadCase<'_>> {
    vec![
        (
            "/v1/checkout/sessions",
            vec![
                ("mode", "payment"),
                ("success_url", "http://shop.test/ok"),
                ("line_items[0][price]", price),
                ("line_items[0][quantity]", "1"),
                ("expires_at", "1"),
            ],
            "expires_at",
            None,
        ),
        (
            "/v1/checkout/sessions",
            vec![
                ("mode", "setup"),
                ("success_url", "http://shop.test/ok"),
                ("line_items[0][price]", price),
                ("line_items[0][quantity]", "1"),
            ],
            "mode",
            None,
        ),
        (
            "/v1/checkout/sessions",
            vec![
                ("mode", "payment"),
                ("success_url", "http://shop.test/ok"),
                ("line_items[0][price]", price),
                ("line_items[0][quantity]", "1"),
                ("customer", "cus_missing"),
            ],
            "customer",
            Some("resource_missing"),
        ),
        (
            "/v1/checkout/sessions",
            vec![
                ("mode", "payment"),
                ("success_url", "http://shop.test/ok"),
                ("line_items[0][price]", price),
                ("line_items[0][quantity]", "1"),
                ("automatic_tax[enabled]", "yes"),
            ],
            "automatic_tax[enabled]",
            None,
        ),
        (
            "/v1/checkout/sessions",
            vec![
                ("mode", "payment"),
                ("success_url", "http://shop.test/ok"),
                ("line_items", "x"),
            ],
            "line_items",
            None,
        ),
    ]
}

fn refund_and_coupon_cases() -> Vec<BadCase<'static>> {
    vec![
        (
            "/v1/refunds",
            vec![("payment_intent", "pi_missing")],
            "payment_intent",
            Some("resource_missing"),
        ),
        (
            "/v1/coupons",
            vec![("percent_off", "12.345")],
            "percent_off",
            None,
        ),
    ]
}

#[tokio::test]
async fn unknown_objects_and_routes_are_404() {
    let h = harness().await;
    let (status, body) = h.get("/v1/products/prod_nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "resource_missing");
    assert_eq!(body["error"]["message"], "No such product: 'prod_nope'");
    let (status, body) = h.get("/v1/subscription_schedules").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn a_missing_or_malformed_key_is_401() {
    let h = harness().await;
    let url = h.url("/v1/products");
    let no_key = h.http.get(&url).send().await.unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = no_key.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    for bad in [
        "Bearer pk_test_abc",
        "Bearer sk_live_abc",
        "Bearer sk_test_",
        "Token sk_test_abc",
        "Bearer sk_test_a b",
    ] {
        let res = h
            .http
            .get(&url)
            .header("authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bad}");
    }
    // Stripe's libraries may also send the key as the basic-auth user name.
    let basic = h
        .http
        .get(&url)
        .basic_auth(KEY, Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    // A refused request changes nothing.
    let res = h
        .http
        .post(&url)
        .form(&[("name", "X")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.ok_get("/v1/products").await["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn a_configured_key_is_the_only_one_accepted() {
    let mut config = crate::helpers::fast_config();
    config.api_key = Some("sk_test_only_this".into());
    let h = crate::helpers::harness_with(config, vec![]).await;
    let url = h.url("/v1/products");
    let other = h.http.get(&url).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
    let right = h
        .http
        .get(&url)
        .bearer_auth("sk_test_only_this")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
}

#[tokio::test]
async fn idempotency_keys_replay_and_refuse_other_parameters() {
    let h = harness().await;
    let url = h.url("/v1/customers");
    let send = |email: &'static str, key: &'static str| {
        h.http
            .post(&url)
            .bearer_auth(KEY)
            .header("Idempotency-Key", key)
            .form(&[("email", email)])
            .send()
    };
    let first = send("a@example.com", "key-1").await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first: serde_json::Value = first.json().await.unwrap();
    let replay = send("a@example.com", "key-1").await.unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(replay, first);

    let conflict = send("b@example.com", "key-1").await.unwrap();
    assert_eq!(conflict.status(), StatusCode::BAD_REQUEST);
    let conflict: serde_json::Value = conflict.json().await.unwrap();
    assert_eq!(conflict["error"]["type"], "idempotency_error");

    let other = send("b@example.com", "key-2").await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    let customers = h.ok_get("/v1/customers").await;
    assert_eq!(customers["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        h.event_types().await,
        ["customer.created", "customer.created"]
    );
}

#[tokio::test]
async fn the_stripe_version_header_is_echoed() {
    let h = harness().await;
    let res = h
        .http
        .get(h.url("/v1/products"))
        .bearer_auth(KEY)
        .header("Stripe-Version", "2024-06-20")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["stripe-version"], "2024-06-20");
    assert!(
        res.headers()["request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    let res = h
        .http
        .get(h.url("/v1/products"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["stripe-version"],
        stripe_emulator::API_VERSION
    );
}

#[tokio::test]
async fn the_binary_prints_its_base_url_and_serves() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stripe-emulator"))
        .args(["--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let base = lines.next_line().await.unwrap().unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    stripe_emulator::install_tls_provider();
    let res = reqwest::Client::new()
        .post(format!("{base}/v1/products"))
        .bearer_auth(KEY)
        .form(&[("name", "From the binary")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_recurring_price_is_listed_as_such_and_refused_by_a_payment_mode_session() {
    let h = harness().await;
    let one_time = h.price("Audit", "usd", 9900).await;
    let retainer = h
        .ok_post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("unit_amount", "14900"),
                ("product_data[name]", "SEO retainer"),
                ("recurring[interval]", "month"),
                ("recurring[interval_count]", "3"),
            ],
        )
        .await;
    assert_eq!(retainer["type"], "recurring");
    assert_eq!(
        retainer["recurring"],
        json!({"aggregate_usage": null, "interval": "month", "interval_count": 3, "usage_type": "licensed"})
    );
    let id = retainer["id"].as_str().unwrap();
    assert_eq!(h.ok_get(&format!("/v1/prices/{id}")).await, retainer);
    let weekly = h
        .ok_post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("unit_amount", "900"),
                ("product_data[name]", "Social posts"),
                ("recurring[interval]", "week"),
            ],
        )
        .await;
    assert_eq!(weekly["recurring"]["interval_count"], 1, "one by default");

    let ids = |list: serde_json::Value| -> Vec<String> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    let weekly_id = weekly["id"].as_str().unwrap();
    assert_eq!(
        ids(h.ok_get("/v1/prices?type=recurring").await),
        [weekly_id, id]
    );
    assert_eq!(ids(h.ok_get("/v1/prices?type=one_time").await), [one_time]);
    assert_eq!(
        ids(h.ok_get("/v1/prices?recurring[interval]=month").await),
        [id]
    );

    // Checkout here takes `payment` mode only: a recurring price is Stripe's mode error.
    for (line, param) in [
        (vec![("line_items[0][price]", id)], "line_items[0][price]"),
        (
            vec![
                ("line_items[0][price_data][currency]", "usd"),
                ("line_items[0][price_data][unit_amount]", "100"),
                ("line_items[0][price_data][product_data][name]", "X"),
                ("line_items[0][price_data][recurring][interval]", "month"),
            ],
            "line_items[0][price_data][recurring]",
        ),
    ] {
        let mut form = vec![
            ("mode", "payment"),
            ("success_url", "http://shop.test/ok"),
            ("line_items[0][quantity]", "1"),
        ];
        form.extend(line);
        let (status, err) = h.post("/v1/checkout/sessions", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert_eq!(err["error"]["param"], param);
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("recurring price"),
            "{err}"
        );
    }

    // Longer than a year, none, metered, or an unknown interval: refused, nothing made.
    for (form, param) in [
        (
            vec![
                ("recurring[interval]", "month"),
                ("recurring[interval_count]", "13"),
            ],
            "recurring[interval_count]",
        ),
        (
            vec![
                ("recurring[interval]", "day"),
                ("recurring[interval_count]", "0"),
            ],
            "recurring[interval_count]",
        ),
        (
            vec![
                ("recurring[interval]", "month"),
                ("recurring[usage_type]", "metered"),
            ],
            "recurring[usage_type]",
        ),
        (
            vec![("recurring[interval]", "fortnight")],
            "recurring[interval]",
        ),
    ] {
        let mut form = form;
        form.extend([
            ("currency", "usd"),
            ("unit_amount", "100"),
            ("product_data[name]", "Too long"),
        ]);
        let (status, err) = h.post("/v1/prices", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {err}");
        assert_eq!(err["error"]["param"], param, "{form:?}: {err}");
    }
    assert_eq!(ids(h.ok_get("/v1/prices").await).len(), 3);
    assert_eq!(
        h.ok_get("/v1/products").await["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
