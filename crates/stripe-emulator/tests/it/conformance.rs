//! Conformance with Stripe's OpenAPI description: the objects the emulator returns carry the
//! required fields with the right JSON types, and every parameter it accepts exists there.

use std::sync::LazyLock;

use serde_json::Value;
use stripe_emulator::Ty;
use stripe_emulator::schema::Op;

use crate::helpers::{Harness, eventually, harness};

/// The part of Stripe's description these tests read, kept in the crate so that a clone of the
/// repository alone can run them; spec/README.md says where it came from and how to remake it.
static SPEC: LazyLock<Value> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/stripe-subset.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("read {path}: {e} (regenerate it with spec/extract.py, see spec/README.md)")
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} parses: {e}"))
});

fn schema_named(name: &str) -> &'static Value {
    SPEC["components"]["schemas"]
        .get(name)
        .unwrap_or_else(|| panic!("no schema {name}"))
}

fn resolve(schema: &Value) -> &Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => schema_named(r.rsplit('/').next().unwrap()),
        None => schema,
    }
}

/// Checks `value` against `schema`, collecting every mismatch with its JSON path.
fn check(value: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    let schema = resolve(schema);
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            errors.push(format!("{path}: null but not nullable"));
        }
        return;
    }
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
        let fits = options.iter().any(|o| {
            let mut e = Vec::new();
            check(value, o, path, &mut e);
            e.is_empty()
        });
        if !fits {
            errors.push(format!("{path}: matches none of anyOf ({value})"));
        }
        return;
    }
    let ty = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("object");
    let ok = match ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !ok {
        errors.push(format!("{path}: expected {ty}, got {value}"));
        return;
    }
    if let (Some(allowed), Some(s)) = (schema.get("enum").and_then(Value::as_array), value.as_str())
        && !allowed.iter().any(|a| a == s)
    {
        errors.push(format!("{path}: {s} is not one of {allowed:?}"));
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            check(v, items, &format!("{path}[{i}]"), errors);
        }
    }
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = req.as_str().unwrap();
            if !obj.contains_key(name) {
                errors.push(format!("{path}: missing required field {name}"));
            }
        }
        for (k, v) in obj {
            match props.get(k) {
                Some(s) => check(v, s, &format!("{path}.{k}"), errors),
                None => errors.push(format!("{path}: field {k} is not in the description")),
            }
        }
    }
}

/// Checks an object by its own `object` name, and every object it embeds.
fn check_object(value: &Value, errors: &mut Vec<String>) {
    let name = value["object"].as_str().unwrap_or_default();
    if name == "list" {
        for key in ["data", "has_more", "url"] {
            if value.get(key).is_none() {
                errors.push(format!("list: missing {key}"));
            }
        }
        for item in value["data"].as_array().into_iter().flatten() {
            check_object(item, errors);
        }
        return;
    }
    check(value, schema_named(name), name, errors);
    if name == "event" {
        check_object(&value["data"]["object"], errors);
    }
}

#[tokio::test]
async fn every_returned_object_has_the_fields_stripe_requires() {
    let h = harness().await;
    let mut objects = Vec::new();
    let catalogue = make_catalogue(&h, &mut objects).await;
    let paid = pay_a_session(&h, &catalogue, &mut objects).await;
    leave_sessions_unpaid(&h, &catalogue, &mut objects).await;
    list_everything(&h, paid["id"].as_str().unwrap(), &mut objects).await;
    subscribe_and_renew(&h, &catalogue, &mut objects).await;

    let mut errors = Vec::new();
    for object in &objects {
        check_object(object, &mut errors);
    }
    assert!(
        errors.is_empty(),
        "{} mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );

    // The checker itself must be able to fail.
    let mut broken = paid.clone();
    broken.as_object_mut().unwrap().remove("payment_status");
    broken["amount_total"] = Value::String("61.88".into());
    let mut errors = Vec::new();
    check_object(&broken, &mut errors);
    assert_eq!(errors.len(), 2, "{errors:?}");
}

/// What the sessions of the conformance scenario are made of.
struct Catalogue {
    customer: Value,
    product: Value,
    price: Value,
}

/// A customer (with an address), a product and its price, coupons of both kinds, a promotion
/// code (`SAVE`) and a webhook endpoint, each kept in `objects` as created.
async fn make_catalogue(h: &Harness, objects: &mut Vec<Value>) -> Catalogue {
    let customer = h
        .ok_post(
            "/v1/customers",
            &[
                ("email", "a@b.co"),
                ("name", "Ana"),
                ("address[line1]", "1 Rue de la Paix"),
                ("address[city]", "Paris"),
                ("address[postal_code]", "75002"),
                ("address[country]", "FR"),
            ],
        )
        .await;
    objects.push(customer.clone());
    let product = h
        .ok_post(
            "/v1/products",
            &[
                ("name", "Audit"),
                ("description", "Full audit"),
                ("metadata[k]", "v"),
            ],
        )
        .await;
    objects.push(product.clone());
    let price = h
        .ok_post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("unit_amount", "5000"),
                ("product", product["id"].as_str().unwrap()),
            ],
        )
        .await;
    objects.push(price.clone());
    objects.push(
        h.ok_post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("unit_amount", "14900"),
                ("product", product["id"].as_str().unwrap()),
                ("recurring[interval]", "month"),
            ],
        )
        .await,
    );
    make_discounts(h, objects).await;
    let (url, _) = crate::helpers::start_receiver(vec![]).await;
    objects.push(
        h.ok_post(
            "/v1/webhook_endpoints",
            &[("url", &url), ("enabled_events[]", "*")],
        )
        .await,
    );
    Catalogue {
        customer,
        product,
        price,
    }
}

