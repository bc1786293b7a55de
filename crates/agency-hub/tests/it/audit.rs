//! Every page of every role, with data on it, at 390 px (a phone) and 1,366 px (a laptop) in
//! headless Chromium (issue 20): the window keeps its width (a phone's widens to content too
//! wide for its screen), nothing scrolls sideways, and axe-core finds no serious or critical
//! accessibility violation. A full-length screenshot of each is kept in
//! `target/tmp/screenshots/audit-*`.
//!
//! axe-core comes from npm (`npm install --no-save axe-core@4.14.1` at the repository's root,
//! as `.ci/run` does); without it the audit is skipped with a note, unless `REQUIRE_AXE` is set.

use agency_hub::db::entities::order::{self, OrderStatus};
use agency_hub::db::entities::user;
use agency_hub::db::entities::{
    client, email, experiment, service, service_template, subscription,
};
use agency_hub::seed::{DEMO_PASSWORD, seed_demo};
use fantoccini::{Client, Locator};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use crate::browser::{SessionPost, browser_session, screenshot, sign_in_with};
use crate::experience::{set_width, widths};
use crate::harness::TestApp;
use crate::purchase::{pay, start_checkout, wait_for_order};

const WIDTHS: [u32; 2] = [390, 1366];

/// axe-core's script, or `None` when it is not installed (and not required).
fn axe() -> Option<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../node_modules/axe-core/axe.min.js"
    );
    match std::fs::read_to_string(path) {
        Ok(source) => Some(source),
        Err(e) => {
            assert!(
                std::env::var("REQUIRE_AXE").is_err(),
                "REQUIRE_AXE is set but {path} cannot be read: {e}"
            );
            eprintln!(
                "the accessibility audit is skipped: no axe-core (npm install --no-save axe-core@4.14.1)"
            );
            None
        }
    }
}

