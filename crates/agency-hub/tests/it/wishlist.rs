//! Saved services: a company's wishlist, shared by its people, saved from the store, the API and
//! the cart, with a price drop flagged; never another company's; the staff see the most saved.

use agency_hub::db::entities::service_template;
use agency_hub::db::entities::user::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fixtures;
use crate::harness::{PASSWORD, browser, spawn_app};

/// `PUT` through the API (a write says it is JSON, even without a body).
async fn put(app: &crate::harness::TestApp, path: &str) -> reqwest::StatusCode {
    app.api(reqwest::Method::PUT, path)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_company_saves_services_for_later_and_sees_a_price_drop() {
    let mut app = spawn_app().await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let seo = fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 5).await;
    let site = fixtures::for_sale(&app.db, "Landing Page", "Web", "900", "USD", 1).await;
    app.signed_in_as(Role::Client).await;

    // From a card: back to the same page of the store, marked saved.
    let res = app
        .post_form(
            "/store/saved",
            &[
                ("template_id", &logo.id.to_string()),
                ("back", "/store?q=logo"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/store?q=logo");
    let store = app.page("/store").await;
    assert!(store.contains("Logo Design is saved for later."), "{store}");
    assert!(
        store.contains("aria-label=\"Logo Design is saved: remove it from saved services\""),
        "{store}"
    );
    assert!(store.contains("aria-label=\"Save SEO Audit for later\""));

    // From the API: 201, then 200 for the same again, nothing doubled.
    let path = format!("/api/saved/{}", seo.id);
    assert_eq!(put(&app, &path).await, 201);
    assert_eq!(put(&app, &path).await, 200);
    let missing = app
        .api(reqwest::Method::PUT, "/api/saved/999999")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // From the cart: the line leaves the cart and joins the list.
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": site.id, "quantity": 1}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let cart = app.page("/store/cart").await;
    assert!(cart.contains("Move to saved: Landing Page"), "{cart}");
    let res = app
        .post_form(&format!("/store/cart/items/{}/save", site.id), &[])
        .await;
    assert_eq!(res.status(), 303);
    let cart: Value = app.get("/api/cart").await.json().await.unwrap();
    assert_eq!(cart["count"], 0);

    // The price of the logo drops: the list says so.
    service_template::Entity::update_many()
        .col_expr(service_template::Column::PriceMinor, Expr::value(39_900))
        .filter(service_template::Column::Id.eq(logo.id))
        .exec(&app.db)
        .await
        .unwrap();
    let saved: Value = app.get("/api/saved").await.json().await.unwrap();
    let titles: Vec<&str> = saved
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 3);
    let logo_row = saved
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "Logo Design")
        .unwrap();
    assert_eq!(logo_row["priceDropped"], true);
    assert_eq!(logo_row["priceThen"]["amountMinor"], 49_900);
    assert_eq!(logo_row["priceNow"]["amountMinor"], 39_900);
    let page = app.page("/store/saved").await;
    assert!(
        page.contains("Price dropped: was $499.00, now $399.00"),
        "{page}"
    );
    assert_eq!(page.matches("data-price-drop").count(), 1);

    // A colleague at the same company sees the same list, with who saved what.
    let me = app.switch_browser(browser());
    app.create_user(Role::Client, "pat@acme.example", Some("Acme Corp"))
        .await;
    assert_eq!(
        app.sign_in("pat@acme.example", PASSWORD).await.status(),
        303
    );
    let page = app.page("/store/saved").await;
    assert_eq!(page.matches("class=\"card saved-item\"").count(), 3);
    assert!(page.contains("Saved by"), "{page}");

    // Another company sees none of it and can't take it off.
    app.switch_browser(browser());
    app.create_user(Role::Client, "gus@globex.example", Some("Globex Inc"))
        .await;
    assert_eq!(
        app.sign_in("gus@globex.example", PASSWORD).await.status(),
        303
    );
    let page = app.page("/store/saved").await;
    assert!(page.contains("Nothing saved yet."), "{page}");
    let res = app
        .api(reqwest::Method::DELETE, &format!("/api/saved/{}", logo.id))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // Globex saves the logo too: two companies.
    let path = format!("/api/saved/{}", logo.id);
    assert_eq!(put(&app, &path).await, 201);

    // Taking one off, back at Acme.
    app.switch_browser(me);
    let res = app
        .post_form(
            &format!("/store/saved/{}/remove", seo.id),
            &[("back", "/store/saved")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let saved: Value = app.get("/api/saved").await.json().await.unwrap();
    assert_eq!(saved.as_array().unwrap().len(), 2);

    // The staff see the most saved; each save is an event.
    app.switch_browser(browser());
    app.signed_in_as(Role::Admin).await;
    let metrics = app.page("/admin/metrics").await;
    let most = &metrics[metrics.find("Most saved for later").unwrap()..];
    assert!(
        most.contains("Logo Design</a></td><td class=\"num\">2</td>"),
        "{most}"
    );
    let saves = agency_hub::db::entities::store_event::Entity::find()
        .filter(agency_hub::db::entities::store_event::Column::Kind.eq("saved"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(saves.len(), 4, "Acme's three and Globex's one");
}