/// A percent coupon with the promotion code `SAVE`, and an amount coupon.
async fn make_discounts(h: &Harness, objects: &mut Vec<Value>) {
    let percent = h
        .ok_post(
            "/v1/coupons",
            &[("percent_off", "12.5"), ("duration", "once")],
        )
        .await;
    objects.push(percent.clone());
    let fixed = h
        .ok_post(
            "/v1/coupons",
            &[
                ("amount_off", "500"),
                ("currency", "usd"),
                ("max_redemptions", "5"),
                ("duration", "forever"),
            ],
        )
        .await;
    objects.push(fixed);
    let promo = h
        .ok_post(
            "/v1/promotion_codes",
            &[
                ("coupon", percent["id"].as_str().unwrap()),
                ("code", "SAVE"),
                ("restrictions[minimum_amount]", "1000"),
                ("restrictions[minimum_amount_currency]", "usd"),
            ],
        )
        .await;
    objects.push(promo);
}

/// A session paid with a card after a decline, with a customer, discount, tax and a billing
/// address saved onto the customer, then partly refunded; returns the paid session with its
/// line items, payment and customer expanded.
async fn pay_a_session(h: &Harness, catalogue: &Catalogue, objects: &mut Vec<Value>) -> Value {
    let session = h
        .session(&[
            (
                "line_items[0][price]",
                catalogue.price["id"].as_str().unwrap(),
            ),
            ("line_items[0][quantity]", "2"),
            ("customer", catalogue.customer["id"].as_str().unwrap()),
            ("allow_promotion_codes", "true"),
            ("automatic_tax[enabled]", "true"),
            ("billing_address_collection", "required"),
            ("customer_update[address]", "auto"),
        ])
        .await;
    objects.push(session.clone());
    let sid = session["id"].as_str().unwrap();
    h.submit(
        sid,
        &[
            ("action", "apply_promotion_code"),
            ("promotion_code", "SAVE"),
        ],
    )
    .await;
    let address = [("billing_country", "DE"), ("billing_postal_code", "10115")];
    h.pay_card_with(sid, "4000000000000002", &address).await;
    h.pay_card_with(sid, "4242424242424242", &address).await;
    let paid = h.ok_get(&format!("/v1/checkout/sessions/{sid}?expand[]=line_items&expand[]=payment_intent.latest_charge&expand[]=customer")).await;
    objects.push(paid.clone());
    assert_eq!(paid["customer"]["address"]["country"], "DE");
    assert_eq!(paid["customer_details"]["address"]["postal_code"], "10115");
    let pi = &paid["payment_intent"];
    objects.push(
        h.ok_get(&format!(
            "/v1/payment_intents/{}",
            pi["id"].as_str().unwrap()
        ))
        .await,
    );
    let refund = h
        .ok_post(
            "/v1/refunds",
            &[
                ("payment_intent", pi["id"].as_str().unwrap()),
                ("amount", "100"),
            ],
        )
        .await;
    objects.push(refund);
    objects.push(
        h.ok_get(&format!(
            "/v1/charges/{}",
            pi["latest_charge"]["id"].as_str().unwrap()
        ))
        .await,
    );
    paid
}

