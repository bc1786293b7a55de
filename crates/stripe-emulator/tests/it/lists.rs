//! Listing charges and payment intents, and the `created` filter every resource list takes.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Harness, harness};

/// The ids of a list's `data`, in order.
fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// One paid session's PaymentIntent, with the ids of its charges, oldest first.
struct Paid {
    payment_intent: String,
    charges: Vec<String>,
}

/// Pays a new session for `who` (`customer` or `customer_email`), after declined cards for
/// each of `declines`.
async fn pay(h: &Harness, price: &str, who: (&str, &str), declines: &[&str]) -> Paid {
    let session = h
        .session(&[
            ("line_items[0][price]", price),
            ("line_items[0][quantity]", "1"),
            who,
        ])
        .await;
    let sid = id(&session);
    for card in declines {
        assert_eq!(
            h.pay_card(sid, card).await.status(),
            StatusCode::PAYMENT_REQUIRED
        );
    }
    assert_eq!(
        h.pay_card(sid, "4242424242424242").await.status(),
        StatusCode::SEE_OTHER
    );
    let paid = h.ok_get(&format!("/v1/checkout/sessions/{sid}")).await;
    let payment_intent = paid["payment_intent"].as_str().unwrap().to_string();
    let charges = h
        .ok_get(&format!("/v1/charges?payment_intent={payment_intent}"))
        .await;
    let mut charges = ids(&charges);
    charges.reverse();
    Paid {
        payment_intent,
        charges,
    }
}

#[tokio::test]
async fn charges_list_newest_first_by_customer_and_payment_intent() {
    let h = harness().await;
    let price = h.price("Audit", "usd", 5000).await;
    let ana = h.ok_post("/v1/customers", &[("email", "ana@x.co")]).await;
    let bo = h.ok_post("/v1/customers", &[("email", "bo@x.co")]).await;
    let first = pay(&h, &price, ("customer", id(&ana)), &["4000000000000002"]).await;
    let second = pay(&h, &price, ("customer", id(&bo)), &[]).await;
    let third = pay(&h, &price, ("customer_email", "cy@x.co"), &[]).await;
    assert_eq!(first.charges.len(), 2, "a decline, then the payment");
    let all = [
        &third.charges[..],
        &second.charges[..],
        &first.charges[1..],
        &first.charges[..1],
    ]
    .concat();

    let list = h.ok_get("/v1/charges").await;
    assert_eq!(list["object"], "list");
    assert_eq!(list["url"], "/v1/charges");
    assert_eq!(list["has_more"], false);
    assert_eq!(ids(&list), all);
    assert_eq!(list["data"][3]["status"], "failed");
    assert_eq!(list["data"][0]["status"], "succeeded");
    assert_eq!(
        list["data"][0]["billing_details"]["email"],
        "buyer@example.com"
    );

    let of_ana = h
        .ok_get(&format!("/v1/charges?customer={}", id(&ana)))
        .await;
    assert_eq!(ids(&of_ana), [first.charges[1].as_str(), &first.charges[0]]);
    let of_second = h
        .ok_get(&format!(
            "/v1/charges?payment_intent={}",
            second.payment_intent
        ))
        .await;
    assert_eq!(ids(&of_second), second.charges);
    let neither = h
        .ok_get(&format!(
            "/v1/charges?customer={}&payment_intent={}",
            id(&ana),
            second.payment_intent
        ))
        .await;
    assert!(ids(&neither).is_empty());

    let page1 = h.ok_get("/v1/charges?limit=2").await;
    assert_eq!(
        (ids(&page1), &page1["has_more"]),
        (all[..2].to_vec(), &Value::Bool(true))
    );
    let page2 = h
        .ok_get(&format!("/v1/charges?limit=2&starting_after={}", all[1]))
        .await;
    assert_eq!(
        (ids(&page2), &page2["has_more"]),
        (all[2..].to_vec(), &Value::Bool(false))
    );
    let back = h
        .ok_get(&format!("/v1/charges?limit=1&ending_before={}", all[2]))
        .await;
    assert_eq!(
        (ids(&back), &back["has_more"]),
        (vec![all[1].clone()], &Value::Bool(true))
    );
    list_refusals(&h, "/v1/charges").await;
}

