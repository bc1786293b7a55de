//! The store and the cart: listing, search, the cart's rules on the pages and the API, the
//! feature flag, analytics, the OpenAPI document and the query count.

use std::time::Duration;

use agency_hub::cart::Quantity;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{cart, cart_item, service_template, store_event};
use agency_hub::ids::{ClientId, TemplateId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter,
};
use serde_json::{Value, json};

use crate::fixtures;
use crate::harness::{TestApp, spawn_app, spawn_app_with, spawn_app_without_background_work};

async fn cart_json(app: &TestApp) -> Value {
    let res = app.get("/api/cart").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn events(app: &TestApp, kind: &str) -> u64 {
    app.state.views.flush().await;
    store_event::Entity::find()
        .filter(store_event::Column::Kind.eq(kind))
        .count(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_store_lists_what_is_on_sale_searched_filtered_and_sorted() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Client).await;
    fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 5).await;
    fixtures::for_sale(&app.db, "Brand 100% Kit", "Design", "1490", "USD", 1).await;
    fixtures::template(&app.db, "Internal Only", &[("x", None, true)]).await; // not for sale

    let html = app.page("/store").await;
    for shown in [
        "Logo Design",
        "SEO Audit",
        "Brand 100% Kit",
        "$499.00",
        "$1,490.00",
    ] {
        assert!(html.contains(shown), "{shown} is in the store");
    }
    assert!(
        !html.contains("Internal Only"),
        "what is not for sale is not shown"
    );

    let html = app.page("/store?q=logo").await;
    assert!(html.contains("Logo Design") && !html.contains("SEO Audit"));
    let html = app.page("/store?q=100%25").await;
    assert!(
        html.contains("Brand 100% Kit") && !html.contains("Logo Design"),
        "punctuation is no wildcard"
    );
    let html = app.page("/store?category=Marketing").await;
    assert!(html.contains("SEO Audit") && !html.contains("Logo Design"));

    let html = app.page("/store?q=xyz").await;
    assert!(html.contains("No services match 'xyz'"), "{html}");
    assert!(html.contains("href=\"/store\""), "a reset link");

    let body: Value = app
        .get("/api/store/services?sort=price_desc")
        .await
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Brand 100% Kit", "Logo Design", "SEO Audit"]);
    assert_eq!(
        body["data"][1]["price"],
        json!({"amountMinor": 49900, "currency": "USD", "formatted": "$499.00"})
    );
    assert_eq!(body["pagination"]["totalItems"], 3);

    let res = app.get("/api/store/services?sort=cheapest").await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "sort");

    assert_eq!(
        events(&app, "store_view").await,
        6,
        "the refused request records nothing"
    );
    assert_eq!(events(&app, "search").await, 3);
}

#[tokio::test]
async fn the_store_pages_24_at_a_time_and_keeps_the_filters_in_the_links() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Client).await;
    for i in 0..30 {
        fixtures::for_sale(
            &app.db,
            &format!("Design job {i:02}"),
            "Design",
            "10",
            "USD",
            1,
        )
        .await;
    }
    let html = app.page("/store?q=design&category=Design").await;
    assert_eq!(html.matches("class=\"store-card\"").count(), 24);
    assert!(
        html.contains("href=\"/store?q=design&#38;category=Design&#38;sort=featured&#38;page=2\""),
        "{html}"
    );
    let html = app.page("/store?q=design&category=Design&page=2").await;
    assert_eq!(html.matches("class=\"store-card\"").count(), 6);
}

#[tokio::test]
async fn a_service_page_shows_what_is_included_and_a_template_not_for_sale_is_a_404() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Client).await;
    let hidden = fixtures::template(&app.db, "Internal Only", &[("x", None, true)]).await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;

    let html = app.page(&format!("/store/{}", logo.id)).await;
    assert!(html.contains("Kick-off") && html.contains("max=\"3\"") && html.contains("$499.00"));
    assert_eq!(
        app.get(&format!("/store/{}", hidden.id)).await.status(),
        404
    );
    assert_eq!(
        app.get(&format!("/api/store/services/{}", hidden.id))
            .await
            .status(),
        404
    );
    let body: Value = app
        .get(&format!("/api/store/services/{}", logo.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["included"][0]["name"], "Kick-off");
    assert_eq!(body["maxQuantity"], 3);
    assert_eq!(events(&app, "product_view").await, 2);
}

