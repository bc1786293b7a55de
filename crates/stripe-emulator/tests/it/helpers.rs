//! One emulator per test on port 0, a Stripe-like HTTP client, and a webhook receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use stripe_emulator::{Config, Emulator, RetryPolicy, Running, WebhookEndpointConfig};

pub const KEY: &str = "sk_test_emulator123";
pub const SECRET: &str = "whsec_test_secret_for_receiver";

/// How the receiver answers the next requests; after the list it answers 200.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Status(u16),
    Hang,
}

#[derive(Clone, Debug)]
pub struct Received {
    pub signature: String,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Vec<Answer>>>,
}

impl Receiver {
    pub fn events(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(Received::json)
            .collect()
    }

    pub fn types(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect()
    }
}

/// A small axum server standing in for the app's webhook route.
pub async fn start_receiver(script: Vec<Answer>) -> (String, Receiver) {
    let receiver = Receiver {
        received: Arc::default(),
        script: Arc::new(Mutex::new(script)),
    };
    let state = receiver.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                let answer = {
                    let mut script = state.script.lock().unwrap();
                    if script.is_empty() {
                        None
                    } else {
                        Some(script.remove(0))
                    }
                };
                if let Some(Answer::Hang) = answer {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                state.received.lock().unwrap().push(Received {
                    signature: headers
                        .get("stripe-signature")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default(),
                    body,
                });
                match answer {
                    Some(Answer::Status(s)) => StatusCode::from_u16(s).unwrap(),
                    _ => StatusCode::OK,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

pub struct Harness {
    pub emu: Running,
    pub http: reqwest::Client,
    pub receiver: Receiver,
}

pub fn fast_config() -> Config {
    Config {
        retry: RetryPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            max_retries: 4,
            timeout: Duration::from_millis(300),
        },
        settlement_delay: Duration::from_millis(150),
        tick: Duration::from_millis(20),
        ..Config::default()
    }
}

pub async fn harness() -> Harness {
    harness_with(fast_config(), vec![]).await
}

pub async fn harness_with(mut config: Config, script: Vec<Answer>) -> Harness {
    let (url, receiver) = start_receiver(script).await;
    config.webhook_endpoints.push(WebhookEndpointConfig {
        url,
        secret: SECRET.into(),
    });
    let emu = Emulator::start(config).await.expect("emulator starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Harness {
        emu,
        http,
        receiver,
    }
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let res = self
            .http
            .post(self.url(path))
            .bearer_auth(KEY)
            .form(form)
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap())
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap())
    }

    pub async fn ok_post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.post(path, form).await;
        assert_eq!(status, StatusCode::OK, "POST {path}: {body}");
        body
    }

    pub async fn ok_get(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// A product with one price, for sessions that reference a price id.
    pub async fn price(&self, name: &str, currency: &str, unit_amount: i64) -> String {
        let amount = unit_amount.to_string();
        let price = self
            .ok_post(
                "/v1/prices",
                &[
                    ("currency", currency),
                    ("unit_amount", &amount),
                    ("product_data[name]", name),
                ],
            )
            .await;
        price["id"].as_str().unwrap().to_string()
    }

    /// A session in `payment` mode unless `extra` names another.
    pub async fn session(&self, extra: &[(&str, &str)]) -> Value {
        let mode = if extra.iter().any(|(k, _)| *k == "mode") {
            vec![]
        } else {
            vec![("mode", "payment")]
        };
        let mut form = [
            mode,
            vec![
                (
                    "success_url",
                    "http://shop.test/thanks?session={CHECKOUT_SESSION_ID}",
                ),
                ("cancel_url", "http://shop.test/cart"),
            ],
        ]
        .concat();
        form.extend_from_slice(extra);
        self.ok_post("/v1/checkout/sessions", &form).await
    }

    /// Submits the hosted page's form as a browser without JavaScript would.
    pub async fn submit(&self, session_id: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/c/pay/{session_id}")))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn pay_card(&self, session_id: &str, card: &str) -> reqwest::Response {
        self.pay_card_with(session_id, card, &[]).await
    }

    /// Pays by card with more fields, such as the billing address.
    pub async fn pay_card_with(
        &self,
        session_id: &str,
        card: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![
            ("action", "pay"),
            ("email", "buyer@example.com"),
            ("payment_method", "card"),
            ("card_number", card),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
        ];
        form.extend_from_slice(extra);
        self.submit(session_id, &form).await
    }

    /// A hosted page's HTML.
    pub async fn page(&self, url: &str) -> String {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn event_types(&self) -> Vec<String> {
        let events = self.ok_get("/v1/events?limit=100").await;
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Polls until `check` holds, failing the test after two seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}
