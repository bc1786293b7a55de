//! Error pages, the JSON envelope, health checks, static files and security headers.

use agency_hub::db::entities::user::Role;
use serde_json::Value;

use crate::harness::{content_type, spawn_app};

#[tokio::test]
async fn an_unknown_page_is_a_404_page_and_an_unknown_api_route_a_json_404() {
    let app = spawn_app().await;
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(content_type(&res).starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(html.contains("There is nothing at this address."), "{html}");

    let res = app.get("/api/no/such/route").await;
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["field"].is_null());
}

#[tokio::test]
async fn bad_query_input_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    app.signed_in_as(agency_hub::db::entities::user::Role::Admin)
        .await;
    let res = app.get("/api/admin/jobs?status=sleeping").await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "status");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sleeping")
    );

    let res = app.get("/api/admin/jobs?page=abc").await;
    assert_eq!(res.status(), 400);

    let res = app
        .get("/api/admin/jobs?status=dead&page=1&perPage=10")
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 0);
    assert_eq!(body["pagination"]["perPage"], 10);
    assert_eq!(body["pagination"]["totalItems"], 0);
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn every_response_has_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    let res = app.get("/login").await;
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
    assert!(!h["x-request-id"].is_empty());
}

#[tokio::test]
async fn the_stylesheet_is_served_with_a_long_cache_lifetime() {
    let app = spawn_app().await;
    let html = app.get("/login").await.text().await.unwrap();
    let start = html
        .find("/static/app.css?v=")
        .expect("the layout links the stylesheet");
    let href = &html[start..html[start..].find('"').unwrap() + start];
    let res = app.get(href).await;
    assert_eq!(res.status(), 200);
    assert!(content_type(&res).starts_with("text/css"));
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(app.get("/static/missing.css").await.status(), 404);
}

#[tokio::test]
async fn pages_link_a_favicon_and_start_with_a_link_that_skips_to_the_content() {
    let app = spawn_app().await;
    let html = app.get("/login").await.text().await.unwrap();
    assert!(html.contains(r#"<link rel="icon" href="/favicon.svg" type="image/svg+xml">"#));
    for path in ["/favicon.svg", "/favicon.ico"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(content_type(&res), "image/svg+xml");
        assert!(res.text().await.unwrap().starts_with("<svg"));
    }
    app.signed_in_as(Role::Client).await;
    let html = app.get("/dashboard").await.text().await.unwrap();
    let skip = html.find(r##"<a class="skip-link" href="#main">Skip to content</a>"##);
    let first_link = html.find("<a ");
    assert!(
        skip.is_some() && skip == first_link,
        "the skip link comes first"
    );
    assert!(html.contains(r#"<main class="content" id="main" tabindex="-1">"#));
}

#[tokio::test]
async fn the_portal_is_installable_on_a_phone_with_a_manifest_icons_and_a_theme_colour() {
    let app = spawn_app().await;
    let html = app.page("/login").await;
    for tag in [
        r#"<link rel="manifest" href="/manifest.webmanifest">"#,
        r##"<meta name="theme-color" content="#3b5bdb">"##,
        r#"<link rel="apple-touch-icon" href="/static/icons/apple-touch-icon.png">"#,
    ] {
        assert!(html.contains(tag), "{tag}");
    }
    let res = app.get("/manifest.webmanifest").await;
    assert_eq!(res.status(), 200);
    assert_eq!(content_type(&res), "application/manifest+json");
    let manifest: serde_json::Value = res.json().await.unwrap();
    assert_eq!(manifest["name"], app.state.config.agency_name.as_str());
    assert_eq!(
        (
            &manifest["display"],
            &manifest["start_url"],
            &manifest["theme_color"]
        ),
        (
            &serde_json::json!("standalone"),
            &serde_json::json!("/dashboard"),
            &serde_json::json!("#3b5bdb")
        )
    );
    // Each icon is there, a PNG of the size it claims (the home screen's 192 and 512).
    let mut sizes = Vec::new();
    for icon in manifest["icons"].as_array().unwrap() {
        let src = icon["src"].as_str().unwrap();
        let res = app.get(src).await;
        assert_eq!(res.status(), 200, "{src}");
        if icon["type"] == "image/png" {
            let png = res.bytes().await.unwrap();
            let img = image::load_from_memory(&png).unwrap();
            let size = format!("{}x{}", img.width(), img.height());
            assert_eq!(icon["sizes"], size.as_str(), "{src}");
            sizes.push(size);
        }
    }
    assert!(sizes.contains(&"192x192".into()) && sizes.contains(&"512x512".into()));
    assert!(
        manifest["icons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["purpose"] == "maskable")
    );
    let touch = app.get("/static/icons/apple-touch-icon.png").await;
    assert_eq!(touch.status(), 200);
    assert_eq!(content_type(&touch), "image/png");
}

#[tokio::test]
async fn an_internal_error_is_a_plain_500_that_does_not_show_its_cause() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    app.signed_in_as(agency_hub::db::entities::user::Role::Admin)
        .await;
    app.db.execute_unprepared("DROP TABLE tasks").await.unwrap();

    let res = app.get("/dashboard").await;
    assert_eq!(res.status(), 500);
    assert!(content_type(&res).starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(html.contains("Something went wrong on our side"), "{html}");
    assert!(
        !html.contains("service_templates"),
        "the cause stays in the log"
    );
}

/// Responses are compressed as the client accepts (brotli or gzip): pages, JSON, CSS and the
/// CSV export; without Accept-Encoding they are sent as they are; static files keep their
/// long cache.
#[tokio::test]
async fn responses_are_compressed_as_the_client_accepts() {
    let app = spawn_app().await;
    app.signed_in_as(agency_hub::db::entities::user::Role::Admin)
        .await;
    let css = agency_hub::web::assets::href("app.css");
    for (path, kind) in [
        ("/dashboard", "text/html"),
        ("/api/openapi.json", "application/json"),
        (css.as_str(), "text/css"),
        ("/admin/orders/export.csv", "text/csv"),
    ] {
        let plain = app.get(path).await;
        assert_eq!(plain.status(), 200, "{path}");
        assert!(plain.headers().get("content-encoding").is_none(), "{path}");
        let size = plain.bytes().await.unwrap().len();
        for encoding in ["br", "gzip"] {
            let res = app
                .client
                .get(app.url(path))
                .header("accept-encoding", encoding)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{path}");
            assert!(
                crate::harness::content_type(&res).starts_with(kind),
                "{path}"
            );
            assert_eq!(res.headers()["content-encoding"], encoding, "{path}");
            if path == css {
                let cache = res.headers()["cache-control"].to_str().unwrap();
                assert!(cache.contains("immutable"), "{cache}");
            }
            let compressed = res.bytes().await.unwrap().len();
            // (A CSV of no orders is its header line: smaller than any compression's frame.)
            if size > 200 {
                assert!(
                    compressed < size,
                    "{path} {encoding}: {compressed} of {size}"
                );
            }
        }
    }
}
