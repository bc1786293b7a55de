//! Outbound webhooks against a receiver the test starts: a purchase's `order.paid` signed with
//! the endpoint's secret (checked here with our own HMAC), retried until a 2xx and logged;
//! resend; staff changes as events; the address rule at registration and at delivery; three
//! days of failures turn an endpoint off and email its admin; a rolled secret signs twice.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::webhook_delivery::{self, DeliveryStatus};
use agency_hub::db::entities::webhook_endpoint;
use agency_hub::integrations::webhooks::{Deliver, Sender};
use agency_hub::jobs::Job;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::harness::{TestApp, browser, spawn_app};
use crate::orders::{as_admin, emails_of_kind};
use crate::purchase::paid_order;

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    signature: String,
    body: String,
}

/// A webhook receiver on this machine: answers with the scripted codes in turn, then 200.
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Self {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let answers = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (seen, next) = (hits.clone(), answers.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (seen, next) = (seen.clone(), next.clone());
                async move {
                    seen.lock().unwrap().push(Hit {
                        signature: headers
                            .get("agency-hub-signature")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string(),
                        body,
                    });
                    let code = next.lock().unwrap().pop_front().unwrap_or(200);
                    (
                        StatusCode::from_u16(code).unwrap(),
                        format!("answer {code}"),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, hits }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived.
    async fn wait_for(&self, n: usize) -> Vec<Hit> {
        for _ in 0..300 {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver got {} requests, not {n}", self.hits().len());
    }
}

/// Whether `header` holds a `v1` that is the HMAC-SHA256 of `"{t}.{body}"` under `secret`,
/// computed here from the scheme, not by the app's code.
fn signed_with(header: &str, body: &str, secret: &str) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.push(v.to_string()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    assert!(
        (chrono::Utc::now().timestamp() - t).abs() < 60,
        "a fresh timestamp"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    v1.contains(&expected)
}

/// Registers an endpoint through the admin's form; returns it.
async fn register(app: &TestApp, url: &str, events: &[&str]) -> webhook_endpoint::Model {
    let mut form = vec![("url", url), ("description", "Test receiver")];
    form.extend(events.iter().map(|e| ("events", *e)));
    let res = app.post_form("/admin/webhooks", &form).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let to = res.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = to.rsplit('/').next().unwrap().parse().unwrap();
    webhook_endpoint::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn deliveries(app: &TestApp, endpoint: i64) -> Vec<webhook_delivery::Model> {
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint))
        .all(&app.db)
        .await
        .unwrap()
}

/// Waits until the endpoint's only delivery has made `attempts` attempts.
async fn settled(app: &TestApp, endpoint: i64, attempts: i32) -> webhook_delivery::Model {
    for _ in 0..300 {
        let all = deliveries(app, endpoint).await;
        if let [d] = all.as_slice()
            && d.attempts >= attempts
            && d.status != DeliveryStatus::Pending
        {
            return d.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{:?}", deliveries(app, endpoint).await);
}

#[tokio::test]
async fn a_purchase_sends_a_signed_order_paid_retried_until_the_receiver_takes_it() {
    let mut app = spawn_app().await;
    // Two failures, then success.
    let receiver = Receiver::start(&[500, 500]).await;
    as_admin(&mut app).await;
    let endpoint = register(&app, &receiver.url, &["order.paid"]).await;
    assert!(endpoint.secret.starts_with("whsec_"));
    let page = app.page(&format!("/admin/webhooks/{}", endpoint.id)).await;
    assert!(page.contains(&endpoint.secret), "the secret is on its page");
    assert!(page.contains("Nothing sent yet"));

    let admin = app.switch_browser(browser());
    let order = paid_order(&app).await;

    let hits = receiver.wait_for(3).await;
    let first: Value = serde_json::from_str(&hits[0].body).unwrap();
    assert_eq!(first["type"], "order.paid");
    assert_eq!(first["data"]["object"], "order");
    assert_eq!(first["data"]["id"], order.id.get());
    assert_eq!(first["data"]["clientId"], order.client_id.get());
    assert_eq!(first["data"]["details"]["orderNumber"], order.order_number);
    assert_eq!(first["data"]["details"]["totalMinor"], order.total_minor);
    assert!(first["id"].as_str().unwrap().starts_with("evt_"));
    for hit in &hits {
        assert_eq!(hit.body, hits[0].body, "every attempt sends the same event");
        assert!(
            signed_with(&hit.signature, &hit.body, &endpoint.secret),
            "{} does not sign the body",
            hit.signature
        );
        assert!(!signed_with(&hit.signature, &hit.body, "whsec_other"));
    }

    let delivery = settled(&app, endpoint.id, 3).await;
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    assert_eq!(delivery.attempts, 3);
    assert_eq!(delivery.response_code, Some(200));
    assert_eq!(delivery.response_body.as_deref(), Some("answer 200"));
    assert!(delivery.duration_ms.is_some());
    assert_eq!(receiver.hits().len(), 3, "one success, nothing after it");
    // The last attempt's job run again (its worker died before it ended) sends nothing more.
    let sender = Sender::new(
        app.db.clone(),
        url::Url::parse(&app.url("/")).unwrap(),
        Duration::from_millis(50),
    )
    .unwrap();
    Deliver {
        delivery_id: delivery.id,
        attempt: 3,
    }
    .run(&sender, 2)
    .await
    .unwrap();
    assert_eq!(receiver.hits().len(), 3, "a job run twice sends once");
    assert_eq!(settled(&app, endpoint.id, 3).await, delivery);
    let ep = webhook_endpoint::Entity::find_by_id(endpoint.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ep.failing_since, None, "a success clears the failures");

    // The log shows it, and "Resend" sends the same event once more.
    app.switch_browser(admin);
    let page = app.page(&format!("/admin/webhooks/{}", endpoint.id)).await;
    assert!(page.contains("order.paid") && page.contains("Delivered"));
    assert!(page.contains("HTTP 200"));
    let res = app
        .post_form(
            &format!(
                "/admin/webhooks/{}/deliveries/{}/resend",
                endpoint.id, delivery.id
            ),
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    let hits = receiver.wait_for(4).await;
    assert_eq!(hits[3].body, hits[0].body);
    assert!(signed_with(
        &hits[3].signature,
        &hits[3].body,
        &endpoint.secret
    ));
    let again = settled(&app, endpoint.id, 4).await;
    assert_eq!(
        (again.status, again.attempts),
        (DeliveryStatus::Succeeded, 4)
    );
}

#[tokio::test]
async fn staff_changes_reach_the_endpoints_that_asked_for_them() {
    let app = spawn_app().await;
    let receiver = Receiver::start(&[]).await;
    let admin = app.signed_in_as(Role::Admin).await;
    let endpoint = register(
        &app,
        &receiver.url,
        &[
            "client.created",
            "service.created",
            "task.completed",
            "service.status_changed",
            "message.created",
        ],
    )
    .await;
    // One that wants nothing of this gets nothing.
    let other = Receiver::start(&[]).await;
    let quiet = register(&app, &other.url, &["order.refunded"]).await;

    let res = app
        .post_json("/api/clients", &json!({"name": "Initech"}))
        .await;
    assert_eq!(res.status(), 201);
    let client: Value = res.json().await.unwrap();
    let template = crate::fixtures::for_sale(&app.db, "Audit", "Marketing", "100", "USD", 2).await;
    let res = app
        .post_json(
            "/api/services",
            &json!({"clientId": client["id"], "templateId": template.id}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let service: Value = res.json().await.unwrap();
    let task = &service["tasks"][0];
    let res = app
        .api(
            reqwest::Method::PATCH,
            &format!("/api/services/{}/tasks/{}", service["id"], task["id"]),
        )
        .json(&json!({"status": "DONE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .post_form(
            &format!("/services/{}/messages", service["id"]),
            &[("body", "Kick-off on Monday.")],
        )
        .await;
    assert_eq!(res.status(), 303);

    let hits = receiver.wait_for(5).await;
    let mut types: Vec<String> = hits
        .iter()
        .map(|h| {
            let v: Value = serde_json::from_str(&h.body).unwrap();
            assert!(signed_with(&h.signature, &h.body, &endpoint.secret));
            v["type"].as_str().unwrap().to_string()
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "client.created",
            "message.created",
            "service.created",
            "service.status_changed",
            "task.completed"
        ]
    );
    let done = hits
        .iter()
        .map(|h| serde_json::from_str::<Value>(&h.body).unwrap())
        .find(|v| v["type"] == "task.completed")
        .unwrap();
    assert_eq!(done["data"]["object"], "task");
    assert_eq!(done["data"]["id"], task["id"]);
    assert_eq!(done["data"]["details"]["serviceId"], service["id"]);
    assert_eq!(done["data"]["actor"]["userId"], admin.id.get());
    assert!(deliveries(&app, quiet.id).await.is_empty());
    assert!(other.hits().is_empty());

    // The log reads by cursor, unmoved by what arrives meanwhile.
    let log = |query: String| {
        let path = format!("/api/webhook-endpoints/{}/deliveries{query}", endpoint.id);
        let req = app.api(reqwest::Method::GET, &path);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let first = log("?perPage=2".into()).await;
    let ids = |page: &Value| -> Vec<i64> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_i64().unwrap())
            .collect()
    };
    let cursor = first["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .post_json("/api/clients", &json!({"name": "Umbrella"}))
        .await;
    assert_eq!(res.status(), 201);
    receiver.wait_for(6).await;
    let second = log(format!("?perPage=2&cursor={cursor}")).await;
    let all: Vec<i64> = deliveries(&app, endpoint.id)
        .await
        .iter()
        .map(|d| d.id)
        .collect();
    let mut newest_first = all.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    // Six now; the first page was the newest two of five, the second the next two.
    assert_eq!(ids(&first), newest_first[1..3]);
    assert_eq!(ids(&second), newest_first[3..5]);
    let cursor = second["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let third = log(format!("?perPage=2&cursor={cursor}")).await;
    assert_eq!(ids(&third), newest_first[5..]);
    assert!(third["pagination"].get("nextCursor").is_none(), "{third}");
    let res = app
        .api(
            reqwest::Method::GET,
            &format!(
                "/api/webhook-endpoints/{}/deliveries?cursor=abc",
                endpoint.id
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn webhooks_to_private_and_link_local_addresses_are_refused() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    for (url, why) in [
        ("http://169.254.169.254/", "link-local"),
        ("http://10.0.0.1/", "private network"),
        ("https://192.168.1.10/hook", "private network"),
        ("https://[fd00::1]/hook", "private network"),
        ("https://user:secret@example.com/", "credentials"),
        ("ftp://example.com/", "https://"),
    ] {
        let res = app
            .post_form("/admin/webhooks", &[("url", url), ("events", "order.paid")])
            .await;
        assert_eq!(res.status(), 400, "{url}");
        let html = res.text().await.unwrap();
        assert!(html.contains(why), "{url}: {why} not in the page");
        let res = app
            .post_json(
                "/api/webhook-endpoints",
                &json!({"url": url, "events": ["order.paid"]}),
            )
            .await;
        assert_eq!(res.status(), 400, "{url}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["field"], "url");
    }
    let res = app
        .post_json(
            "/api/webhook-endpoints",
            &json!({"url": "https://hooks.example.com/", "events": ["order.shipped"]}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "events");
    assert!(
        webhook_endpoint::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .is_empty(),
        "nothing was registered"
    );

    // With private networks allowed, 10.0.0.1 is taken; link-local never is.
    let res = app
        .post_form("/admin/integrations/private-networks", &[("allow", "on")])
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_json(
            "/api/webhook-endpoints",
            &json!({"url": "https://10.0.0.1/hook", "events": ["client.created"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap();
    let res = app
        .post_json(
            "/api/webhook-endpoints",
            &json!({"url": "http://169.254.169.254/latest/meta-data", "events": ["order.paid"]}),
        )
        .await;
    assert_eq!(res.status(), 400);

    // The rule holds at delivery too: with the setting off again, nothing goes to 10.0.0.1.
    let res = app
        .post_form("/admin/integrations/private-networks", &[("allow", "off")])
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_json("/api/clients", &json!({"name": "Initech"}))
        .await;
    assert_eq!(res.status(), 201);
    let id = made["id"].as_i64().unwrap();
    let first = 'wait: {
        for _ in 0..200 {
            if let Some(d) = deliveries(&app, id).await.pop()
                && d.attempts >= 1
            {
                break 'wait d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no attempt was recorded");
    };
    assert_eq!(first.response_code, None);
    let why = first.response_body.unwrap();
    assert!(
        why.contains("Not sent") && why.contains("private network"),
        "{why}"
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_three_days_is_turned_off_and_its_admin_emailed() {
    let app = spawn_app().await;
    let receiver = Receiver::start(&[500; 50]).await;
    let admin = app.signed_in_as(Role::Admin).await;
    let token =
        crate::tokens::make_token(&app, &[("operations", "write"), ("clients", "write")]).await;
    let with_token = |method: reqwest::Method, path: &str| {
        browser()
            .request(method, app.url(path))
            .header("Authorization", format!("Bearer {token}"))
    };
    let res = with_token(reqwest::Method::POST, "/api/webhook-endpoints")
        .json(&json!({"url": receiver.url, "events": ["client.created"], "description": "CRM"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap();
    let id = made["id"].as_i64().unwrap();
    let old_secret = made["secret"].as_str().unwrap().to_string();

    // Rolling the secret: both sign for a day.
    let res = with_token(
        reqwest::Method::POST,
        &format!("/api/webhook-endpoints/{id}/roll-secret"),
    )
    .json(&json!({}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let rolled: Value = res.json().await.unwrap();
    let new_secret = rolled["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);
    // Reading it back shows no secret.
    let res = with_token(
        reqwest::Method::GET,
        &format!("/api/webhook-endpoints/{id}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let read: Value = res.json().await.unwrap();
    assert!(read.get("secret").is_none(), "{read}");
    assert_eq!(read["description"], "CRM");
    let until: chrono::DateTime<chrono::Utc> = rolled["previousSecretExpiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let overlap = until - chrono::Utc::now();
    assert!(
        overlap > chrono::Duration::hours(23) && overlap <= chrono::Duration::hours(24),
        "{overlap}"
    );

    // It has failed for three days already.
    let mut ep: webhook_endpoint::ActiveModel = webhook_endpoint::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    ep.failing_since = Set(Some(chrono::Utc::now() - chrono::Duration::days(3)));
    ep.update(&app.db).await.unwrap();

    let res = with_token(reqwest::Method::POST, "/api/clients")
        .json(&json!({"name": "Initech"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let hits = receiver.wait_for(1).await;
    assert!(signed_with(&hits[0].signature, &hits[0].body, &new_secret));
    assert!(signed_with(&hits[0].signature, &hits[0].body, &old_secret));

    let off = 'wait: {
        for _ in 0..200 {
            let ep = webhook_endpoint::Entity::find_by_id(id)
                .one(&app.db)
                .await
                .unwrap()
                .unwrap();
            if !ep.enabled {
                break 'wait ep;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the endpoint stayed on");
    };
    let reason = off.disabled_reason.unwrap();
    assert!(reason.contains("HTTP 500"), "{reason}");
    let emails = emails_of_kind(&app, "webhook_disabled").await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].to_address, admin.email);
    // The pending retry finds the endpoint off: the delivery fails, nothing more is sent.
    let delivery = settled(&app, id, 1).await;
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.hits().len(), 1);

    // A resend waits for the endpoint to be on; turning it on starts afresh.
    let resend = format!(
        "/api/webhook-endpoints/{id}/deliveries/{}/resend",
        delivery.id
    );
    let res = with_token(
        reqwest::Method::POST,
        &format!("/api/webhook-endpoints/{id}/deliveries/999999/resend"),
    )
    .json(&json!({}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 404, "no such delivery of this endpoint");
    let res = with_token(reqwest::Method::POST, &resend)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    // A change that leaves `enabled` out keeps it off.
    let res = with_token(
        reqwest::Method::PUT,
        &format!("/api/webhook-endpoints/{id}"),
    )
    .json(&json!({"url": receiver.url, "events": ["client.created"], "description": "CRM v2"}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let kept: Value = res.json().await.unwrap();
    assert_eq!(kept["enabled"], false);
    assert_eq!(kept["description"], "CRM v2");
    let res = with_token(
        reqwest::Method::PUT,
        &format!("/api/webhook-endpoints/{id}"),
    )
    .json(&json!({"url": receiver.url, "events": ["client.created"], "enabled": true}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let on: Value = res.json().await.unwrap();
    assert_eq!(on["enabled"], true);
    assert_eq!(on["failingSince"], Value::Null);
    assert_eq!(on["disabledReason"], Value::Null);
    let page = app.page(&format!("/admin/webhooks/{id}")).await;
    assert!(page.contains("Failed"), "the log shows the failed delivery");
    let res = with_token(
        reqwest::Method::GET,
        &format!("/api/webhook-endpoints/{id}/deliveries"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let log: Value = res.json().await.unwrap();
    assert_eq!(log["data"][0]["status"], "failed");
    assert_eq!(log["data"][0]["responseCode"], 500);
    assert_eq!(log["data"][0]["responseBody"], "answer 500");
}