#[tokio::test]
async fn the_cart_adds_changes_and_removes_with_totals_and_a_badge() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Client).await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let care = fixtures::for_sale(&app.db, "Care Plan", "Development", "149.50", "USD", 12).await;

    add_two_logos_and_four_care_plans_by_form(&app, logo.id, care.id).await;
    let html = app.page("/store/cart").await;
    assert!(html.contains("$998.00"), "2 × $499.00");
    assert!(html.contains("$598.00"), "4 × $149.50");
    assert!(html.contains("$1,596.00"), "the total");
    assert!(
        html.contains(r#"<span class="nav-badge">6</span><span class="visually-hidden badge-words"> in your cart</span>"#),
        "the badge counts units"
    );

    two_care_plans_and_no_logo_by_form(&app, logo.id, care.id).await;
    let cart = cart_json(&app).await;
    assert_eq!(cart["count"], 2);
    assert_eq!(cart["total"]["amountMinor"], 29_900);
    assert_eq!(cart["canCheckout"], true);

    the_api_adds_changes_removes_and_empties_the_same(&app, logo.id, care.id).await;
    assert_eq!(events(&app, "add_to_cart").await, 4);
    assert_eq!(events(&app, "remove_from_cart").await, 2);
}

async fn add_two_logos_and_four_care_plans_by_form(
    app: &TestApp,
    logo: TemplateId,
    care: TemplateId,
) {
    let res = app
        .post_form(
            "/store/cart/items",
            &[("template_id", &logo.to_string()), ("quantity", "1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.post_form(
        "/store/cart/items",
        &[("template_id", &logo.to_string()), ("quantity", "1")],
    )
    .await;
    app.post_form(
        "/store/cart/items",
        &[("template_id", &care.to_string()), ("quantity", "4")],
    )
    .await;
}

async fn two_care_plans_and_no_logo_by_form(app: &TestApp, logo: TemplateId, care: TemplateId) {
    let res = app
        .post_form(&format!("/store/cart/items/{care}"), &[("quantity", "2")])
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(&format!("/store/cart/items/{logo}/remove"), &[])
        .await;
    assert_eq!(res.status(), 303);
}

async fn patch_json(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.api(reqwest::Method::PATCH, path)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn delete(app: &TestApp, path: &str) -> reqwest::Response {
    app.api(reqwest::Method::DELETE, path).send().await.unwrap()
}

async fn the_api_adds_changes_removes_and_empties_the_same(
    app: &TestApp,
    logo: TemplateId,
    care: TemplateId,
) {
    // Each page below was seen before the API's change: the badge is not served from before.
    let badge = |n: u32| {
        format!(
            r#"<span class="nav-badge">{n}</span><span class="visually-hidden badge-words"> in your cart</span>"#
        )
    };
    let logo_page = format!("/store/{logo}");
    assert!(app.page(&logo_page).await.contains(&badge(2)));
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": logo, "quantity": 3}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert!(app.page(&logo_page).await.contains(&badge(5)));
    let res = patch_json(
        app,
        &format!("/api/cart/items/{logo}"),
        &json!({"quantity": 1}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let cart: Value = res.json().await.unwrap();
    assert_eq!(cart["count"], 3);
    assert_eq!(cart["total"]["formatted"], "$798.00");
    let page = app.page(&logo_page).await;
    assert!(page.contains(&badge(3)), "the badge after the API's change");
    assert!(page.contains("1 already in your cart"));
    let res = delete(app, &format!("/api/cart/items/{care}")).await;
    assert_eq!(res.status(), 200);
    assert!(app.page(&logo_page).await.contains(&badge(1)));
    let res = delete(app, "/api/cart").await;
    assert_eq!(res.status(), 204);
    assert_eq!(cart_json(app).await["count"], 0);
    assert!(!app.page(&logo_page).await.contains("in your cart"));
}

#[tokio::test]
async fn bad_cart_input_is_a_4xx_naming_the_problem_and_the_cart_is_unchanged() {
    let mut app = spawn_app().await;
    // Another company's cart holds the Care Plan.
    let manager = app.signed_in_as(Role::Manager).await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let care = fixtures::for_sale(&app.db, "Care Plan", "Development", "149", "USD", 12).await;
    let euro = fixtures::for_sale(&app.db, "Euro Audit", "Marketing", "300", "EUR", 2).await;
    let hidden = fixtures::template(&app.db, "Internal Only", &[("x", None, true)]).await;
    let globex = fixtures::company(&app.db, "Globex Inc").await;
    agency_hub::cart::add(&app.db, manager.id, globex.id, care.id, Quantity::ONE)
        .await
        .unwrap();

    app.switch_browser(crate::harness::browser());
    app.signed_in_as(Role::Client).await;
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": logo.id, "quantity": 2}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let before = cart_json(&app).await;

    each_bad_line_is_refused_naming_its_field(&app, logo.id, euro.id, hidden.id).await;
    the_messages_say_the_maximum_and_the_currency(&app, logo.id, euro.id).await;
    another_companys_line_cannot_be_reached(&app, care.id, globex.id).await;
    too_many_or_a_body_not_json_is_refused(&app, logo.id).await;
    form_posts_without_the_token_or_with_a_bad_quantity_are_refused(&app, logo.id).await;

    assert_eq!(cart_json(&app).await, before, "the cart is unchanged");
}

async fn each_bad_line_is_refused_naming_its_field(
    app: &TestApp,
    logo: TemplateId,
    euro: TemplateId,
    hidden: TemplateId,
) {
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"serviceTemplateId": logo, "quantity": 0}),
            400,
            "quantity",
        ),
        (
            json!({"serviceTemplateId": logo, "quantity": -1}),
            400,
            "quantity",
        ),
        (
            json!({"serviceTemplateId": logo, "quantity": 1_000_000_000_000i64}),
            400,
            "quantity",
        ),
        (
            json!({"serviceTemplateId": logo, "quantity": "two"}),
            400,
            "quantity",
        ),
        (
            json!({"serviceTemplateId": logo, "quantity": 1.5}),
            400,
            "quantity",
        ),
        (json!({"serviceTemplateId": logo}), 400, "quantity"),
        (json!({"quantity": 1}), 400, "serviceTemplateId"),
        (
            json!({"serviceTemplateId": "abc", "quantity": 1}),
            400,
            "serviceTemplateId",
        ),
        (
            json!({"serviceTemplateId": 987654, "quantity": 1}),
            404,
            "serviceTemplateId",
        ),
        (
            json!({"serviceTemplateId": hidden, "quantity": 1}),
            404,
            "serviceTemplateId",
        ),
        (
            json!({"serviceTemplateId": euro, "quantity": 1}),
            400,
            "serviceTemplateId",
        ),
        // 2 in the cart already; the maximum is 3.
        (
            json!({"serviceTemplateId": logo, "quantity": 2}),
            400,
            "quantity",
        ),
    ];
    for (body, status, field) in cases {
        let res = app.post_json("/api/cart/items", &body).await;
        assert_eq!(res.status(), status, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
        assert!(!err["error"]["message"].as_str().unwrap().is_empty());
    }
}

async fn the_messages_say_the_maximum_and_the_currency(
    app: &TestApp,
    logo: TemplateId,
    euro: TemplateId,
) {
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": logo, "quantity": 2}),
        )
        .await;
    let err: Value = res.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3"),
        "{err}"
    );
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": euro, "quantity": 1}),
        )
        .await;
    let err: Value = res.json().await.unwrap();
    assert!(
        err["error"]["message"].as_str().unwrap().contains("in USD"),
        "{err}"
    );
}

