//! Recurring services (issue 16): a template's billing choice, its period tasks, its recurring
//! Stripe Price, and what the store says it costs today and then each period.

use agency_hub::db::entities::service_template;
use agency_hub::db::entities::user::Role;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::checkout::template_when;
use crate::harness::{TestApp, spawn_app};
use crate::purchase::emulator_get;

/// A monthly maintenance retainer's form: $149.00 every `every` months, a $50.00 setup fee,
/// a kick-off task made once and a report made each period.
fn retainer_form(every: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("name", "Website Maintenance"),
        ("category", "Web"),
        ("purchasable", "on"),
        ("price", "149.00"),
        ("currency", "USD"),
        ("billing", "recurring"),
        ("interval", "month"),
        ("interval_count", every),
        ("trial_days", "0"),
        ("setup_fee", "50"),
        ("task-0-name", "Kick-off call"),
        ("task-0-visible", "on"),
        ("task-1-name", "Monthly report"),
        ("task-1-due", "25"),
        ("task-1-visible", "on"),
        ("task-1-period", "on"),
        ("intent", "save"),
    ]
}

async fn template_count(app: &TestApp) -> u64 {
    service_template::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_recurring_template_gets_a_recurring_price_and_the_store_states_its_terms() {
    let mut app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;

    // A mistake in the billing fields saves nothing and names the field.
    let mut bad = retainer_form("13");
    bad.retain(|(k, _)| *k != "task-1-period");
    bad.push(("task-1-period", "on"));
    let res = app.post_form("/admin/templates", &bad).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("from 1 to 12"));
    assert_eq!(template_count(&app).await, 0);

    let res = app.post_form("/admin/templates", &retainer_form("1")).await;
    assert_eq!(res.status(), 303);
    let id = service_template::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let synced = template_when(&app, id, "synced").await;
    let first_price = synced.stripe_price_id.clone().unwrap();
    let price = emulator_get(&app, &format!("/v1/prices/{first_price}")).await;
    assert_eq!(price["unit_amount"], 14_900);
    assert_eq!(price["type"], "recurring");
    assert_eq!(price["recurring"]["interval"], "month");
    assert_eq!(price["recurring"]["interval_count"], 1);
    // The form shows the terms again as saved.
    let form = app.page(&format!("/admin/templates/{id}")).await;
    assert!(form.contains(r#"value="recurring" checked"#), "{form}");
    assert!(form.contains(r#"name="setup_fee" value="50.00""#), "{form}");

    // Every 3 months instead: a new Price with the new period; the old one is archived.
    let res = app
        .post_form(&format!("/admin/templates/{id}"), &retainer_form("3"))
        .await;
    assert_eq!(res.status(), 303);
    let mut synced = template_when(&app, id, "synced").await;
    for _ in 0..100 {
        if synced.stripe_price_id.as_deref() != Some(first_price.as_str()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        synced = template_when(&app, id, "synced").await;
    }
    let price = emulator_get(
        &app,
        &format!("/v1/prices/{}", synced.stripe_price_id.unwrap()),
    )
    .await;
    assert_eq!(price["recurring"]["interval_count"], 3);
    assert_eq!(synced.stripe_price_interval_count, Some(3));
    assert_eq!(
        emulator_get(&app, &format!("/v1/prices/{first_price}")).await["active"],
        false
    );

    // The store says what is charged today and what recurs; the period task says when.
    app.switch_browser(crate::harness::browser());
    app.signed_in_as(Role::Client).await;
    let page = app.page(&format!("/store/{id}")).await;
    assert!(page.contains("$149.00 / 3 months"), "{page}");
    assert!(
        page.contains("$199.00 today (includes a $50.00 setup fee), then $149.00 every 3 months"),
        "{page}"
    );
    assert!(page.contains("every 3 months</span>"), "{page}");
    assert!(app.page("/store").await.contains("$149.00 / 3 months"));

    // Not sold through the cart yet: refused with the reason, the cart unchanged.
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": id, "quantity": 1}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body.to_string().contains("billed every 3 months"), "{body}");
    let cart: serde_json::Value = app.get("/api/cart").await.json().await.unwrap();
    assert_eq!(cart["items"].as_array().map_or(0, Vec::len), 0, "{cart}");
}

#[tokio::test]
async fn a_manual_service_of_a_recurring_template_starts_with_its_once_tasks_only() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    let res = app.post_form("/admin/templates", &retainer_form("1")).await;
    assert_eq!(res.status(), 303);
    let template = service_template::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(template.tasks().iter().filter(|t| t.each_period).count(), 1);
    let client = crate::fixtures::company(&app.db, "Acme").await;
    let service = crate::fixtures::service(&app.db, &template, &client).await;
    let tasks =
        agency_hub::services::tasks(&app.db, service.id, agency_hub::services::Audience::Staff)
            .await
            .unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Kick-off call"]);
}
