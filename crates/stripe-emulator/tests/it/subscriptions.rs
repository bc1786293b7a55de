//! Subscriptions over HTTP: Checkout in `subscription` mode with mixed lines and trials, the
//! invoices it and each renewal make, failed renewals paid on the invoice page, the customer
//! portal, cancellation, pauses and quantity changes — with their signed events.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Harness, eventually, harness};

const MONTH: i64 = 31 * 86_400;

/// A monthly price of 149.00 and a one-time price of 500.00, in USD.
async fn catalogue(h: &Harness) -> (String, String) {
    let monthly = h
        .ok_post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("unit_amount", "14900"),
                ("recurring[interval]", "month"),
                ("product_data[name]", "Website Maintenance"),
            ],
        )
        .await;
    let once = h.price("Logo Design", "usd", 50_000).await;
    (monthly["id"].as_str().unwrap().to_string(), once)
}

/// A subscription-mode session of `lines` (price, quantity) and `extra` parameters.
async fn subscription_session(
    h: &Harness,
    lines: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Value {
    let mut form: Vec<(String, String)> = vec![("mode".into(), "subscription".into())];
    for (i, (price, quantity)) in lines.iter().enumerate() {
        form.push((format!("line_items[{i}][price]"), price.to_string()));
        form.push((format!("line_items[{i}][quantity]"), quantity.to_string()));
    }
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    h.session(&form).await
}

/// Buys a monthly retainer (quantity 2) with a one-time service by card; answers the subscription.
async fn subscribe(h: &Harness, card: &str) -> Value {
    let (monthly, once) = catalogue(h).await;
    let session = subscription_session(
        h,
        &[(&monthly, "2"), (&once, "1")],
        &[("subscription_data[metadata][order]", "42")],
    )
    .await;
    let sid = session["id"].as_str().unwrap();
    let res = h.pay_card(sid, card).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let session = h.ok_get(&format!("/v1/checkout/sessions/{sid}")).await;
    h.ok_get(&format!(
        "/v1/subscriptions/{}",
        session["subscription"].as_str().unwrap()
    ))
    .await
}

async fn invoices_of(h: &Harness, sub: &str) -> Vec<Value> {
    let list = h
        .ok_get(&format!("/v1/invoices?subscription={sub}&limit=100"))
        .await;
    let mut data = list["data"].as_array().unwrap().clone();
    data.reverse();
    data
}

fn count(types: &[String], kind: &str) -> usize {
    types.iter().filter(|t| *t == kind).count()
}

#[tokio::test]
async fn a_subscription_checkout_charges_both_lines_on_the_first_invoice_and_renews_monthly() {
    let h = harness().await;
    let (monthly, once) = catalogue(&h).await;
    let session = subscription_session(&h, &[(&monthly, "2"), (&once, "1")], &[]).await;
    assert_eq!(session["mode"], "subscription");
    assert_eq!(session["amount_total"], 2 * 14_900 + 50_000);
    assert_eq!(session["customer_creation"], "always");
    let sid = session["id"].as_str().unwrap();
    let page = h.page(session["url"].as_str().unwrap()).await;
    assert!(page.contains("Then $298.00 every month"), "{page}");

    assert_eq!(
        h.pay_card(sid, "4242424242424242").await.status(),
        StatusCode::SEE_OTHER
    );
    let session = h.ok_get(&format!("/v1/checkout/sessions/{sid}")).await;
    assert_eq!(session["status"], "complete");
    assert_eq!(session["payment_status"], "paid");
    let sub_id = session["subscription"].as_str().unwrap();
    let sub = h
        .ok_get(&format!(
            "/v1/subscriptions/{sub_id}?expand[]=default_payment_method"
        ))
        .await;
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["customer"], session["customer"]);
    assert_eq!(sub["items"]["data"][0]["quantity"], 2);
    assert_eq!(sub["items"]["data"].as_array().unwrap().len(), 1);
    assert_eq!(sub["default_payment_method"]["card"]["last4"], "4242");
    let start = sub["current_period_start"].as_i64().unwrap();
    assert!(sub["current_period_end"].as_i64().unwrap() - start >= 28 * 86_400);

    let first = h
        .ok_get(&format!(
            "/v1/invoices/{}",
            session["invoice"].as_str().unwrap()
        ))
        .await;
    assert_eq!(first["status"], "paid");
    assert_eq!(first["billing_reason"], "subscription_create");
    assert_eq!(first["amount_paid"], 79_800);
    let prefix = first["number"].as_str().unwrap().to_string();
    assert!(prefix.ends_with("-0001"), "{prefix}");
    let kinds: Vec<&str> = first["lines"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["subscription", "invoiceitem"]);
    let charge = h
        .ok_get(&format!(
            "/v1/charges/{}",
            first["charge"].as_str().unwrap()
        ))
        .await;
    assert_eq!(charge["invoice"], first["id"]);
    assert_eq!(charge["amount"], 79_800);

    // Three months pass: three renewals, each invoiced for the retainer alone and paid.
    h.emu.advance_clock(3 * MONTH);
    let invoices = invoices_of(&h, sub_id).await;
    assert_eq!(invoices.len(), 4);
    for (n, invoice) in invoices.iter().enumerate().skip(1) {
        assert_eq!(invoice["billing_reason"], "subscription_cycle");
        assert_eq!(invoice["status"], "paid");
        assert_eq!(invoice["amount_paid"], 29_800);
        assert!(
            invoice["number"]
                .as_str()
                .unwrap()
                .ends_with(&format!("-000{}", n + 1))
        );
        let line = &invoice["lines"]["data"][0];
        assert_eq!(line["quantity"], 2);
        assert!(line["period"]["end"].as_i64() > line["period"]["start"].as_i64());
    }
    let sub = h.ok_get(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!(sub["latest_invoice"], invoices[3]["id"]);
    assert_eq!(
        sub["current_period_start"],
        invoices[3]["lines"]["data"][0]["period"]["start"]
    );
    let types = h.event_types().await;
    assert_eq!(count(&types, "invoice.paid"), 4);
    assert_eq!(count(&types, "customer.subscription.created"), 1);
    assert_eq!(count(&types, "customer.subscription.updated"), 3);
    // On the first purchase the invoice is paid before the session completes.
    let paid = types.iter().position(|t| t == "invoice.paid").unwrap();
    let completed = types
        .iter()
        .position(|t| t == "checkout.session.completed")
        .unwrap();
    assert!(paid < completed, "{types:?}");
    eventually("every event delivered, signed", || async {
        h.receiver.events().len() >= types.len()
    })
    .await;
    assert!(
        h.receiver
            .received
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.signature.starts_with("t="))
    );
}