/// Another company's cart line cannot be reached: it is not in ours.
async fn another_companys_line_cannot_be_reached(
    app: &TestApp,
    care: TemplateId,
    globex: ClientId,
) {
    let res = patch_json(
        app,
        &format!("/api/cart/items/{care}"),
        &json!({"quantity": 5}),
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = delete(app, &format!("/api/cart/items/{care}")).await;
    assert_eq!(res.status(), 404);
    let globex_cart = agency_hub::cart::load(&app.db, globex).await.unwrap();
    assert_eq!(
        globex_cart.count(),
        1,
        "the other company's cart is untouched"
    );
}

async fn too_many_or_a_body_not_json_is_refused(app: &TestApp, logo: TemplateId) {
    let res = patch_json(
        app,
        &format!("/api/cart/items/{logo}"),
        &json!({"quantity": 9}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let res = app
        .api(reqwest::Method::POST, "/api/cart/items")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

async fn form_posts_without_the_token_or_with_a_bad_quantity_are_refused(
    app: &TestApp,
    logo: TemplateId,
) {
    let res = app
        .post_form_without_token(
            "/store/cart/items",
            &[("template_id", &logo.to_string()), ("quantity", "1")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_form(
            "/store/cart/items",
            &[("template_id", &logo.to_string()), ("quantity", "0")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("at least 1"));
    let res = app
        .post_form(
            &format!("/store/cart/items/{logo}"),
            &[("quantity", "lots")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("is not a whole number"));
}

#[tokio::test]
async fn a_line_whose_price_changed_or_left_the_store_blocks_checkout_until_resolved() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Client).await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let seo = fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 3).await;
    app.post_json(
        "/api/cart/items",
        &json!({"serviceTemplateId": logo.id, "quantity": 1}),
    )
    .await;
    app.post_json(
        "/api/cart/items",
        &json!({"serviceTemplateId": seo.id, "quantity": 1}),
    )
    .await;

    let mut t: service_template::ActiveModel = logo.clone().into();
    t.price_minor = Set(55_000);
    t.update(&app.db).await.unwrap();
    let mut t: service_template::ActiveModel = seo.clone().into();
    t.is_purchasable = Set(false);
    t.update(&app.db).await.unwrap();

    let cart = cart_json(&app).await;
    assert_eq!(cart["canCheckout"], false);
    assert_eq!(cart["items"][0]["problem"], "price_changed");
    assert_eq!(cart["items"][0]["previousUnitPrice"]["amountMinor"], 49_900);
    assert_eq!(cart["items"][1]["problem"], "unavailable");
    let html = app.page("/store/cart").await;
    assert!(html.contains("The price changed from $499.00 to $550.00"));
    assert!(html.contains("No longer available"));
    assert!(html.contains("Resolve the flagged items before checkout."));

    assert_eq!(
        app.post_form(&format!("/store/cart/items/{}/accept-price", logo.id), &[])
            .await
            .status(),
        303
    );
    assert_eq!(
        app.post_form(&format!("/store/cart/items/{}/remove", seo.id), &[])
            .await
            .status(),
        303
    );
    let cart = cart_json(&app).await;
    assert_eq!(cart["canCheckout"], true);
    assert_eq!(cart["total"]["amountMinor"], 55_000);
}

#[tokio::test]
async fn a_cart_left_for_30_days_is_gone() {
    let app = spawn_app().await;
    let me = app.signed_in_as(Role::Client).await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    app.post_json(
        "/api/cart/items",
        &json!({"serviceTemplateId": logo.id, "quantity": 1}),
    )
    .await;
    let row = cart::Entity::find()
        .filter(cart::Column::ClientId.eq(me.client_id.unwrap()))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.expires_at > chrono::Utc::now() + chrono::Duration::days(29));
    let mut active: cart::ActiveModel = row.into();
    active.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    active.update(&app.db).await.unwrap();

    // Read as empty, and the read writes nothing.
    assert_eq!(cart_json(&app).await["count"], 0);
    assert_eq!(cart_item::Entity::find().count(&app.db).await.unwrap(), 1);

    // The next change starts a new cart: the expired line does not come back.
    let audit = fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "99", "USD", 3).await;
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": audit.id, "quantity": 2}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let cart = cart_json(&app).await;
    assert_eq!(cart["count"], 2, "{cart}");
    assert_eq!(cart_item::Entity::find().count(&app.db).await.unwrap(), 1);

    // Housekeeping deletes a cart left expired (and its lines).
    let row = cart::Entity::find().one(&app.db).await.unwrap().unwrap();
    let mut active: cart::ActiveModel = row.into();
    active.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    active.update(&app.db).await.unwrap();
    assert_eq!(agency_hub::cart::purge_expired(&app.db).await.unwrap(), 1);
    assert_eq!(cart_item::Entity::find().count(&app.db).await.unwrap(), 0);
}

#[tokio::test]
async fn with_the_store_disabled_its_pages_and_api_are_404_and_the_navigation_hides_it() {
    let app = spawn_app_with(&[("STORE_ENABLED", "false")]).await;
    app.signed_in_as(Role::Client).await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    for path in [
        "/store",
        "/store/cart",
        &format!("/store/{}", logo.id),
        "/api/store/services",
        "/api/cart",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": logo.id, "quantity": 1}),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert!(!app.page("/dashboard").await.contains("href=\"/store\""));
}

#[tokio::test]
async fn staff_cannot_use_the_store_and_clients_see_it_in_their_navigation() {
    let mut app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    assert_eq!(app.get("/store").await.status(), 403);
    assert_eq!(app.get("/api/cart").await.status(), 403);
    app.switch_browser(crate::harness::browser());
    app.signed_in_as(Role::Client).await;
    assert!(app.page("/dashboard").await.contains("href=\"/store\""));
}

/// `api::routes` registers every `/api` route with its description (utoipa-axum), so the
/// document is the router's own list: here, that each operation says how it fails and that
/// each documented path answers.
#[tokio::test]
async fn every_api_route_is_described_with_its_errors_and_every_described_path_is_routed() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();

    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            if path != "/api/openapi.json" && path != "/api/docs" {
                assert!(
                    responses.keys().any(|s| s.starts_with('4')),
                    "{method} {path} documents its errors"
                );
            }
        }
    }
    assert_eq!(operations, 75, "the API's operations, all described");

    // What the layers answer is in the document too (the fuzzing gate in .ci/run holds the
    // app to all of it): a write documents its body limit and its JSON, a route behind the
    // session its 401, and checkout the `{}` it takes.
    let op = |path: &str, method: &str| paths[path][method].clone();
    for (path, method) in [
        ("/api/store/checkout", "post"),
        ("/api/cart/items", "post"),
        ("/api/cart/items/{serviceTemplateId}", "patch"),
        ("/api/cart/items/{serviceTemplateId}/answers", "put"),
    ] {
        let responses = op(path, method)["responses"].clone();
        for code in ["400", "401", "403", "413", "415"] {
            assert!(
                responses[code].is_object(),
                "{method} {path} documents {code}: {responses}"
            );
        }
    }
    assert!(op("/api/store/checkout", "post")["requestBody"].is_object());
    assert!(op("/api/session", "post")["responses"]["429"].is_object());
    assert!(op("/api/me", "get")["responses"]["401"].is_object());
    assert!(op("/api/me", "get")["security"].is_array());
    assert!(op("/api/openapi.json", "get")["security"].is_null());
    // Each operation names the token scope it needs (and the token's 429).
    let refund = op("/api/orders/{id}/refund", "post");
    assert_eq!(
        refund["security"],
        json!([{"session": []}, {"token": ["orders:write"]}])
    );
    assert!(refund["responses"]["429"].is_object());
    assert_eq!(
        op("/api/orders", "get")["security"][1],
        json!({"token": ["orders:read"]})
    );

    // Every documented path is routed (not the fallback's 404).
    for path in paths.keys() {
        let concrete = path
            .replace("{id}", "1")
            .replace("{serviceTemplateId}", "1");
        let res = app.get(&concrete).await;
        let routed = res.status() != 404
            || !res
                .text()
                .await
                .unwrap()
                .contains("There is nothing at this address.");
        assert!(
            routed || path.contains('{'),
            "{path} is documented but not routed"
        );
    }
    let docs = app.page("/api/docs").await;
    assert!(
        docs.contains("/api/cart/items/{serviceTemplateId}")
            && docs.contains("Add a service to the cart")
    );
}