/// A session paid by a bank debit that fails, one expired, and the product archived.
async fn leave_sessions_unpaid(h: &Harness, catalogue: &Catalogue, objects: &mut Vec<Value>) {
    let price = catalogue.price["id"].as_str().unwrap();
    let debit = h
        .session(&[
            ("line_items[0][price]", price),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
    let did = debit["id"].as_str().unwrap();
    h.submit(
        did,
        &[
            ("email", "a@b.co"),
            ("payment_method", "bank_debit_failing"),
        ],
    )
    .await;
    eventually("debit settles", || async {
        h.event_types()
            .await
            .contains(&"checkout.session.async_payment_failed".to_string())
    })
    .await;
    let expiring = h
        .session(&[
            ("line_items[0][price]", price),
            ("line_items[0][quantity]", "1"),
        ])
        .await;
    objects.push(
        h.ok_post(
            &format!(
                "/v1/checkout/sessions/{}/expire",
                expiring["id"].as_str().unwrap()
            ),
            &[],
        )
        .await,
    );
    h.ok_post(
        &format!("/v1/products/{}", catalogue.product["id"].as_str().unwrap()),
        &[("active", "false")],
    )
    .await;
}

/// Every list endpoint, the paid session's line items, and every event so far.
async fn list_everything(h: &Harness, sid: &str, objects: &mut Vec<Value>) {
    for list in [
        "/v1/products",
        "/v1/prices",
        "/v1/customers",
        "/v1/checkout/sessions",
        "/v1/refunds",
        "/v1/coupons",
        "/v1/promotion_codes",
        "/v1/webhook_endpoints",
        "/v1/charges",
        "/v1/payment_intents",
    ] {
        objects.push(h.ok_get(list).await);
    }
    objects.push(
        h.ok_get(&format!("/v1/checkout/sessions/{sid}/line_items"))
            .await,
    );
    let events = h.ok_get("/v1/events?limit=100").await;
    let kinds: std::collections::BTreeSet<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["object"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 1);
    objects.push(events.clone());
}

/// A subscription bought with a one-time line, a promotion code and a trial; its card swapped
/// in the portal for one that fails, a renewal failing then paid by the API; collection paused
/// (a voided invoice), then the subscription cancelled. Keeps every billing object and event.
async fn subscribe_and_renew(h: &Harness, catalogue: &Catalogue, objects: &mut Vec<Value>) {
    let monthly = h
        .ok_post(
            "/v1/prices",
            &[
                ("currency", "eur"),
                ("unit_amount", "9900"),
                ("recurring[interval]", "month"),
                ("product_data[name]", "Retainer"),
            ],
        )
        .await;
    let once = h.price("Setup", "eur", 20_000).await;
    let session = h
        .session(&[
            ("mode", "subscription"),
            ("line_items[0][price]", monthly["id"].as_str().unwrap()),
            ("line_items[0][quantity]", "1"),
            ("line_items[1][price]", &once),
            ("line_items[1][quantity]", "1"),
            ("customer", catalogue.customer["id"].as_str().unwrap()),
            ("allow_promotion_codes", "true"),
            ("subscription_data[trial_period_days]", "3"),
            ("subscription_data[metadata][order]", "7"),
        ])
        .await;
    let sid = session["id"].as_str().unwrap();
    h.submit(
        sid,
        &[
            ("action", "apply_promotion_code"),
            ("promotion_code", "SAVE"),
        ],
    )
    .await;
    h.pay_card(sid, "4242424242424242").await;
    let paid = h
        .ok_get(&format!(
            "/v1/checkout/sessions/{sid}?expand[]=subscription.latest_invoice&expand[]=subscription.default_payment_method"
        ))
        .await;
    objects.push(paid.clone());
    let sub = paid["subscription"]["id"].as_str().unwrap();
    let customer = paid["customer"].as_str().unwrap();
    let portal = h
        .ok_post(
            "/v1/billing_portal/sessions",
            &[
                ("customer", customer),
                ("return_url", "http://shop.test/account"),
            ],
        )
        .await;
    objects.push(portal.clone());
    h.http
        .post(portal["url"].as_str().unwrap())
        .form(&[
            ("action", "update_card"),
            ("card_number", "4000000000000341"),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
        ])
        .send()
        .await
        .unwrap();
    h.emu.advance_clock(3 * 86_400);
    let open = h
        .ok_get(&format!("/v1/invoices?subscription={sub}&status=open"))
        .await;
    objects.push(open.clone());
    let failed = open["data"][0]["id"].as_str().unwrap();
    let (status, body) = h.post(&format!("/v1/invoices/{failed}/pay"), &[]).await;
    assert_eq!(status, reqwest::StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"]["type"], "card_error");
    let good = h
        .ok_get(&format!(
            "/v1/payment_methods/{}",
            paid["subscription"]["default_payment_method"]["id"]
                .as_str()
                .unwrap()
        ))
        .await;
    objects.push(good.clone());
    objects.push(
        h.ok_post(
            &format!("/v1/invoices/{failed}/pay"),
            &[("payment_method", good["id"].as_str().unwrap())],
        )
        .await,
    );
    h.ok_post(
        &format!("/v1/subscriptions/{sub}"),
        &[("pause_collection[behavior]", "void")],
    )
    .await;
    h.emu.advance_clock(31 * 86_400);
    objects.push(h.ok_get(&format!("/v1/invoices?customer={customer}")).await);
    objects.push(h.ok_get("/v1/subscriptions?status=all").await);
    let res = h
        .http
        .delete(h.url(&format!("/v1/subscriptions/{sub}")))
        .bearer_auth(crate::helpers::KEY)
        .send()
        .await
        .unwrap();
    objects.push(res.json().await.unwrap());
    for kind in [
        "customer.created",
        "payment_method.attached",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "invoice.voided",
    ] {
        let events = h.ok_get(&format!("/v1/events?type={kind}")).await;
        assert!(!events["data"].as_array().unwrap().is_empty(), "no {kind}");
        objects.push(events);
    }
}

/// The form schema of an endpoint's body, or its query parameters as one object schema.
fn spec_params(method: &str, path: &str) -> Value {
    let op = &SPEC["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not in the description");
    // Stripe describes DELETE parameters as a form body; its clients send them in the query,
    // where the emulator reads them.
    let form = &op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
    if method == "delete" && form.is_object() {
        form.clone()
    } else if method == "post" {
        op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"].clone()
    } else {
        let mut props = serde_json::Map::new();
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["in"] == "query" {
                props.insert(p["name"].as_str().unwrap().to_string(), p["schema"].clone());
            }
        }
        serde_json::json!({ "type": "object", "properties": props })
    }
}

/// The schemas a spec node may take: itself, or each option of its `anyOf`.
fn alternatives(schema: &Value) -> Vec<&Value> {
    let schema = resolve(schema);
    match schema.get("anyOf").and_then(Value::as_array) {
        Some(options) => options.iter().flat_map(alternatives).collect(),
        None => vec![schema],
    }
}

fn type_of(schema: &Value) -> &str {
    schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or(if schema.get("properties").is_some() {
            "object"
        } else {
            ""
        })
}

fn check_param(ty: &Ty, spec: &Value, path: &str, errors: &mut Vec<String>) {
    let options = alternatives(spec);
    let with = |t: &str| {
        options
            .iter()
            .copied()
            .filter(move |o| type_of(o) == t)
            .collect::<Vec<_>>()
    };
    match ty {
        Ty::Str => {
            if with("string").is_empty() {
                errors.push(format!("{path}: the description has no string form"));
            }
        }
        Ty::Int => {
            if with("integer").is_empty() {
                errors.push(format!("{path}: the description has no integer form"));
            }
        }
        Ty::Bool => {
            if with("boolean").is_empty() {
                errors.push(format!("{path}: the description has no boolean form"));
            }
        }
        Ty::Hundredths => {
            if with("number").is_empty() {
                errors.push(format!("{path}: the description has no number form"));
            }
        }
        Ty::Enum(values) => {
            let allowed: Vec<&Value> = with("string")
                .iter()
                .flat_map(|o| o["enum"].as_array().into_iter().flatten())
                .collect();
            for v in *values {
                if !allowed.iter().any(|a| a.as_str() == Some(v)) {
                    errors.push(format!("{path}: value {v} is not in the description"));
                }
            }
        }
        Ty::Metadata => {
            if with("object").is_empty() {
                errors.push(format!("{path}: the description has no hash form"));
            }
        }
        Ty::Arr(item) => match with("array").first() {
            Some(a) => check_param(item, &a["items"], &format!("{path}[]"), errors),
            None => errors.push(format!("{path}: the description has no array form")),
        },
        Ty::Range => {
            check_param(&Ty::Int, spec, path, errors);
            check_param(&Ty::Obj(Ty::range_fields()), spec, path, errors);
        }
        Ty::OrEmpty(inner) => {
            check_param(inner, spec, path, errors);
            let unsets = with("string").iter().any(|o| {
                o["enum"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|v| v == ""))
            });
            if !unsets {
                errors.push(format!("{path}: the description cannot unset it with \"\""));
            }
        }
        Ty::Map(inner) => match with("object")
            .iter()
            .find_map(|o| o.get("additionalProperties"))
        {
            Some(item) => check_param(inner, item, &format!("{path}[*]"), errors),
            None => errors.push(format!("{path}: the description has no open hash form")),
        },
        Ty::Obj(fields) => {
            let objects = with("object");
            for field in fields {
                let found = objects
                    .iter()
                    .find_map(|o| o.get("properties").and_then(|p| p.get(field.name)));
                let child = format!("{path}[{}]", field.name);
                match found {
                    Some(s) => check_param(&field.ty, s, &child, errors),
                    None => errors.push(format!("{child}: not in the description")),
                }
            }
        }
    }
}

/// Parameters Stripe added after the version of the description kept here: the method, path
/// and name of each, and the operation whose parameter of the same name its type is checked
/// against instead. Each must still be missing from the description, so an entry goes when the
/// subset is remade from a version that has it.
const NEWER_THAN_THE_DESCRIPTION: &[(&str, &str, &str, (&str, &str))] = &[
    // Listing Checkout Sessions by `created` came after 2023-08-16.
    (
        "get",
        "/v1/checkout/sessions",
        "created",
        ("get", "/v1/charges"),
    ),
];

#[test]
fn every_accepted_parameter_exists_in_the_description() {
    let mut errors = Vec::new();
    let mut checked = 0;
    let mut newer = Vec::new();
    for op in Op::ALL {
        let (method, path) = op.route();
        let spec = spec_params(method, path);
        let Ty::Obj(fields) = op.params() else {
            unreachable!()
        };
        for field in &fields {
            checked += 1;
            let at = format!("{method} {path} {}", field.name);
            let exception = NEWER_THAN_THE_DESCRIPTION
                .iter()
                .find(|(m, p, n, _)| (*m, *p, *n) == (method, path, field.name));
            match (spec["properties"].get(field.name), exception) {
                (Some(_), Some(_)) => errors.push(format!(
                    "{at} is in the description now: drop it from NEWER_THAN_THE_DESCRIPTION"
                )),
                (Some(s), None) => check_param(&field.ty, s, &at, &mut errors),
                (None, Some((_, _, name, (like_method, like_path)))) => {
                    newer.push(at.clone());
                    let like = &spec_params(like_method, like_path)["properties"][*name];
                    assert!(like.is_object(), "{like_method} {like_path} has no {name}");
                    check_param(&field.ty, like, &at, &mut errors);
                }
                (None, None) => errors.push(format!("{at} is not in the description")),
            }
        }
    }
    assert!(checked > 100, "only {checked} parameters checked");
    assert_eq!(
        newer.len(),
        NEWER_THAN_THE_DESCRIPTION.len(),
        "every exception names an accepted parameter: {newer:?}"
    );
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn the_parameter_check_catches_wrong_types_and_unknown_names() {
    use stripe_emulator::Field;
    let field = |name: &'static str, ty: Ty| Field {
        name,
        ty,
        required: false,
    };
    let customers = spec_params("post", "/v1/customers");
    let charges = spec_params("get", "/v1/charges");
    let mut errors = Vec::new();
    // An address is a hash that an empty string unsets; `created` an integer or a range.
    check_param(
        &Ty::Obj(vec![field("street", Ty::Str)]),
        &customers["properties"]["address"],
        "address",
        &mut errors,
    );
    check_param(
        &Ty::OrEmpty(Box::new(Ty::Int)),
        &customers["properties"]["email"],
        "email",
        &mut errors,
    );
    check_param(
        &Ty::Range,
        &charges["properties"]["customer"],
        "customer",
        &mut errors,
    );
    check_param(
        &Ty::Range,
        &charges["properties"]["created"],
        "created",
        &mut errors,
    );
    assert_eq!(
        errors,
        [
            "address[street]: not in the description",
            "email: the description has no integer form",
            "email: the description cannot unset it with \"\"",
            "customer: the description has no integer form",
            "customer[gt]: not in the description",
            "customer[gte]: not in the description",
            "customer[lt]: not in the description",
            "customer[lte]: not in the description",
        ]
    );
}
