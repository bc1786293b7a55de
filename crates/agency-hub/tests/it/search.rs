//! The store's search on the demo catalogue: stems, typos, prefixes and the agency's synonyms,
//! ranked by relevance and then the chosen sort, the same on both databases, in the page and
//! the API; a change of synonyms or of the catalogue shows at once.

use agency_hub::db::entities::service_template;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::harness::{TestApp, spawn_app};

async fn demo_store() -> TestApp {
    let app = spawn_app().await;
    assert!(agency_hub::seed::seed_demo(&app.db).await.unwrap());
    assert_eq!(
        app.sign_in("client@acme.example", "demo1234")
            .await
            .status(),
        303
    );
    app
}

/// The titles `q` finds through the API, in order.
async fn found(app: &TestApp, q: &str) -> Vec<String> {
    titles(&search(app, &[("q", q)]).await)
}

async fn search(app: &TestApp, params: &[(&str, &str)]) -> Value {
    let path = format!(
        "/api/store/services?{}",
        serde_urlencoded::to_string(params).unwrap()
    );
    let res = app.get(&path).await;
    assert_eq!(res.status(), 200, "{params:?}");
    res.json().await.unwrap()
}

fn titles(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_demo_store_finds_by_stem_typo_prefix_and_synonym() {
    let mut app = demo_store().await;
    // A plural finds the singular; the title's match first, then the descriptions' by the
    // agency's order.
    assert_eq!(
        found(&app, "logos").await,
        ["Logo Design", "Brand Identity Package", "Launch Kit"]
    );
    // One swapped pair of letters is forgiven.
    assert_eq!(
        found(&app, "webiste").await,
        [
            "Website Maintenance",
            "Website Design Mockups",
            "WordPress Website"
        ]
    );
    assert_eq!(
        found(&app, "landing").await,
        ["Landing Page Build", "Launch Kit"]
    );
    // While typing: the last word is a prefix.
    assert_eq!(
        found(&app, "land").await,
        ["Landing Page Build", "Launch Kit"]
    );
    // A step the client will see ("Moodboard") finds its service.
    assert_eq!(found(&app, "moodboard").await, ["Brand Identity Package"]);
    // Without synonyms "web site" is two words no service has together.
    assert!(found(&app, "web site ").await.is_empty());

    // The admin says they are the same; the store knows at once.
    let client = app.switch_browser(crate::harness::browser());
    assert_eq!(
        app.sign_in("admin@example.com", "demo1234").await.status(),
        303
    );
    let res = app
        .post_multipart(
            "/admin/settings",
            &[
                ("legal_name", "Demo Agency"),
                ("default_currency", "USD"),
                ("search_synonyms", "website"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 400, "one word alone is no synonym");
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Line 1: write two or more words or phrases that mean the same")
    );
    let res = app
        .post_multipart(
            "/admin/settings",
            &[
                ("legal_name", "Demo Agency"),
                ("default_currency", "USD"),
                ("search_synonyms", "website = web site = landing page"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.switch_browser(client);
    assert_eq!(
        found(&app, "web site").await,
        [
            "Landing Page Build",
            "Website Maintenance",
            "Website Design Mockups",
            "WordPress Website",
            "Launch Kit"
        ],
        "each phrase weighs as one word: the titles' matches by the agency's order, then the description's"
    );

    // Relevance first, then the chosen sort: the titles' matches by price, high to low.
    let body = search(&app, &[("q", "website"), ("sort", "price_desc")]).await;
    assert_eq!(
        titles(&body),
        [
            "WordPress Website",
            "Website Design Mockups",
            "Landing Page Build",
            "Website Maintenance",
            "Launch Kit"
        ]
    );
    assert_eq!(
        body["data"][0]["highlight"]["title"],
        "WordPress <mark>Website</mark>"
    );

    // The page marks the matches, in the category asked for.
    let page = app.page("/store?q=logos&category=Design").await;
    assert!(page.contains("<mark>Logo</mark> Design"), "{page}");
    assert!(page.contains("3 services"), "{page}");

    // A service renamed is found by its new name at once.
    service_template::Entity::update_many()
        .col_expr(
            service_template::Column::StoreTitle,
            sea_orm::sea_query::Expr::value("Search Engine Audit"),
        )
        .filter(service_template::Column::Name.eq("SEO Audit"))
        .exec(&app.db)
        .await
        .unwrap();
    let mut renamed = Vec::new();
    for _ in 0..40 {
        renamed = found(&app, "engine").await;
        if !renamed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(renamed, ["Search Engine Audit"]);
}