/// The demo's store, where Ana of Acme bought SEO Audit and the monthly Website Maintenance
/// (partly refunded since), left a second checkout unpaid, and an experiment runs.
async fn a_store_with_history() -> TestApp {
    let mut app = crate::harness::spawn_app_at_its_own_url().await;
    assert!(seed_demo(&app.db).await.unwrap());
    let (seo, care) = (
        template_named(&app, "SEO Audit").await,
        template_named(&app, "Website Maintenance").await,
    );

    assert_eq!(
        app.sign_in("client@acme.example", DEMO_PASSWORD)
            .await
            .status(),
        303
    );
    for id in [seo, care] {
        let res = app
            .post_json(
                "/api/cart/items",
                &json!({"serviceTemplateId": id, "quantity": 1}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let (paid, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    wait_for_order(&app, paid, OrderStatus::Completed).await;
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": seo, "quantity": 2}),
        )
        .await;
    assert_eq!(res.status(), 201);
    start_checkout(&app).await;

    app.switch_browser(crate::harness::browser());
    assert_eq!(
        app.sign_in("admin@example.com", DEMO_PASSWORD)
            .await
            .status(),
        303
    );
    let res = app
        .post_form(
            &format!("/admin/orders/{paid}/refund"),
            &[
                ("amount", "50"),
                ("reason", "requested_by_customer"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(
            "/admin/experiments",
            &[
                ("name", "Button text"),
                ("element", "cta_text"),
                ("variant-0-name", "A"),
                ("variant-0-weight", "50"),
                ("variant-0-value", "Add to cart"),
                ("variant-1-name", "B"),
                ("variant-1-weight", "50"),
                ("variant-1-value", "Book it now"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    app
}

/// The demo's template of that name.
async fn template_named(app: &TestApp, name: &str) -> agency_hub::ids::TemplateId {
    service_template::Entity::find()
        .filter(service_template::Column::Name.eq(name))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no template {name}"))
        .id
}

async fn acme_order(app: &TestApp, status: OrderStatus) -> i64 {
    order::Entity::find()
        .filter(order::Column::Status.eq(status))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no {status:?} order"))
        .id
        .0
}

/// One service of the paid order (the client's), and the newest of all (the staff's).
async fn a_service_bought(app: &TestApp) -> i64 {
    service::Entity::find()
        .filter(service::Column::OrderItemId.is_not_null())
        .order_by_asc(service::Column::Id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("a service from the order")
        .id
        .0
}

/// The pages a client has, with their data.
async fn client_pages(app: &TestApp) -> Vec<String> {
    let paid = acme_order(app, OrderStatus::Completed).await;
    let open = acme_order(app, OrderStatus::Pending).await;
    let service = a_service_bought(app).await;
    let logo = template_named(app, "Logo Design").await;
    let mut pages: Vec<String> = [
        "/dashboard",
        "/store",
        "/store?q=website",
        "/store/cart",
        "/store/saved",
        "/store/orders",
        "/store/subscriptions",
        "/my/services",
        "/notifications",
        "/account",
        "/account/tokens",
    ]
    .map(String::from)
    .into();
    pages.extend([
        format!("/store/{logo}"),
        format!("/store/orders/{paid}"),
        format!("/store/orders/{paid}/receipt"),
        format!("/store/orders/{open}"),
        format!("/my/services/{service}"),
    ]);
    pages
}

/// The pages a manager has (services, tasks, the orders' and subscriptions' lists).
async fn manager_pages(app: &TestApp) -> Vec<String> {
    let paid = acme_order(app, OrderStatus::Completed).await;
    let service = a_service_bought(app).await;
    let subscription = subscription::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("a subscription")
        .id;
    let mut pages: Vec<String> = [
        "/dashboard",
        "/services",
        "/services/new",
        "/tasks",
        "/admin/orders",
        "/admin/subscriptions",
        "/admin/reviews",
        "/search?q=acme",
        "/notifications",
        "/account",
        "/account/tokens",
    ]
    .map(String::from)
    .into();
    let task = agency_hub::db::entities::task::Entity::find()
        .filter(agency_hub::db::entities::task::Column::ServiceId.eq(service))
        .one(&app.db)
        .await
        .unwrap()
        .expect("a task")
        .id;
    pages.extend([
        format!("/services/{service}"),
        format!("/services/{service}/tasks/{task}"),
        format!("/admin/orders/{paid}"),
        format!("/admin/subscriptions/{subscription}"),
    ]);
    pages
}

/// A webhook endpoint with a long address and a failed delivery in its log (its answer and
/// body long enough to wrap on a phone); returns its id.
async fn webhook_with_a_delivery(app: &TestApp) -> i64 {
    use agency_hub::db::entities::webhook_delivery;
    use sea_orm::ActiveValue::Set;
    let endpoint = agency_hub::integrations::webhooks::create(
        &app.db,
        &agency_hub::activity::Actor::System,
        agency_hub::integrations::webhooks::ValidEndpoint {
            url:
                "https://hooks.accounting-platform.example.com/v2/agency-hub/incoming/9f8e7d6c5b4a"
                    .into(),
            description: "Accounting".into(),
            events: "order.paid order.refunded".into(),
            enabled: true,
        },
    )
    .await
    .unwrap();
    let now = chrono::Utc::now();
    webhook_delivery::Entity::insert(webhook_delivery::ActiveModel {
        endpoint_id: Set(endpoint.id),
        event_id: Set("evt_0123456789abcdef0123456789abcdef".into()),
        event_type: Set("order.paid".into()),
        payload: Set(r#"{"id":"evt_0123456789abcdef0123456789abcdef","type":"order.paid","created":1764662400,"data":{"object":"order","id":1,"clientId":1,"actor":null,"details":{"orderNumber":"AH-2026-000001","totalMinor":49900,"currency":"USD","services":1}}}"#.into()),
        status: Set(webhook_delivery::DeliveryStatus::Pending),
        attempts: Set(2),
        last_attempt_at: Set(Some(now)),
        next_attempt_at: Set(Some(now + chrono::Duration::minutes(2))),
        response_code: Set(Some(502)),
        response_body: Set(Some("<html><head><title>502 Bad Gateway</title></head><body>upstream_connect_error_or_disconnect/reset_before_headers</body></html>".into())),
        duration_ms: Set(Some(131)),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&app.db)
    .await
    .unwrap();
    endpoint.id
}

/// The pages only an admin has.
async fn admin_pages(app: &TestApp) -> Vec<String> {
    let acme = client::Entity::find()
        .filter(client::Column::Name.eq("Acme Corp"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let ana = user::Entity::find()
        .filter(user::Column::Email.eq("client@acme.example"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    // A token in use, for the integrations page's list.
    agency_hub::auth::tokens::create(
        &app.db,
        &agency_hub::auth::CurrentUser::from(ana.clone()),
        &agency_hub::auth::tokens::TokenForm {
            name: "Accounting sync".into(),
            scopes: vec!["orders:read".into(), "services:write".into()],
            expires_in_days: Some(90),
        },
    )
    .await
    .unwrap();
    let ana = ana.id;
    let hook = webhook_with_a_delivery(app).await;
    let template = template_named(app, "Logo Design").await;
    let mail = email::Entity::find()
        .order_by_desc(email::Column::Id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("an email")
        .id;
    let test = experiment::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("an experiment")
        .id;
    let mut pages: Vec<String> = [
        "/dashboard",
        "/admin/metrics",
        "/admin/clients",
        "/admin/clients/new",
        "/admin/users",
        "/admin/users/new",
        "/admin/templates",
        "/admin/templates/new",
        "/admin/promotions",
        "/admin/experiments",
        "/admin/activity",
        "/admin/emails",
        "/admin/jobs",
        "/admin/integrations",
        "/admin/webhooks/new",
        "/admin/settings",
    ]
    .map(String::from)
    .into();
    let paid = acme_order(app, OrderStatus::Completed).await;
    pages.extend([
        // The refund dialog as a page shows it without a script.
        format!("/admin/orders/{paid}?refund=1"),
        format!("/admin/clients/{acme}"),
        format!("/admin/users/{ana}"),
        format!("/admin/templates/{template}"),
        format!("/admin/emails/{mail}"),
        format!("/admin/experiments/{test}"),
        format!("/admin/webhooks/{hook}"),
    ]);
    pages
}

/// Visits each page at each width; returns what is wrong with them, one line each.
async fn audit(client: &Client, app: &TestApp, role: &str, pages: &[String]) -> Vec<String> {
    let axe = axe();
    let mut wrong = Vec::new();
    for width in WIDTHS {
        for path in pages {
            set_width(client, width).await;
            client.goto(&app.url(path)).await.unwrap();
            let at = format!("{path} at {width} px");
            if !client
                .find_all(Locator::Css(".error-status"))
                .await
                .unwrap()
                .is_empty()
            {
                wrong.push(format!("{at}: an error page"));
            }
            let (page, window) = widths(client).await;
            if window != u64::from(width) {
                wrong.push(format!("{at}: the window widened to {window} px"));
            }
            if page > window {
                wrong.push(format!("{at}: {page} px wide, scrolls sideways"));
            }
            if let Some(axe) = &axe {
                for v in serious_violations(client, axe).await {
                    wrong.push(format!("{at}: {v}"));
                }
            }
            full_screenshot(client, width, &format!("audit-{role}-{width}{path}")).await;
        }
    }
    wrong
}

/// axe-core's serious and critical findings on the page shown.
async fn serious_violations(client: &Client, axe: &str) -> Vec<String> {
    client
        .execute(&format!("{axe}\nreturn true;"), vec![])
        .await
        .unwrap();
    let found = client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']}).then(
              r => done(r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => `${v.id} (${v.impact}): ${v.help} — ` +
                  v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))),
              e => done([`axe failed: ${e}`]));"#,
            vec![],
        )
        .await
        .unwrap();
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// A screenshot of the whole length of the page (the viewport made as tall as the page).
async fn full_screenshot(client: &Client, width: u32, name: &str) {
    let height = client
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap()
        .clamp(600, 6000);
    client
        .issue_cmd(SessionPost(
            "goog/cdp/execute",
            json!({
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800},
            }),
        ))
        .await
        .unwrap();
    screenshot(client, &name.replace(['/', '?', '='], "_")).await;
}

async fn audit_role(role: &str, email: &str, pages: fn(&TestApp) -> PagesFuture<'_>) {
    let Some((_driver, client)) = browser_session().await else {
        return;
    };
    let app = a_store_with_history().await;
    sign_in_with(&client, &app, email, DEMO_PASSWORD).await;
    let pages = pages(&app).await;
    let wrong = audit(&client, &app, role, &pages).await;
    assert!(
        wrong.is_empty(),
        "{} of {} page views failed:\n{}",
        wrong.len(),
        pages.len() * WIDTHS.len(),
        wrong.join("\n")
    );
    client.close().await.unwrap();
}

type PagesFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Vec<String>> + 'a>>;

#[tokio::test]
async fn every_page_of_a_client_fits_a_phone_and_passes_the_audit() {
    audit_role("client", "client@acme.example", |app| {
        Box::pin(client_pages(app))
    })
    .await;
}

#[tokio::test]
async fn every_page_of_a_manager_fits_a_phone_and_passes_the_audit() {
    audit_role("manager", "manager@example.com", |app| {
        Box::pin(manager_pages(app))
    })
    .await;
}

#[tokio::test]
async fn every_page_of_an_admin_fits_a_phone_and_passes_the_audit() {
    audit_role("admin", "admin@example.com", |app| {
        Box::pin(admin_pages(app))
    })
    .await;
}

#[tokio::test]
async fn the_pages_before_signing_in_fit_a_phone_and_pass_the_audit() {
    let Some((_driver, client)) = browser_session().await else {
        return;
    };
    let app = crate::harness::spawn_app_at_its_own_url().await;
    let pages = ["/login", "/password/forgot", "/password/set?token=unknown"].map(String::from);
    let wrong = audit(&client, &app, "anonymous", &pages).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    client.close().await.unwrap();
}
