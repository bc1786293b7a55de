//! Webhook delivery as a receiver sees it: signatures checked independently, retries, and the
//! test controls.

use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Sha256;

use crate::helpers::{
    Answer, Received, SECRET, eventually, fast_config, harness, harness_with, start_receiver,
};

/// The receiver side of Stripe's scheme, written from Stripe's documentation rather than from
/// the emulator's code: split the header, recompute HMAC-SHA256 over "t.body", compare in
/// constant time, and bound the timestamp's age.
fn verify(received: &Received, secret: &str) -> Result<(), String> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in received.signature.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = Some(t.parse::<i64>().map_err(|e| e.to_string())?),
            Some(("v1", s)) => signatures.push(hex::decode(s).map_err(|e| e.to_string())?),
            _ => {}
        }
    }
    let t = timestamp.ok_or("no timestamp")?;
    let age = chrono::Utc::now().timestamp() - t;
    if !(-5..=300).contains(&age) {
        return Err(format!("timestamp {t} is {age} s old"));
    }
    for sig in signatures {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&received.body);
        if mac.verify_slice(&sig).is_ok() {
            return Ok(());
        }
    }
    Err("no v1 signature matches".into())
}

#[tokio::test]
async fn deliveries_are_signed_and_retried_after_500_and_timeouts() {
    // First attempt 500, second hangs past the 300 ms timeout, third succeeds.
    let h = harness_with(fast_config(), vec![Answer::Status(500), Answer::Hang]).await;
    let product = h.ok_post("/v1/products", &[("name", "Audit")]).await;
    eventually("the third attempt succeeds", || async {
        h.emu
            .deliveries()
            .iter()
            .any(|d| d.state == stripe_emulator::DeliveryState::Succeeded)
    })
    .await;
    let deliveries = h.emu.deliveries();
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(d.event_type, "product.created");
    let statuses: Vec<Option<u16>> = d.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), None, Some(200)]);
    assert_eq!(d.attempts[1].error.as_deref(), Some("timed out"));
    // Backoff: the second wait is longer than the first.
    let gaps: Vec<i64> = d
        .attempts
        .windows(2)
        .map(|w| w[1].at_ms - w[0].at_ms)
        .collect();
    assert!(gaps[0] >= 20, "{gaps:?}");

    // The attempts are visible over HTTP too.
    let listed = h
        .ok_get(&format!("/_emulator/deliveries?event={}", d.event))
        .await;
    assert_eq!(listed["data"][0]["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(listed["data"][0]["state"], "succeeded");

    let received = h.receiver.received.lock().unwrap().clone();
    assert!(received.len() >= 2);
    for r in &received {
        verify(r, SECRET).expect("signature verifies");
        assert!(verify(r, "whsec_wrong").is_err());
        let mut tampered = r.clone();
        tampered.body = r
            .body
            .iter()
            .copied()
            .map(|b| if b == b'A' { b'B' } else { b })
            .collect::<Vec<u8>>()
            .into();
        assert!(verify(&tampered, SECRET).is_err());
        let event = r.json();
        assert_eq!(event["object"], "event");
        assert_eq!(event["data"]["object"]["id"], product["id"]);
    }
    let event = h.ok_get(&format!("/v1/events/{}", d.event)).await;
    assert_eq!(event["pending_webhooks"], 0);
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_is_given_up_on_after_the_schedule() {
    let script = vec![Answer::Status(503); 10];
    let h = harness_with(fast_config(), script).await;
    h.ok_post("/v1/customers", &[("email", "a@b.co")]).await;
    eventually("the delivery fails for good", || async {
        h.emu
            .deliveries()
            .iter()
            .any(|d| d.state == stripe_emulator::DeliveryState::Failed)
    })
    .await;
    // One attempt and max_retries (4) retries.
    assert_eq!(h.emu.deliveries()[0].attempts.len(), 5);
    let events = h.ok_get("/v1/events").await;
    assert_eq!(events["data"][0]["pending_webhooks"], 1);
}

#[tokio::test]
async fn endpoints_added_by_api_and_by_library_get_their_events() {
    let h = harness().await;
    let (url, second) = start_receiver(vec![]).await;
    let endpoint = h
        .ok_post(
            "/v1/webhook_endpoints",
            &[("url", &url), ("enabled_events[]", "customer.created")],
        )
        .await;
    assert!(endpoint["id"].as_str().unwrap().starts_with("we_"));
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        h.ok_get(&format!(
            "/v1/webhook_endpoints/{}",
            endpoint["id"].as_str().unwrap()
        ))
        .await
        .get("secret"),
        None
    );

    let (url3, third) = start_receiver(vec![]).await;
    h.emu.add_webhook_endpoint(&url3, "whsec_third");

    h.ok_post("/v1/products", &[("name", "Ignored by the second")])
        .await;
    h.ok_post("/v1/customers", &[("email", "a@b.co")]).await;
    eventually("all deliveries", || async {
        second.types().len() == 1 && third.types().len() == 2 && h.receiver.types().len() == 2
    })
    .await;
    assert_eq!(second.types(), ["customer.created"]);
    verify(&second.received.lock().unwrap()[0], &secret).unwrap();
    for r in third.received.lock().unwrap().iter() {
        verify(r, "whsec_third").unwrap();
    }
}

#[tokio::test]
async fn held_deliveries_are_released_in_the_given_order() {
    let h = harness().await;
    h.ok_post("/_emulator/webhooks/hold", &[]).await;
    let mut events = Vec::new();
    for name in ["one", "two", "three"] {
        h.ok_post("/v1/products", &[("name", name)]).await;
        let latest = h.ok_get("/v1/events?limit=1").await;
        events.push(latest["data"][0]["id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        h.receiver.events().is_empty(),
        "nothing is delivered while held"
    );
    let held = h.ok_get("/_emulator/deliveries").await;
    assert!(
        held["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == "held")
    );

    let released = h
        .ok_post(
            "/_emulator/webhooks/release",
            &[("order[]", &events[2]), ("order[]", &events[0])],
        )
        .await;
    assert_eq!(released["released"].as_array().unwrap().len(), 3);
    let order: Vec<String> = h
        .receiver
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        order,
        [events[2].clone(), events[0].clone(), events[1].clone()]
    );

    // Released means flowing again.
    h.ok_post("/v1/customers", &[("email", "a@b.co")]).await;
    eventually("a new event flows", || async {
        h.receiver.events().len() == 4
    })
    .await;

    let (status, err) = h
        .post("/_emulator/webhooks/release", &[("order[]", "evt_nope")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["param"], "order[0]");
}

#[tokio::test]
async fn an_event_can_be_resent_and_delivered_many_times_at_once() {
    let h = harness().await;
    h.ok_post("/v1/products", &[("name", "Audit")]).await;
    eventually("first delivery", || async {
        h.receiver.events().len() == 1
    })
    .await;
    let event_id = h.receiver.events()[0]["id"].as_str().unwrap().to_string();

    let burst = h
        .ok_post(
            &format!("/_emulator/events/{event_id}/deliver"),
            &[("times", "3")],
        )
        .await;
    let results = burst["deliveries"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r["succeeded"] == true));
    assert_eq!(h.receiver.events().len(), 4);

    h.ok_post(&format!("/_emulator/events/{event_id}/resend"), &[])
        .await;
    eventually("resend", || async { h.receiver.events().len() == 5 }).await;
    let ids: Vec<Value> = h
        .receiver
        .events()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert!(ids.iter().all(|id| *id == Value::String(event_id.clone())));

    let (status, _) = h.post("/_emulator/events/evt_nope/resend", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, err) = h
        .post(
            &format!("/_emulator/events/{event_id}/deliver"),
            &[("times", "lots")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["param"], "times");
}
