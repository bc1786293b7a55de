//! What an adversarial review found: inputs past their bounds, errors outside our envelope,
//! panics, caching of people's pages. Each test here failed before its fix.

use agency_hub::db::entities::user::Role;
use agency_hub::{App, web};
use serde_json::{Value, json};

use crate::harness::{TestDb, content_type, spawn_app, spawn_app_with, test_config};

/// The lists that page, as the client and the admin reach them.
const CLIENT_LISTS: [&str; 5] = [
    "/api/store/services",
    "/api/store/orders",
    "/store",
    "/store/orders",
    "/my/services",
];
const ADMIN_LISTS: [&str; 7] = [
    "/api/admin/jobs",
    "/services",
    "/admin/orders",
    "/admin/users",
    "/admin/activity",
    "/admin/emails",
    "/admin/jobs",
];

async fn assert_refused(app: &crate::harness::TestApp, path: &str, field: &str) {
    let res = app.get(path).await;
    assert_eq!(res.status(), 400, "{path}");
    if path.starts_with("/api/") {
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{path}");
        assert_eq!(body["error"]["code"], "invalid_input", "{path}");
    } else {
        assert!(content_type(&res).starts_with("text/html"), "{path}");
        assert!(
            res.text().await.unwrap().contains("is not a page"),
            "{path}"
        );
    }
}

/// A page far past the end once panicked in the SQL layer and closed the connection.
#[tokio::test]
async fn a_page_number_or_size_past_its_bound_is_a_400_naming_it_on_every_list() {
    let mut app = spawn_app().await;
    app.signed_in_as(Role::Client).await;
    for list in CLIENT_LISTS {
        for page in ["9223372036854775807", "18446744073709551615", "100001", "0"] {
            let sep = if list.contains('?') { '&' } else { '?' };
            assert_refused(&app, &format!("{list}{sep}page={page}"), "page").await;
        }
        assert_eq!(app.get(&format!("{list}?page=100000")).await.status(), 200);
    }
    app.switch_browser(crate::harness::browser());
    app.signed_in_as(Role::Admin).await;
    for list in ADMIN_LISTS {
        assert_refused(&app, &format!("{list}?page=9223372036854775807"), "page").await;
        assert_eq!(app.get(&format!("{list}?page=2")).await.status(), 200);
    }
    for size in ["0", "201", "18446744073709551615"] {
        assert_refused(&app, &format!("/api/admin/jobs?perPage={size}"), "perPage").await;
    }
}

/// `down:<the largest number>` once overflowed an index and panicked.
#[tokio::test]
async fn a_row_button_past_any_row_changes_nothing_on_the_template_form() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    for intent in [
        "down:18446744073709551615",
        "up:18446744073709551615",
        "remove:18446744073709551615",
    ] {
        let res = app
            .post_form(
                "/admin/templates",
                &[
                    ("name", "Logo"),
                    ("category", "Design"),
                    ("task-0-name", "Brief"),
                    ("intent", intent),
                ],
            )
            .await;
        assert_eq!(res.status(), 200, "{intent}");
        assert!(res.text().await.unwrap().contains("Brief"), "{intent}");
    }
}

/// A handler that panics answers our 500 (the envelope under /api, a page elsewhere, with its
/// request id and our headers), and the server goes on.
#[tokio::test]
async fn a_panic_answers_our_500_and_the_server_goes_on() {
    let db = TestDb::new().await;
    let app = App::build(test_config(&db.url, &[])).await.unwrap();
    let boom = || async {
        if true {
            panic!("a bug in a handler");
        }
        "never"
    };
    let routes = axum::Router::new()
        .route("/api/boom", axum::routing::get(boom))
        .route("/boom", axum::routing::get(boom))
        .route("/fine", axum::routing::get(|| async { "fine" }));
    let router = web::router::with_outer_layers(routes, app.state().clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();

    let res = http.get(format!("{base}/api/boom")).send().await.unwrap();
    assert_eq!(res.status(), 500);
    assert!(!res.headers()["x-request-id"].is_empty());
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "internal");
    assert!(!body.to_string().contains("a bug in a handler"));

    let res = http.get(format!("{base}/boom")).send().await.unwrap();
    assert_eq!(res.status(), 500);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let html = res.text().await.unwrap();
    assert!(html.contains("Something went wrong on our side"), "{html}");
    assert!(html.contains(&id), "the page quotes its reference");

    let res = http.get(format!("{base}/fine")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "fine");
}

