//! What operators see: Prometheus metrics that move with a purchase, and logs of a whole
//! journey that name each paid order and never a secret.

use std::io::{BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use prometheus_parse::{Scrape, Value};
use serde_json::{Value as Json, json};

use crate::harness::{TestApp, TestDb, browser, spawn_app_with};
use crate::purchase::{paid_order, pay};

async fn scrape(app: &TestApp) -> Scrape {
    let res = browser()
        .get(app.url("/metrics"))
        .bearer_auth("metrics-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(crate::harness::content_type(&res).starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    // Every line is a comment or `name{labels} value`.
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
        assert!(line.starts_with("agency_"), "not ours: {line}");
    }
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The sum of a counter's (or a histogram's count's) samples whose labels include `labels`.
fn total(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == metric)
        .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(b) => b.iter().map(|c| c.count).fold(0.0, f64::max),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn metrics_are_prometheus_text_behind_their_token_and_move_with_a_purchase() {
    let app = spawn_app_with(&[("METRICS_TOKEN", "metrics-token")]).await;
    assert_eq!(
        browser()
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let wrong = browser()
        .get(app.url("/metrics"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let before = scrape(&app).await;
    paid_order(&app).await;
    let after = scrape_once_the_webhook_and_the_emails_show(&app, &before).await;
    assert_each_metric_moved_with_the_purchase(&before, &after);
}

const CHECKOUT_FULFILLED: &[(&str, &str)] = &[
    ("type", "checkout.session.completed"),
    ("outcome", "fulfilled"),
];

/// How much a metric grew from `before` to `after`.
fn moved(before: &Scrape, after: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    total(after, metric, labels) - total(before, metric, labels)
}

/// The webhook's counter moves just after its transaction commits, and the emails go out
/// through the queue: scrapes until both show (or 15 s pass).
async fn scrape_once_the_webhook_and_the_emails_show(app: &TestApp, before: &Scrape) -> Scrape {
    let mut after = scrape(app).await;
    for _ in 0..150 {
        let sent = moved(
            before,
            &after,
            "agency_emails_total",
            &[("outcome", "stored")],
        );
        let fulfilled = moved(
            before,
            &after,
            "agency_stripe_webhook_events_total",
            CHECKOUT_FULFILLED,
        );
        if sent >= 2.0 && fulfilled >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = scrape(app).await;
    }
    after
}

fn assert_each_metric_moved_with_the_purchase(before: &Scrape, after: &Scrape) {
    let moved = |metric: &str, labels: &[(&str, &str)]| moved(before, after, metric, labels);
    assert!(moved("agency_stripe_webhook_events_total", CHECKOUT_FULFILLED) >= 1.0);
    assert!(
        moved(
            "agency_http_requests_total",
            &[
                ("route", "/api/store/checkout"),
                ("method", "POST"),
                ("status", "200")
            ]
        ) >= 1.0
    );
    assert!(
        moved(
            "agency_http_request_duration_seconds_count",
            &[("route", "/api/store/checkout")]
        ) >= 1.0
            || moved(
                "agency_http_request_duration_seconds",
                &[("route", "/api/store/checkout")]
            ) >= 1.0
    );
    assert!(
        moved(
            "agency_stripe_api_requests_total",
            &[
                ("endpoint", "POST /v1/checkout/sessions"),
                ("outcome", "ok")
            ]
        ) >= 1.0
    );
    assert!(
        moved(
            "agency_fulfilment_duration_seconds_count",
            &[("outcome", "Fulfilled")]
        ) >= 1.0
            || moved(
                "agency_fulfilment_duration_seconds",
                &[("outcome", "Fulfilled")]
            ) >= 1.0
    );
    assert!(moved("agency_emails_total", &[("outcome", "stored")]) >= 2.0);
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "agency_jobs_waiting")
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_whole_journey_logs_each_paid_order_and_no_secret() {
    let db = TestDb::new().await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let child = serve_the_demo_logging_json(&db, port, dir.path());
    let base = format!("http://127.0.0.1:{port}");
    let http = browser();
    wait_until_up(&http, &base).await;

    // A demo client buys the first service on sale.
    sign_in_as_the_demo_client(&http, &base).await;
    let order_id = buy_and_pay_for_the_first_service_on_sale(&http, &base).await;
    wait_until_paid(&http, &base, order_id).await;
    let metrics = http
        .get(format!("{base}/metrics"))
        .bearer_auth("metrics-token-never-logged")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);

    let logs = stop_and_read_the_logs(child);
    assert_one_line_for_the_paid_order(&logs, order_id);
    // (The demo's published password is printed on purpose, with the demo sign-ins.)
    for secret in [
        "whsec_",
        "sk_test_",
        "sk_live_",
        "metrics-token-never-logged",
    ] {
        let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(secret)).collect();
        assert!(leaks.is_empty(), "{secret} logged:\n{}", leaks.join("\n"));
    }
    assert!(logs.lines().count() > 10, "the logs were captured:\n{logs}");
}

/// The real binary with its demo data and secrets of its own, logging JSON to pipes.
fn serve_the_demo_logging_json(db: &TestDb, port: u16, dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_agency-hub"))
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("APP_URL", format!("http://127.0.0.1:{port}"))
        .env("DEMO_DATA", "true")
        .env("STRIPE_WEBHOOK_SECRET", "whsec_never_in_the_logs")
        .env("METRICS_TOKEN", "metrics-token-never-logged")
        .env("RUST_LOG", "info,agency_hub=debug,stripe_emulator=debug")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn wait_until_up(http: &reqwest::Client, base: &str) {
    let mut up = false;
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the app never answered");
}

async fn sign_in_as_the_demo_client(http: &reqwest::Client, base: &str) {
    let login = http
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = crate::harness::extract_csrf(&login).unwrap();
    let res = http
        .post(format!("{base}/login"))
        .form(&[
            ("_csrf", token.as_str()),
            ("email", "client@acme.example"),
            ("password", "demo1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

/// Puts the first service on sale in the cart, checks out and pays; returns the order's id.
async fn buy_and_pay_for_the_first_service_on_sale(http: &reqwest::Client, base: &str) -> i64 {
    let list: Json = http
        .get(format!("{base}/api/store/services"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["data"][0]["id"].as_i64().unwrap();
    let res = http
        .post(format!("{base}/api/cart/items"))
        .header("origin", base)
        .json(&json!({"serviceTemplateId": id, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let checkout: Json = http
        .post(format!("{base}/api/store/checkout"))
        .header("origin", base)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order_id = checkout["orderId"].as_i64().unwrap();
    assert_eq!(
        pay(
            checkout["checkoutUrl"].as_str().unwrap(),
            "4242 4242 4242 4242"
        )
        .await
        .status(),
        303
    );
    order_id
}

async fn wait_until_paid(http: &reqwest::Client, base: &str, order_id: i64) {
    let mut paid = false;
    for _ in 0..100 {
        let o: Json = http
            .get(format!("{base}/api/store/orders/{order_id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if o["status"] == "COMPLETED" {
            paid = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(paid, "the order was never paid");
}

/// Stops the app and returns all it printed, stdout then stderr.
fn stop_and_read_the_logs(mut child: Child) -> String {
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    child.kill().unwrap();
    child.wait().unwrap();
    let mut logs = String::new();
    stdout.read_to_string(&mut logs).unwrap();
    let mut err = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_to_string(&mut err)
        .unwrap();
    logs.push_str(&err);
    logs
}

fn assert_one_line_for_the_paid_order(logs: &str, order_id: i64) {
    let paid: Vec<Json> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter(|l| l["message"] == "order paid")
        .collect();
    assert_eq!(paid.len(), 1, "one line per paid order:\n{logs}");
    assert_eq!(paid[0]["order.id"], order_id, "{}", paid[0]);
    assert_eq!(paid[0]["level"], "INFO");
    assert!(paid[0]["amount_minor"].as_i64().unwrap() > 0 && paid[0]["took_ms"].is_u64());
}