#[tokio::test]
async fn a_trial_charges_only_the_one_time_lines_today_and_bills_when_it_ends() {
    let h = harness().await;
    let (monthly, once) = catalogue(&h).await;
    let session = subscription_session(
        &h,
        &[(&monthly, "1"), (&once, "1")],
        &[("subscription_data[trial_period_days]", "14")],
    )
    .await;
    assert_eq!(session["amount_total"], 50_000);
    let sid = session["id"].as_str().unwrap();
    let page = h.page(session["url"].as_str().unwrap()).await;
    assert!(
        page.contains("Free for 14 days, then $149.00 every month"),
        "{page}"
    );
    h.pay_card(sid, "4242424242424242").await;
    let session = h.ok_get(&format!("/v1/checkout/sessions/{sid}")).await;
    let sub_id = session["subscription"].as_str().unwrap();
    let sub = h.ok_get(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!(sub["status"], "trialing");
    assert_eq!(sub["trial_end"], sub["current_period_end"]);
    assert_eq!(
        sub["current_period_end"].as_i64().unwrap() - sub["trial_start"].as_i64().unwrap(),
        14 * 86_400
    );
    let first = &invoices_of(&h, sub_id).await[0];
    assert_eq!(first["amount_paid"], 50_000);
    assert!(
        first["lines"]["data"][0]["description"]
            .as_str()
            .unwrap()
            .starts_with("Trial period for")
    );

    h.emu.advance_clock(14 * 86_400);
    let sub = h.ok_get(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!(sub["status"], "active");
    let invoices = invoices_of(&h, sub_id).await;
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[1]["amount_paid"], 14_900);

    // A trial with nothing to pay today completes without a charge, even with a card that
    // only attaches.
    let session = subscription_session(
        &h,
        &[(&monthly, "1")],
        &[("subscription_data[trial_period_days]", "7")],
    )
    .await;
    let sid = session["id"].as_str().unwrap();
    assert_eq!(
        h.pay_card(sid, "4000000000000341").await.status(),
        StatusCode::SEE_OTHER
    );
    let session = h.ok_get(&format!("/v1/checkout/sessions/{sid}")).await;
    assert_eq!(session["payment_status"], "no_payment_required");
    // ... and its first real invoice fails.
    h.emu.advance_clock(7 * 86_400);
    let sub = h
        .ok_get(&format!(
            "/v1/subscriptions/{}",
            session["subscription"].as_str().unwrap()
        ))
        .await;
    assert_eq!(sub["status"], "past_due");
}

#[tokio::test]
async fn a_failed_renewal_is_past_due_until_its_invoice_is_paid_on_the_hosted_page() {
    let h = harness().await;
    let sub = subscribe(&h, "4242424242424242").await;
    let sub_id = sub["id"].as_str().unwrap();
    assert_eq!(sub["metadata"]["order"], "42");

    // The client swaps in a card that attaches but fails later, in the portal.
    let portal = h
        .ok_post(
            "/v1/billing_portal/sessions",
            &[
                ("customer", sub["customer"].as_str().unwrap()),
                ("return_url", "http://shop.test/account"),
            ],
        )
        .await;
    assert_eq!(portal["object"], "billing_portal.session");
    let url = portal["url"].as_str().unwrap();
    let res = h
        .http
        .post(url)
        .form(&[
            ("action", "update_card"),
            ("card_number", "4000 0000 0000 0341"),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("visa ending in 0341"), "{page}");

    h.emu.advance_clock(MONTH);
    let sub = h.ok_get(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!(sub["status"], "past_due");
    let invoices = invoices_of(&h, sub_id).await;
    let failed = &invoices[1];
    assert_eq!(failed["status"], "open");
    assert_eq!(failed["attempt_count"], 1);
    assert_eq!(failed["amount_remaining"], 29_800);
    let types = h.event_types().await;
    assert_eq!(count(&types, "invoice.payment_failed"), 1);
    let failed_event = h.ok_get("/v1/events?type=invoice.payment_failed").await;
    let hosted = failed_event["data"][0]["data"]["object"]["hosted_invoice_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(hosted.ends_with(&format!("/i/{}", failed["id"].as_str().unwrap())));

    // A declined card on the page leaves it open; a good one pays it and the subscription resumes.
    let pay = |card: &'static str| {
        let (http, hosted) = (h.http.clone(), hosted.clone());
        async move {
            http.post(&hosted)
                .form(&[
                    ("card_number", card),
                    ("card_expiry", "12 / 34"),
                    ("card_cvc", "123"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let res = pay("4000000000000002").await;
    assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your card was declined.")
    );
    assert_eq!(
        h.ok_get(&format!("/v1/subscriptions/{sub_id}")).await["status"],
        "past_due"
    );
    assert_eq!(
        pay("4242424242424242").await.status(),
        StatusCode::SEE_OTHER
    );
    let invoice = h
        .ok_get(&format!("/v1/invoices/{}", failed["id"].as_str().unwrap()))
        .await;
    assert_eq!(invoice["status"], "paid");
    // The renewal and the good card; a card the bank refuses is not saved nor charged.
    assert_eq!(invoice["attempt_count"], 2);
    let sub = h.ok_get(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!(sub["status"], "active");
    // The card paid with is the subscription's from now on: the next renewal succeeds.
    h.emu.advance_clock(MONTH);
    let invoices = invoices_of(&h, sub_id).await;
    assert_eq!(invoices.len(), 3);
    assert_eq!(invoices[2]["status"], "paid");

    // The PDF is a real PDF with the invoice's number in it.
    let pdf = h
        .http
        .get(invoice["invoice_pdf"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let number = invoice["number"].as_str().unwrap();
    assert!(bytes.windows(number.len()).any(|w| w == number.as_bytes()));
}

#[tokio::test]
async fn cancelling_at_period_end_ends_the_subscription_then_with_no_further_invoice() {
    let h = harness().await;
    let sub = subscribe(&h, "4242424242424242").await;
    let sub_id = sub["id"].as_str().unwrap();
    let path = format!("/v1/subscriptions/{sub_id}");
    let updated = h.ok_post(&path, &[("cancel_at_period_end", "true")]).await;
    assert_eq!(updated["cancel_at_period_end"], true);
    assert_eq!(updated["cancel_at"], updated["current_period_end"]);
    assert!(updated["canceled_at"].is_i64());
    // Resumed, then cancelled again: the last word counts.
    let resumed = h.ok_post(&path, &[("cancel_at_period_end", "false")]).await;
    assert_eq!(resumed["canceled_at"], Value::Null);
    h.ok_post(&path, &[("cancel_at_period_end", "true")]).await;
    let event = h
        .ok_get("/v1/events?type=customer.subscription.updated&limit=1")
        .await;
    assert_eq!(
        event["data"][0]["data"]["previous_attributes"]["cancel_at_period_end"],
        false
    );

    h.emu.advance_clock(3 * MONTH);
    let sub = h.ok_get(&path).await;
    assert_eq!(sub["status"], "canceled");
    assert_eq!(sub["ended_at"], updated["current_period_end"]);
    assert_eq!(invoices_of(&h, sub_id).await.len(), 1);
    assert_eq!(
        count(&h.event_types().await, "customer.subscription.deleted"),
        1
    );
    // Gone from the default list, there with status=canceled; no more changes.
    let listed = h.ok_get("/v1/subscriptions").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);
    let listed = h.ok_get("/v1/subscriptions?status=canceled").await;
    assert_eq!(listed["data"][0]["id"], sub_id);
    let (status, body) = h.post(&path, &[("cancel_at_period_end", "false")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_quantity_change_shows_on_the_next_invoice_and_a_cancel_ends_at_once() {
    let h = harness().await;
    let sub = subscribe(&h, "4242424242424242").await;
    let sub_id = sub["id"].as_str().unwrap();
    let item = sub["items"]["data"][0]["id"].as_str().unwrap();
    let path = format!("/v1/subscriptions/{sub_id}");
    let updated = h
        .ok_post(
            &path,
            &[
                ("items[0][id]", item),
                ("items[0][quantity]", "5"),
                ("proration_behavior", "none"),
            ],
        )
        .await;
    assert_eq!(updated["items"]["data"][0]["quantity"], 5);
    // Nothing is charged now: no proration.
    assert_eq!(invoices_of(&h, sub_id).await.len(), 1);
    h.emu.advance_clock(MONTH);
    let invoices = invoices_of(&h, sub_id).await;
    assert_eq!(invoices[1]["amount_paid"], 5 * 14_900);

    // Paused collection voids the next invoice without charging.
    h.ok_post(&path, &[("pause_collection[behavior]", "void")])
        .await;
    h.emu.advance_clock(MONTH);
    let invoices = invoices_of(&h, sub_id).await;
    assert_eq!(invoices[2]["status"], "void");
    assert_eq!(invoices[2]["charge"], Value::Null);
    let resumed = h.ok_post(&path, &[("pause_collection", "")]).await;
    assert_eq!(resumed["pause_collection"], Value::Null);

    let (status, body) = h
        .post(&path, &[("proration_behavior", "create_prorations")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "proration_behavior");
    let (status, body) = h
        .post(
            &path,
            &[("items[0][id]", "si_nope"), ("items[0][quantity]", "2")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "items[0][id]");

    let res = h
        .http
        .delete(h.url(&path))
        .bearer_auth(crate::helpers::KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let canceled: Value = res.json().await.unwrap();
    assert_eq!(canceled["status"], "canceled");
    h.emu.advance_clock(MONTH);
    assert_eq!(invoices_of(&h, sub_id).await.len(), 3);
    let res = h
        .http
        .delete(h.url(&path))
        .bearer_auth(crate::helpers::KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn subscription_sessions_refuse_what_stripe_refuses() {
    let h = harness().await;
    let (monthly, once) = catalogue(&h).await;
    let yearly = h
        .ok_post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("unit_amount", "100000"),
                ("recurring[interval]", "year"),
                ("product_data[name]", "SEO"),
            ],
        )
        .await;
    let yearly = yearly["id"].as_str().unwrap();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("mode", "subscription"),
                ("line_items[0][price]", &once),
                ("line_items[0][quantity]", "1"),
            ],
            "line_items",
        ),
        (
            vec![
                ("mode", "subscription"),
                ("line_items[0][price]", &monthly),
                ("line_items[0][quantity]", "1"),
                ("line_items[1][price]", yearly),
                ("line_items[1][quantity]", "1"),
            ],
            "line_items",
        ),
        (
            vec![
                ("mode", "subscription"),
                ("line_items[0][price]", &monthly),
                ("line_items[0][quantity]", "1"),
                ("subscription_data[trial_period_days]", "0"),
            ],
            "subscription_data[trial_period_days]",
        ),
        (
            vec![
                ("mode", "subscription"),
                ("line_items[0][price]", &monthly),
                ("line_items[0][quantity]", "1"),
                ("payment_intent_data[description]", "x"),
            ],
            "payment_intent_data",
        ),
        (
            vec![
                ("mode", "payment"),
                ("line_items[0][price]", &once),
                ("line_items[0][quantity]", "1"),
                ("subscription_data[trial_period_days]", "3"),
            ],
            "subscription_data",
        ),
        (vec![("mode", "setup")], "mode"),
    ];
    let before = h.ok_get("/v1/checkout/sessions").await["data"]
        .as_array()
        .unwrap()
        .len();
    for (params, param) in cases {
        let mut form = vec![("success_url", "http://shop.test/ok")];
        form.extend(params);
        let (status, body) = h.post("/v1/checkout/sessions", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {body}");
        assert_eq!(body["error"]["param"], param, "{body}");
    }
    assert_eq!(
        h.ok_get("/v1/checkout/sessions").await["data"]
            .as_array()
            .unwrap()
            .len(),
        before
    );

    // Inline recurring prices work in subscription mode.
    let session = h
        .session(&[
            ("mode", "subscription"),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", "usd"),
            ("line_items[0][price_data][unit_amount]", "2500"),
            ("line_items[0][price_data][recurring][interval]", "week"),
            ("line_items[0][price_data][recurring][interval_count]", "2"),
            (
                "line_items[0][price_data][product_data][name]",
                "Social posts",
            ),
        ])
        .await;
    let sid = session["id"].as_str().unwrap();
    // A declined card creates nothing; bank debits are for one-time payments.
    assert_eq!(
        h.pay_card(sid, "4000000000000341").await.status(),
        StatusCode::PAYMENT_REQUIRED
    );
    let debit = h
        .submit(
            sid,
            &[
                ("action", "pay"),
                ("email", "a@b.co"),
                ("payment_method", "bank_debit"),
            ],
        )
        .await;
    assert_eq!(debit.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        h.ok_get("/v1/subscriptions?status=all").await["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        h.pay_card(sid, "5555555555554444").await.status(),
        StatusCode::SEE_OTHER
    );
    let session = h
        .ok_get(&format!(
            "/v1/checkout/sessions/{sid}?expand[]=subscription"
        ))
        .await;
    let sub = &session["subscription"];
    assert_eq!(
        sub["items"]["data"][0]["price"]["recurring"]["interval_count"],
        2
    );
    let days = (sub["current_period_end"].as_i64().unwrap()
        - sub["current_period_start"].as_i64().unwrap())
        / 86_400;
    assert_eq!(days, 14);

    for path in [
        "/v1/subscriptions/sub_nope",
        "/v1/invoices/in_nope",
        "/v1/payment_methods/pm_nope",
    ] {
        let (status, body) = h.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, body) = h
        .post("/v1/billing_portal/sessions", &[("customer", "cus_nope")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "customer");
}