#[tokio::test]
async fn emptying_the_cart_asks_first_and_keeps_it_until_confirmed() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Client).await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let res = app
        .post_form(
            "/store/cart/items",
            &[("template_id", &logo.id.to_string()), ("quantity", "2")],
        )
        .await;
    assert_eq!(res.status(), 303);

    let res = app.post_form("/store/cart/clear", &[]).await;
    assert_eq!(res.status(), 200, "asked, not done");
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Empty the cart? The 2 services in it are removed"),
        "{page}"
    );
    assert!(page.contains(r#"<input type="hidden" name="confirm" value="yes">"#));
    assert_eq!(cart_json(&app).await["count"], 2, "nothing removed yet");

    let res = app
        .post_form("/store/cart/clear", &[("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(cart_json(&app).await["count"], 0);
    assert!(
        app.page("/store/cart")
            .await
            .contains("Your cart is empty.")
    );
}

#[tokio::test]
async fn a_store_page_read_again_runs_no_statement_and_its_unread_badge_follows_writes_at_once() {
    use agency_hub::db::entities::notification::NoticeKind;
    use agency_hub::notify::inapp::{self, Notice};
    use std::sync::atomic::Ordering;
    let app = spawn_app_without_background_work().await;
    let me = app.signed_in_as(Role::Client).await;
    fixtures::for_sale(&app.db, "Logo Design", "Design", "10", "USD", 1).await;
    app.state.store.changed().await;
    let page = app.page("/store").await;
    assert!(!page.contains("unread\""), "no badge yet");
    let before = app.queries.load(Ordering::SeqCst);
    let again = app.page("/store").await;
    assert_eq!(
        app.queries.load(Ordering::SeqCst) - before,
        0,
        "the second view reads nothing: catalogue, cart, unread counts are kept"
    );
    assert!(again.contains("Logo Design"));

    // A notification written: the very next page counts it.
    let notice = Notice {
        kind: NoticeKind::OrderPaid,
        service_id: None,
        message_id: None,
        title: "Paid".into(),
        body: String::new(),
        client_link: "/store/orders".into(),
        staff_link: "/orders".into(),
    };
    inapp::send_many(&app.db, [(&notice, me.id, false), (&notice, me.id, false)])
        .await
        .unwrap();
    let page = app.page("/store").await;
    assert!(page.contains(r#"<span class="nav-badge">2</span><span class="visually-hidden badge-words"> unread</span>"#), "{page}");
    // Read: the next page has no badge.
    let res = app.post_form("/notifications/read-all", &[]).await;
    assert_eq!(res.status(), 303);
    let page = app.page("/store").await;
    assert!(!page.contains("unread\""), "read: no badge");
}

#[tokio::test]
async fn the_store_list_runs_two_catalog_queries_whatever_its_size_and_uses_an_index() {
    let app = spawn_app_without_background_work().await;
    app.signed_in_as(Role::Client).await;
    for i in 0..3 {
        fixtures::for_sale(&app.db, &format!("Job {i}"), "Design", "10", "USD", 1).await;
    }
    app.state.store.changed().await;
    let few = (
        app.queries_for("/store").await,
        app.queries_for("/api/store/services").await,
    );
    for i in 3..40 {
        fixtures::for_sale(&app.db, &format!("Job {i}"), "Design", "10", "USD", 1).await;
    }
    app.state.store.changed().await;
    let many = (
        app.queries_for("/store").await,
        app.queries_for("/api/store/services").await,
    );
    assert_eq!(few, many);

    use sea_orm::{QueryFilter as _, QueryOrder as _, QueryTrait as _};
    let backend = app.db.get_database_backend();
    let sql = service_template::Entity::find()
        .filter(service_template::Column::IsPurchasable.eq(true))
        .filter(service_template::Column::ArchivedAt.is_null())
        .order_by_asc(service_template::Column::SortOrder)
        .order_by_asc(service_template::Column::StoreTitle)
        .build(backend)
        .to_string();
    let plan: Vec<String> = if backend == sea_orm::DbBackend::Sqlite {
        app.db
            .query_all_raw(sea_orm::Statement::from_string(
                backend,
                format!("EXPLAIN QUERY PLAN {sql}"),
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String>("", "detail").unwrap())
            .collect()
    } else {
        let txn = app.db.write().await.unwrap();
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await
            .unwrap();
        let rows = txn
            .query_all_raw(sea_orm::Statement::from_string(
                backend,
                format!("EXPLAIN {sql}"),
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.try_get::<String>("", "QUERY PLAN").unwrap())
            .collect()
    };
    let plan = plan.join("\n");
    assert!(
        plan.contains("idx_service_templates_is_purchasable_sort_order_store_title"),
        "{plan}"
    );
}

/// The store's pages and services come from memory while the catalogue is unchanged; any
/// change to a template, even one written straight to the shared database by another
/// instance, shows on the next read.
#[tokio::test]
async fn the_store_is_served_from_memory_until_any_template_changes() {
    let app = spawn_app_without_background_work().await;
    app.signed_in_as(Role::Client).await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    // Seen now, as this instance's own change would be: the version check cannot drop what
    // the first reads below keep.
    app.state.store.changed().await;
    let detail = format!("/api/store/services/{}", logo.id);
    for path in ["/api/store/services", "/store", detail.as_str()] {
        let first = app.queries_for(path).await;
        let again = app.queries_for(path).await;
        assert!(again < first, "{path}: {first} then {again} queries");
    }

    // Another instance changes the price, then takes the service off sale.
    let other = agency_hub::db::connect(
        &agency_hub::config::DatabaseUrl::parse(&app.database_url()).unwrap(),
    )
    .await
    .unwrap();
    let change = async |set: &str| {
        let sql = format!(
            "UPDATE service_templates SET {set} WHERE id = {}",
            logo.id.get()
        );
        other.execute_unprepared(&sql).await.unwrap();
        tokio::time::Instant::now()
    };
    let changed = change("price_minor = 55500").await;
    // Within a second (the cache's check of the version), everything shows the new price.
    loop {
        let list: Value = app.get("/api/store/services").await.json().await.unwrap();
        if list["data"][0]["price"]["amountMinor"] == 55_500 {
            break;
        }
        assert_eq!(list["data"][0]["price"]["amountMinor"], 49_900, "{list}");
        assert!(changed.elapsed() < Duration::from_secs(1), "still {list}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let one: Value = app.get(&detail).await.json().await.unwrap();
    assert_eq!(one["price"]["amountMinor"], 55_500, "{one}");
    assert!(app.page("/store").await.contains("$555.00"));
    let changed = change("is_purchasable = false").await;
    while app.get(&detail).await.status() == 200 {
        assert!(changed.elapsed() < Duration::from_secs(1), "still on sale");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.get(&detail).await.status(), 404);
    let list: Value = app.get("/api/store/services").await.json().await.unwrap();
    assert_eq!(list["pagination"]["totalItems"], 0, "{list}");

    // This instance's own change shows at the next request: an admin here archives it.
    let changed = change("is_purchasable = true").await;
    while app.get(&detail).await.status() == 404 {
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "not back on sale"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut app = app;
    let client = app.switch_browser(crate::harness::browser());
    app.signed_in_as(Role::Admin).await;
    let res = app
        .post_form(
            &format!("/admin/templates/{}/archive", logo.id.get()),
            &[("archived", "true")],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.switch_browser(client);
    assert_eq!(app.get(&detail).await.status(), 404);
}

/// A page view writes nothing: the session is saved only when it changes (a flash shown, a
/// sign-in), so its expiry, which a save moves, stays as it was.
#[tokio::test]
async fn viewing_pages_does_not_write_the_session() {
    let app = spawn_app_without_background_work().await;
    app.signed_in_as(Role::Client).await;
    let expiry = || async {
        agency_hub::db::entities::session::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .expires_at
    };
    app.page("/store").await;
    let before = expiry().await;
    for path in ["/store", "/dashboard", "/my/services", "/store/orders"] {
        app.page(path).await;
    }
    assert_eq!(expiry().await, before, "a page view saved the session");
}

/// A session in use still lasts two weeks from its last use: a read moves an expiry that has
/// grown a day old forward (one write a day, not one a view).
#[tokio::test]
async fn a_session_in_use_has_its_expiry_moved_forward_once_a_day() {
    let app = spawn_app_without_background_work().await;
    app.signed_in_as(Role::Client).await;
    let soon = chrono::Utc::now() + chrono::Duration::days(2);
    agency_hub::db::entities::session::Entity::update_many()
        .col_expr(
            agency_hub::db::entities::session::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(soon),
        )
        .exec(&app.db)
        .await
        .unwrap();
    agency_hub::auth::session_store::forget_all();
    app.page("/store").await;
    let row = agency_hub::db::entities::session::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        row.expires_at > chrono::Utc::now() + chrono::Duration::days(13),
        "{}",
        row.expires_at
    );
}