/// Path ids that do not parse, bodies over the limit and methods a route does not take once
/// answered plain text, an empty body, or without our headers.
#[tokio::test]
async fn every_error_is_our_envelope_or_page_with_our_headers() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Client).await;
    let check = |res: &reqwest::Response, status: u16, what: &str| {
        assert_eq!(res.status(), status, "{what}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{what}");
        assert!(
            res.headers().contains_key("content-security-policy"),
            "{what}"
        );
    };

    let res = app.get("/api/store/orders/abc").await;
    check(&res, 400, "an id that is not one");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "id");
    assert!(body["error"]["message"].as_str().unwrap().contains("'abc'"));
    let res = app.get("/store/orders/abc").await;
    check(&res, 400, "an id that is not one, on a page");
    assert!(content_type(&res).starts_with("text/html"));

    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let res = app
        .client
        .post(app.url("/api/cart/items"))
        .header("content-type", "application/json")
        .header("origin", "http://127.0.0.1:3001")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    check(&res, 413, "a body over the limit");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");
    let chunks = futures_util::stream::iter(
        big.into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let res = app
        .client
        .post(app.url("/api/cart/items"))
        .header("content-type", "application/json")
        .header("origin", "http://127.0.0.1:3001")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    check(&res, 413, "a chunked body over the limit");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");

    let res = app.post_json("/api/me", &json!({})).await;
    check(&res, 405, "a method the route does not take");
    assert!(res.headers().contains_key("allow"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    // (A page's form posts meet the CSRF guard first; the health check has none.)
    let res = app.client.post(app.url("/healthz")).send().await.unwrap();
    check(&res, 405, "a method a page does not take");
    assert!(content_type(&res).starts_with("text/html"));
}

/// People's pages, receipts, exports and API answers are kept by no cache; HSTS on https.
#[tokio::test]
async fn pages_and_answers_are_not_stored_and_https_sends_hsts() {
    let mut app = spawn_app().await;
    app.signed_in_as(Role::Client).await;
    for path in [
        "/dashboard",
        "/store",
        "/store/orders",
        "/api/me",
        "/api/cart",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }
    app.switch_browser(crate::harness::browser());
    app.signed_in_as(Role::Admin).await;
    let res = app.get("/admin/orders/export.csv").await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(
        !app.get("/login")
            .await
            .headers()
            .contains_key("strict-transport-security")
    );
    let html = app.page("/dashboard").await;
    let start = html.find("/static/app.css?v=").unwrap();
    let css = &html[start..html[start..].find('"').unwrap() + start];
    let res = app.get(css).await;
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );

    let https = spawn_app_with(&[("APP_URL", "https://portal.example.com")]).await;
    let res = https.get("/login").await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
}

/// Changing one's password once left one's other sessions signed in.
#[tokio::test]
async fn changing_your_password_ends_your_other_sessions_and_keeps_this_one() {
    let mut app = spawn_app().await;
    app.signed_in_as(Role::Client).await;
    // The same person on a second device.
    let this_device = app.switch_browser(crate::harness::browser());
    assert_eq!(
        app.sign_in("client@acme.example", crate::harness::PASSWORD)
            .await
            .status(),
        303
    );
    assert_eq!(app.get("/api/me").await.status(), 200);
    let other_device = app.switch_browser(this_device);

    let res = app
        .post_form(
            "/account/password",
            &[
                ("current_password", crate::harness::PASSWORD),
                ("new_password", "another-password"),
                ("confirm_password", "another-password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get("/api/me").await.status(), 200, "this session stays");
    app.switch_browser(other_device);
    assert_eq!(
        app.get("/api/me").await.status(),
        401,
        "the other device is signed out"
    );
}

/// Eight wrong passwords at once once all got 401: each read the failures before any was
/// written.
#[tokio::test]
async fn concurrent_wrong_passwords_cannot_outrun_the_sign_in_limit() {
    let app = spawn_app().await;
    app.create_user(Role::Client, "client@acme.example", Some("Acme Corp"))
        .await;
    let tries = (0..8).map(|_| {
        let url = app.url("/api/session");
        async move {
            crate::harness::browser()
                .post(url)
                .header("origin", "http://127.0.0.1:3001")
                .json(&json!({"email": "client@acme.example", "password": "wrong-guess"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(tries).await;
    let refused = statuses.iter().filter(|s| **s == 429).count();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(refused + checked, 8, "{statuses:?}");
    assert!(
        checked <= agency_hub::auth::MAX_FAILURES as usize,
        "{checked} passwords were checked: {statuses:?}"
    );
    // And the right password is refused too while the limit holds.
    let res = crate::harness::browser()
        .post(app.url("/api/session"))
        .header("origin", "http://127.0.0.1:3001")
        .json(&json!({"email": "client@acme.example", "password": crate::harness::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
}