/// A cursor that is not in the list, and a parameter the emulator does not take.
async fn list_refusals(h: &Harness, path: &str) {
    let (status, err) = h.get(&format!("{path}?starting_after=ch_nope")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err["error"]["param"], "starting_after");
    assert_eq!(err["error"]["code"], "resource_missing");
    let (status, err) = h.get(&format!("{path}?transfer_group=g")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert_eq!(err["error"]["param"], "transfer_group");
    assert_eq!(err["error"]["code"], "parameter_unknown");
}

#[tokio::test]
async fn payment_intents_list_newest_first_by_customer() {
    let h = harness().await;
    let price = h.price("Audit", "usd", 5000).await;
    let ana = h.ok_post("/v1/customers", &[("email", "ana@x.co")]).await;
    let first = pay(&h, &price, ("customer", id(&ana)), &["4000000000009995"]).await;
    let second = pay(&h, &price, ("customer_email", "bo@x.co"), &[]).await;
    let third = pay(&h, &price, ("customer", id(&ana)), &[]).await;

    let list = h.ok_get("/v1/payment_intents").await;
    assert_eq!(list["object"], "list");
    assert_eq!(list["url"], "/v1/payment_intents");
    assert_eq!(list["has_more"], false);
    assert_eq!(
        ids(&list),
        [
            third.payment_intent.as_str(),
            &second.payment_intent,
            &first.payment_intent
        ]
    );
    // The declined attempt and the payment share one PaymentIntent, as in Checkout.
    assert_eq!(list["data"][2]["status"], "succeeded");
    assert_eq!(list["data"][2]["latest_charge"], first.charges[1].as_str());
    assert_eq!(list["data"][1]["customer"], Value::Null);

    let of_ana = h
        .ok_get(&format!("/v1/payment_intents?customer={}", id(&ana)))
        .await;
    assert_eq!(
        ids(&of_ana),
        [third.payment_intent.as_str(), &first.payment_intent]
    );
    assert!(ids(&h.ok_get("/v1/payment_intents?customer=cus_nobody").await).is_empty());
    let page1 = h.ok_get("/v1/payment_intents?limit=1").await;
    assert_eq!(ids(&page1), [third.payment_intent.as_str()]);
    assert_eq!(page1["has_more"], true);
    let page2 = h
        .ok_get(&format!(
            "/v1/payment_intents?limit=5&starting_after={}",
            third.payment_intent
        ))
        .await;
    assert_eq!(
        ids(&page2),
        [second.payment_intent.as_str(), &first.payment_intent]
    );
    assert_eq!(page2["has_more"], false);
    let (status, err) = h.get("/v1/payment_intents?status=succeeded").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["param"], "status");
    assert_eq!(err["error"]["code"], "parameter_unknown");
}

/// Every list that takes `created`.
const CREATED_LISTS: [&str; 10] = [
    "/v1/products",
    "/v1/prices",
    "/v1/customers",
    "/v1/checkout/sessions",
    "/v1/refunds",
    "/v1/coupons",
    "/v1/promotion_codes",
    "/v1/events",
    "/v1/charges",
    "/v1/payment_intents",
];

/// One of each resource: a product (returned) and its price, a customer, a coupon with a
/// promotion code, and a session paid by card (a PaymentIntent and a charge), partly refunded.
async fn make_one_of_each(h: &Harness, round: usize) -> Value {
    let product = h
        .ok_post("/v1/products", &[("name", &format!("Round {round}"))])
        .await;
    let price = h
        .ok_post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("unit_amount", "1000"),
                ("product", id(&product)),
            ],
        )
        .await;
    let customer = h.ok_post("/v1/customers", &[("email", "a@x.co")]).await;
    let coupon = h.ok_post("/v1/coupons", &[("percent_off", "10")]).await;
    h.ok_post("/v1/promotion_codes", &[("coupon", id(&coupon))])
        .await;
    let paid = pay(h, id(&price), ("customer", id(&customer)), &[]).await;
    h.ok_post(
        "/v1/refunds",
        &[("payment_intent", &paid.payment_intent), ("amount", "100")],
    )
    .await;
    product
}

/// `(id, created)` of every item of a list.
async fn everything(h: &Harness, path: &str) -> Vec<(String, i64)> {
    let list = h.ok_get(&format!("{path}?limit=100")).await;
    assert_eq!(list["has_more"], false, "{path}");
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (id(x).to_string(), x["created"].as_i64().unwrap()))
        .collect()
}

