//! Bundles: made on the template form from other services, sold below their parts' worth,
//! provisioned as a service for each unit of each part, refunded part by part, and guarded
//! when one of their parts is archived.

use agency_hub::catalog::When;
use agency_hub::db::entities::order::OrderStatus;
use agency_hub::db::entities::service::ServiceStatus;
use agency_hub::db::entities::task::TaskStatus;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{service_template, task};
use agency_hub::ids::TemplateId;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fixtures;
use crate::harness::{TestApp, browser, spawn_app};
use crate::orders::services_of;
use crate::purchase::{pay, start_checkout, wait_for_order};

/// Posts the template form as an admin would; returns the response.
async fn save_template(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.post_form(path, fields).await
}

/// The form's fields for a bundle on sale at `price` made of `parts` (template, quantity).
fn bundle_fields<'a>(
    name: &'a str,
    price: &'a str,
    parts: &'a [(String, &'a str)],
) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = [
        ("name", name),
        ("category", "Bundles"),
        ("purchasable", "on"),
        ("price", price),
        ("currency", "USD"),
        ("max_quantity", "2"),
        ("sort_order", "0"),
        ("billing", "one_time"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (i, (template, quantity)) in parts.iter().enumerate() {
        fields.push((format!("part-{i}-template"), template.clone()));
        fields.push((format!("part-{i}-quantity"), quantity.to_string()));
    }
    fields
}

async fn post_bundle(app: &TestApp, path: &str, fields: &[(String, String)]) -> (u16, String) {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = save_template(app, path, &pairs).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn template_named(app: &TestApp, name: &str) -> service_template::Model {
    service_template::Entity::find()
        .filter(service_template::Column::Name.eq(name))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_bundle_sells_below_its_parts_starts_each_of_them_and_refunds_them_one_by_one() {
    let mut app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    // Logo Design asks a required question before payment; in a bundle it is asked after.
    let res = save_template(
        &app,
        "/admin/templates",
        &[
            ("name", "Logo Design"),
            ("category", "Design"),
            ("purchasable", "on"),
            ("price", "499"),
            ("currency", "USD"),
            ("max_quantity", "3"),
            ("sort_order", "1"),
            ("billing", "one_time"),
            ("task-0-name", "Sketches"),
            ("task-0-visible", "on"),
            ("question-0-label", "Your company's name"),
            ("question-0-kind", "short_text"),
            ("question-0-required", "on"),
            ("question-0-when", "before_payment"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let logo = template_named(&app, "Logo Design").await;
    let seo = fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 5).await;
    let retainer = fixtures::retainer(&app.db, "Care Plan", "149", 0).await;

    // A recurring service can't be a part; nothing is saved.
    let refused = bundle_fields(
        "Brand Starter",
        "1000",
        &[(logo.id.to_string(), "1"), (retainer.id.to_string(), "1")],
    );
    let (status, page) = post_bundle(&app, "/admin/templates", &refused).await;
    assert_eq!(status, 400);
    assert!(
        page.contains("Care Plan is recurring: a bundle holds one-time services only."),
        "{page}"
    );
    assert!(
        service_template::Entity::find()
            .filter(service_template::Column::Name.eq("Brand Starter"))
            .one(&app.db)
            .await
            .unwrap()
            .is_none()
    );

    let fields = bundle_fields(
        "Brand Starter",
        "1000",
        &[(logo.id.to_string(), "1"), (seo.id.to_string(), "2")],
    );
    let (status, page) = post_bundle(&app, "/admin/templates", &fields).await;
    assert_eq!(status, 303, "{page}");
    let bundle = template_named(&app, "Brand Starter").await;
    let list = app.page("/admin/templates").await;
    assert!(list.contains("Bundle of 3"), "{list}");
    let form = app.page(&format!("/admin/templates/{}", bundle.id)).await;
    assert!(
        form.contains(&format!(
            r#"<option value="{}" selected>SEO Audit</option>"#,
            seo.id
        )),
        "the form shows the parts chosen: {form}"
    );

    // A bundle can't hold another bundle.
    let nested = bundle_fields("Mega Pack", "2000", &[(bundle.id.to_string(), "1")]);
    let (status, page) = post_bundle(&app, "/admin/templates", &nested).await;
    assert_eq!(status, 400);
    assert!(
        page.contains("Brand Starter is a bundle: add its services instead."),
        "{page}"
    );

    // The client sees it against its parts' worth: $499 + 2 × $350 = $1,199.
    let admin_browser = app.switch_browser(browser());
    app.signed_in_as(Role::Client).await;
    let store = app.page("/store").await;
    assert!(
        store.contains("Worth $1,199.00 separately: save $199.00"),
        "{store}"
    );
    assert!(
        store.contains("Bundle of 3 services: Logo Design, SEO Audit × 2"),
        "{store}"
    );
    let show = app.page(&format!("/store/{}", bundle.id)).await;
    assert!(show.contains("In this bundle"), "{show}");
    assert!(show.contains("$350.00 each on its own"), "{show}");
    let detail: Value = app
        .get(&format!("/api/store/services/{}", bundle.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["worth"]["amountMinor"], 119_900);
    assert_eq!(detail["parts"][1]["title"], "SEO Audit");
    assert_eq!(detail["parts"][1]["quantity"], 2);

    // Two bundles: a service for each unit of each part, all on the bundle's line.
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": bundle.id, "quantity": 2}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let cart: Value = app.get("/api/cart").await.json().await.unwrap();
    assert_eq!(
        cart["canCheckout"], true,
        "a bundle asks nothing in the cart"
    );
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242424242424242").await.status(), 303);
    let order = wait_for_order(&app, order_id, OrderStatus::Completed).await;
    assert_eq!(order.subtotal_minor, 200_000);
    let services = services_of(&app, order_id).await;
    let named = |name: &str| services.iter().filter(|s| s.name == name).count();
    assert_eq!(
        (services.len(), named("Logo Design"), named("SEO Audit")),
        (6, 2, 4)
    );
    let mut units: Vec<i32> = services.iter().filter_map(|s| s.unit).collect();
    units.sort();
    assert_eq!(units, [1, 2, 3, 4, 5, 6]);
    assert!(
        services
            .iter()
            .all(|s| s.order_item_id == services[0].order_item_id)
    );
    let logos: Vec<_> = services
        .iter()
        .filter(|s| s.name == "Logo Design")
        .collect();
    for s in &logos {
        assert_eq!(s.template_id, logo.id);
        let intake = s.intake();
        let missing = intake.missing(When::AfterPayment);
        assert_eq!(
            missing.iter().map(|q| q.label.as_str()).collect::<Vec<_>>(),
            ["Your company's name"],
            "the part's question is asked on its service"
        );
    }
    let sketches = task::Entity::find()
        .filter(task::Column::ServiceId.is_in(logos.iter().map(|s| s.id)))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(sketches.len(), 2, "each part brings its own tasks");

    // Work on one logo has started: a full refund cancels the five others and flags it.
    task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(TaskStatus::InProgress))
        .filter(task::Column::ServiceId.eq(logos[0].id))
        .exec(&app.db)
        .await
        .unwrap();
    app.switch_browser(admin_browser);
    let res = app
        .post_form(
            &format!("/admin/orders/{order_id}/refund"),
            &[
                ("amount", "2000"),
                ("reason", "requested_by_customer"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let after = services_of(&app, order_id).await;
    let started = after.iter().find(|s| s.id == logos[0].id).unwrap();
    assert_eq!(started.status, ServiceStatus::ToDo);
    assert!(
        started.review_reason.is_some(),
        "started work is left to a manager"
    );
    assert_eq!(
        after
            .iter()
            .filter(|s| s.status == ServiceStatus::Cancelled)
            .count(),
        5
    );

    // Staff assign a bundle's services one by one, not the bundle.
    let res = app
        .post_form(
            "/services",
            &[
                ("client_id", &order.client_id.to_string()),
                ("template_id", &bundle.id.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Brand Starter is a bundle: assign its services one by one.")
    );
    let form = app.page("/services/new").await;
    assert!(!form.contains("Brand Starter"), "{form}");

    a_part_is_archived_only_after_a_warning_naming_its_bundle(&app, seo.id, bundle.id).await;
}

async fn a_part_is_archived_only_after_a_warning_naming_its_bundle(
    app: &TestApp,
    part: TemplateId,
    bundle: TemplateId,
) {
    let path = format!("/admin/templates/{part}/archive");
    let res = app.post_form(&path, &[("archived", "true")]).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("SEO Audit is part of a bundle:"), "{page}");
    assert!(page.contains("Brand Starter"), "{page}");
    assert!(page.contains("Archive anyway"), "{page}");
    let archived = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            service_template::Entity::find_by_id(part)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .archived_at
                .is_some()
        }
    };
    assert!(
        !archived(app).await,
        "nothing archived before the admin confirms"
    );

    let res = app
        .post_form(&path, &[("archived", "true"), ("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 303);
    assert!(archived(app).await);
    // The bundle still holds it, and its form still shows it.
    let form = app.page(&format!("/admin/templates/{bundle}")).await;
    assert!(
        form.contains(&format!(
            r#"<option value="{part}" selected>SEO Audit (archived)</option>"#
        )),
        "{form}"
    );
}

#[tokio::test]
async fn a_bundle_of_three_templates_makes_three_services() {
    let app = spawn_app().await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let page = fixtures::for_sale(&app.db, "Landing Page", "Web", "900", "USD", 3).await;
    let social = fixtures::for_sale(&app.db, "Social Setup", "Marketing", "600", "USD", 3).await;
    let kit = fixtures::bundle(
        &app.db,
        "Launch Kit",
        "1699",
        &[(&logo, 1), (&page, 1), (&social, 1)],
    )
    .await;
    app.signed_in_as(Role::Client).await;
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": kit.id, "quantity": 1}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242424242424242").await.status(), 303);
    let order = wait_for_order(&app, order_id, OrderStatus::Completed).await;
    assert_eq!(order.total_minor, 169_900);
    let mut names: Vec<String> = services_of(&app, order_id)
        .await
        .into_iter()
        .map(|s| s.name)
        .collect();
    names.sort();
    assert_eq!(names, ["Landing Page", "Logo Design", "Social Setup"]);
    // The order's page lists the bundle as one line, at its price.
    let mine = app.page(&format!("/store/orders/{order_id}")).await;
    assert!(
        mine.contains("Launch Kit") && mine.contains("$1,699.00"),
        "{mine}"
    );
}
