//! Reviews: only a company whose service is done reviews it; every review waits for the staff,
//! who approve, hide and reply; the store shows the approved ones' average on the card and the
//! reviews, ordered, on the service's page.

use agency_hub::db::entities::review::{self, ReviewStatus};
use agency_hub::db::entities::service::{self, ServiceStatus};
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{service_template, store_event};
use agency_hub::ids::ServiceId;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fixtures;
use crate::harness::{PASSWORD, TestApp, browser, spawn_app};

async fn finish(app: &TestApp, id: ServiceId) {
    service::Entity::update_many()
        .col_expr(service::Column::Status, Expr::value(ServiceStatus::Done))
        .filter(service::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .unwrap();
}

async fn put_review(app: &TestApp, template: i64, body: Value) -> reqwest::Response {
    app.api(
        reqwest::Method::PUT,
        &format!("/api/store/services/{template}/review"),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

async fn the_review_of(app: &TestApp, company: &str) -> review::Model {
    let c = fixtures::company(&app.db, company).await;
    review::Entity::find()
        .filter(review::Column::ClientId.eq(c.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

/// Staff decide on a review from the moderation page.
async fn decide(app: &TestApp, id: i64, decision: &str) {
    let res = app
        .post_form(
            &format!("/admin/reviews/{id}/decide"),
            &[("decision", decision), ("back", "pending")],
        )
        .await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn reviews_are_verified_held_approved_replied_hidden_and_averaged() {
    let mut app = spawn_app().await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let globex = fixtures::company(&app.db, "Globex Inc").await;
    let acme_logo = fixtures::service(&app.db, &logo, &acme).await;
    let globex_logo = fixtures::service(&app.db, &logo, &globex).await;
    app.signed_in_as(Role::Client).await;

    // Not done yet: no review, by the page or the API.
    let page = app.page(&format!("/my/services/{}", acme_logo.id)).await;
    assert!(!page.contains("How did it go?"));
    let res = put_review(&app, logo.id.get(), json!({"rating": 4, "body": "Good."})).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Only a client whose service of this kind is done can review it."
    );

    finish(&app, acme_logo.id).await;
    let path = format!("/my/services/{}/review", acme_logo.id);
    let page = app.page(&format!("/my/services/{}", acme_logo.id)).await;
    assert!(page.contains("How did it go?"), "{page}");
    let res = app
        .post_form(&path, &[("rating", "9"), ("body", " ")])
        .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("Choose from 1 to 5 stars."), "{page}");
    assert!(
        page.contains("Say a few words about the service."),
        "{page}"
    );
    let res = app
        .post_form(
            &path,
            &[("rating", "4"), ("body", "Three strong concepts, fast.")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app.page(&format!("/my/services/{}", acme_logo.id)).await;
    assert!(page.contains("Waiting for approval"), "{page}");

    // Held: nothing in the store yet.
    let show = app.page(&format!("/store/{}", logo.id)).await;
    assert!(show.contains("No reviews yet."), "{show}");
    assert!(!show.contains("Three strong concepts"));

    // Globex, done too, writes a poor one through the API.
    finish(&app, globex_logo.id).await;
    let acme_browser = app.switch_browser(browser());
    app.create_user(Role::Client, "gus@globex.example", Some("Globex Inc"))
        .await;
    assert_eq!(
        app.sign_in("gus@globex.example", PASSWORD).await.status(),
        303
    );
    let res = put_review(
        &app,
        logo.id.get(),
        json!({"rating": 2, "body": "Slow to start."}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let mine: Value = res.json().await.unwrap();
    assert_eq!(mine["status"], "pending");
    let globex_browser = app.switch_browser(browser());

    // The staff approve both and answer Globex in public.
    app.signed_in_as(Role::Manager).await;
    let queue = app.page("/admin/reviews").await;
    assert!(
        queue.contains("Three strong concepts, fast.") && queue.contains("Slow to start."),
        "{queue}"
    );
    let acme_review = the_review_of(&app, "Acme Corp").await;
    let globex_review = the_review_of(&app, "Globex Inc").await;
    decide(&app, acme_review.id, "approve").await;
    decide(&app, globex_review.id, "approve").await;
    let res = app
        .post_form(
            &format!("/admin/reviews/{}/reply", globex_review.id),
            &[
                ("reply", "Sorry for the wait: we have hired since."),
                ("back", "approved"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);

    // The store: the average on the card, the reviews ordered on the page.
    let staff_browser = app.switch_browser(acme_browser);
    let store = app.page("/store").await;
    assert!(store.contains("★ 3.0 (2 reviews)"), "{store}");
    let lowest = app
        .page(&format!("/store/{}?reviews=lowest", logo.id))
        .await;
    let (slow, strong) = (
        lowest.find("Slow to start.").unwrap(),
        lowest.find("Three strong concepts").unwrap(),
    );
    assert!(slow < strong, "the lowest first");
    assert!(lowest.contains("Sorry for the wait: we have hired since."));
    assert!(lowest.contains("Globex Inc"));
    let highest: Value = app
        .get(&format!(
            "/api/store/services/{}/reviews?order=highest",
            logo.id
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(highest[0]["company"], "Acme Corp");
    assert_eq!(
        highest[1]["reply"],
        "Sorry for the wait: we have hired since."
    );
    let bad = app
        .get(&format!(
            "/api/store/services/{}/reviews?order=best",
            logo.id
        ))
        .await;
    assert_eq!(bad.status(), 400);

    // Hidden: out of the average and the page.
    app.switch_browser(staff_browser);
    decide(&app, acme_review.id, "hide").await;
    let t = service_template::Entity::find_by_id(logo.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((t.review_count, t.rating_sum), (1, 2));
    let staff_browser = app.switch_browser(globex_browser);
    let show = app.page(&format!("/store/{}", logo.id)).await;
    assert!(show.contains("★ 2.0 (1 review)"), "{show}");
    assert!(!show.contains("Three strong concepts"), "{show}");

    // Globex changes its review: it waits again and leaves the average meanwhile.
    let res = put_review(
        &app,
        logo.id.get(),
        json!({"rating": 5, "body": "Worth the wait."}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let changed = the_review_of(&app, "Globex Inc").await;
    assert_eq!((changed.status, changed.rating), (ReviewStatus::Pending, 5));
    let t = service_template::Entity::find_by_id(logo.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((t.review_count, t.rating_sum), (0, 0));
    let store = app.page("/store").await;
    assert!(
        !store.contains("data-rating"),
        "no average without an approved review"
    );

    app.switch_browser(staff_browser);
    let hidden = app.page("/admin/reviews?status=hidden").await;
    assert!(hidden.contains("Three strong concepts"), "{hidden}");
    let written = store_event::Entity::find()
        .filter(store_event::Column::Kind.eq("reviewed"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(written.len(), 3);
}