#[tokio::test]
async fn every_list_filters_by_created_with_each_operator() {
    let h = harness().await;
    let mut products = Vec::new();
    for round in 0..3 {
        // Rounds 1000 s apart on the emulator's clock; a round takes well under a second.
        h.ok_post("/_emulator/clock/advance", &[("seconds", "1000")])
            .await;
        products.push(make_one_of_each(&h, round).await);
    }
    let at: Vec<i64> = products
        .iter()
        .map(|p| p["created"].as_i64().unwrap())
        .collect();
    let p: Vec<&str> = products.iter().map(id).collect();
    // Products, one per round: each operator by exact ids.
    for (query, expected) in [
        (format!("created={}", at[1]), vec![p[1]]),
        (format!("created[gt]={}", at[0]), vec![p[2], p[1]]),
        (format!("created[gte]={}", at[1]), vec![p[2], p[1]]),
        (format!("created[lt]={}", at[1]), vec![p[0]]),
        (format!("created[lte]={}", at[1]), vec![p[1], p[0]]),
        (
            format!("created[gt]={}&created[lt]={}", at[0], at[2]),
            vec![p[1]],
        ),
        (
            format!("created[gte]={}&created[lte]={}", at[2], at[0]),
            vec![],
        ),
        (format!("created={}", at[2] + 1), vec![]),
    ] {
        let list = h.ok_get(&format!("/v1/products?{query}")).await;
        assert_eq!(ids(&list), expected, "{query}");
    }
    // The filter applies before paging.
    let page = h
        .ok_get(&format!("/v1/products?created[gte]={}&limit=1", at[1]))
        .await;
    assert_eq!(
        (ids(&page), &page["has_more"]),
        (vec![p[2].to_string()], &Value::Bool(true))
    );
    let page = h
        .ok_get(&format!(
            "/v1/products?created[gte]={}&limit=1&starting_after={}",
            at[1], p[2]
        ))
        .await;
    assert_eq!(
        (ids(&page), &page["has_more"]),
        (vec![p[1].to_string()], &Value::Bool(false))
    );
    for path in CREATED_LISTS {
        each_operator_filters(&h, path, &at).await;
    }
}

/// Whether `created` passes one bound, as the test reads Stripe's operators.
fn passes(op: &str, bound: i64, created: i64) -> bool {
    match op {
        "" => created == bound,
        "gt" => created > bound,
        "gte" => created >= bound,
        "lt" => created < bound,
        "lte" => created <= bound,
        _ => unreachable!("{op}"),
    }
}

/// On `path`, each operator keeps exactly the items whose `created` passes it: some of them,
/// never all (round 0 is before `at[1]`, round 2 at or after `at[2]`).
async fn each_operator_filters(h: &Harness, path: &str, at: &[i64]) {
    let all = everything(h, path).await;
    let exact = all
        .iter()
        .rev()
        .find(|(_, c)| *c >= at[1])
        .map(|(_, c)| *c)
        .unwrap();
    let (one, two) = (at[1], at[2]);
    let cases: [&[(&str, i64)]; 6] = [
        &[("", exact)],
        &[("gt", one)],
        &[("gte", one)],
        &[("lt", one)],
        &[("lte", one)],
        &[("gte", one), ("lt", two)],
    ];
    for bounds in cases {
        let query = bounds
            .iter()
            .map(|(op, b)| match *op {
                "" => format!("created={b}"),
                op => format!("created[{op}]={b}"),
            })
            .collect::<Vec<_>>()
            .join("&");
        let expected: Vec<String> = all
            .iter()
            .filter(|(_, c)| bounds.iter().all(|(op, b)| passes(op, *b, *c)))
            .map(|(i, _)| i.clone())
            .collect();
        assert!(
            !expected.is_empty() && expected.len() < all.len(),
            "{path}?{query} must keep some but not all of {all:?}"
        );
        let got = h.ok_get(&format!("{path}?{query}&limit=100")).await;
        assert_eq!(ids(&got), expected, "{path}?{query}");
    }
}

#[tokio::test]
async fn a_created_filter_that_is_not_an_integer_is_refused_naming_it() {
    let h = harness().await;
    for path in CREATED_LISTS {
        for (query, param, code) in [
            ("created=yesterday", "created", "parameter_invalid_integer"),
            ("created=1.5", "created", "parameter_invalid_integer"),
            (
                "created[gt]=soon",
                "created[gt]",
                "parameter_invalid_integer",
            ),
            (
                "created[gte]=1e9",
                "created[gte]",
                "parameter_invalid_integer",
            ),
            ("created[lt]=x", "created[lt]", "parameter_invalid_integer"),
            ("created[lte]=", "created[lte]", "parameter_invalid_empty"),
            ("created[after]=1", "created[after]", "parameter_unknown"),
        ] {
            let (status, err) = h.get(&format!("{path}?{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}?{query}: {err}");
            assert_eq!(err["error"]["type"], "invalid_request_error");
            assert_eq!(err["error"]["param"], param, "{path}?{query}");
            assert_eq!(err["error"]["code"], code, "{path}?{query}");
            let message = err["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(param) || message.contains("Invalid integer"),
                "{message}"
            );
        }
    }
    // Stripe lists webhook endpoints by no filter at all.
    let (status, err) = h.get("/v1/webhook_endpoints?created=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["param"], "created");
    assert_eq!(err["error"]["code"], "parameter_unknown");
}
