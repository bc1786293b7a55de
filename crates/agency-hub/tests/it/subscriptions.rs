//! Recurring services (issue 16): a template's billing choice, its period tasks, its recurring
//! Stripe Price, and what the store says it costs today and then each period.

use std::time::Duration;

use agency_hub::analytics::dashboard::{self, Period};
use agency_hub::db::entities::order::OrderStatus;
use agency_hub::db::entities::service::ServiceStatus;
use agency_hub::db::entities::task::TaskStatus;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{
    service, service_template, subscription, subscription_invoice, task,
};
use agency_hub::ids::TemplateId;
use agency_hub::money::Currency;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::checkout::template_when;
use crate::fixtures;
use crate::harness::{TestApp, spawn_app};
use crate::purchase::{
    control, emulator_events, emulator_get, emulator_post, pay, post_event, start_checkout,
    wait_for_order,
};

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

    // One subscription a cart: a second recurring service is refused, naming the first.
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": id, "quantity": 1}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let seo = fixtures::retainer(&app.db, "SEO Retainer", "300", 0).await;
    app.state.store.changed().await;
    let res = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": seo.id, "quantity": 1}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body.to_string()
            .contains("already holds a subscription (Website Maintenance)"),
        "{body}"
    );
    let cart: serde_json::Value = app.get("/api/cart").await.json().await.unwrap();
    assert_eq!(cart["items"].as_array().map_or(0, Vec::len), 1, "{cart}");
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

const MONTH: i64 = 31 * 86_400;

/// A client with Logo Design ×1 and the $149.00 monthly retainer ×`seats` in the cart.
async fn retainer_in_cart(app: &TestApp, seats: i64, trial_days: u32) -> (TemplateId, TemplateId) {
    app.create_user(Role::Manager, "manager@example.com", None)
        .await;
    app.signed_in_as(Role::Client).await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let care = fixtures::retainer(&app.db, "Website Care", "149", trial_days).await;
    for (id, quantity) in [(logo.id, 1), (care.id, seats)] {
        let res = app
            .post_json(
                "/api/cart/items",
                &json!({"serviceTemplateId": id, "quantity": quantity}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    (logo.id, care.id)
}

/// Waits until `check` holds of the subscriptions, for up to ten seconds.
async fn subscription_when(
    app: &TestApp,
    what: &str,
    check: impl Fn(&subscription::Model) -> bool,
) -> subscription::Model {
    for _ in 0..200 {
        if let Some(sub) = subscription::Entity::find().one(&app.db).await.unwrap()
            && check(&sub)
        {
            return sub;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the subscription never became {what}");
}

async fn invoices(app: &TestApp) -> Vec<subscription_invoice::Model> {
    subscription_invoice::Entity::find()
        .order_by_asc(subscription_invoice::Column::PeriodStart)
        .all(&app.db)
        .await
        .unwrap()
}

/// Waits until `n` invoices are paid with their periods' tasks made.
async fn periods_when(app: &TestApp, n: usize) -> Vec<subscription_invoice::Model> {
    for _ in 0..200 {
        let rows = invoices(app).await;
        if rows.iter().filter(|i| i.tasks_made_at.is_some()).count() >= n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} periods were never made: {:?}", invoices(app).await);
}

async fn tasks_of(app: &TestApp, service: agency_hub::ids::ServiceId) -> Vec<task::Model> {
    task::Entity::find()
        .filter(task::Column::ServiceId.eq(service))
        .order_by_asc(task::Column::Position)
        .all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retainer_and_a_one_time_service_in_one_checkout_then_three_months_of_periods() {
    let app = spawn_app().await;
    let (logo, care) = retainer_in_cart(&app, 2, 0).await;
    let cart = app.page("/store/cart").await;
    assert!(cart.contains("$149.00 / month"), "{cart}");
    assert!(
        cart.contains("$298.00 today, then $298.00 every month"),
        "{cart}"
    );
    assert!(cart.contains("Due today"), "{cart}");
    assert!(cart.contains("$797.00"), "{cart}");
    assert!(cart.contains("$298.00 every month</td>"), "{cart}");

    let (order_id, url) = start_checkout(&app).await;
    let session_id = url.rsplit('/').next().unwrap();
    let session = emulator_get(&app, &format!("/v1/checkout/sessions/{session_id}")).await;
    assert_eq!(session["mode"], "subscription");
    assert_eq!(session["amount_total"], 79_700);
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    let order = wait_for_order(&app, order_id, OrderStatus::Completed).await;
    assert_eq!(order.subtotal_minor, 79_700);
    assert_eq!(
        order.invoice_number, None,
        "a subscription's invoices are Stripe's"
    );

    let sub = subscription_when(&app, "active with its service", |s| {
        s.status == "active" && s.service_id.is_some()
    })
    .await;
    assert_eq!(sub.quantity, 2);
    assert_eq!(sub.template_id, care);
    assert_eq!(sub.order_id, order_id);
    assert!(sub.stripe_customer_id.is_some());
    periods_when(&app, 1).await;
    // The first invoice's payment is the order's (for refunds).
    order_paid_by_intent(&app, order_id).await;
    // One service for the retainer (two seats), one for the logo.
    let services = service::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(services.len(), 2);
    assert_eq!(services.iter().filter(|s| s.template_id == logo).count(), 1);
    let names: Vec<String> = tasks_of(&app, sub.service_id.unwrap())
        .await
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["Kick-off call", "Monthly report"]);
    // The order and its confirmation say what recurs.
    let page = app.page(&format!("/store/orders/{order_id}")).await;
    assert!(
        page.contains("$298.00 today, then $298.00 every month"),
        "{page}"
    );
    // Its invoice is Stripe's, linked from the order rather than issued again.
    let first = agency_hub::db::entities::subscription_invoice::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let hosted = first.hosted_invoice_url.unwrap();
    assert!(page.contains(&format!("href=\"{hosted}\"")), "{page}");
    assert!(!page.contains("data-invoice>"), "{page}");
    let confirmation = agency_hub::db::entities::email::Entity::find()
        .filter(agency_hub::db::entities::email::Column::Kind.eq("order_confirmation"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        confirmation.payload["items"][1]["terms"],
        "$298.00 today, then $298.00 every month"
    );

    // Three months later: three more periods, each with its report, due 25 days in.
    control(
        &app,
        "clock/advance",
        &[("seconds", &(3 * MONTH).to_string())],
    )
    .await;
    let periods = periods_when(&app, 4).await;
    assert_eq!(periods.len(), 4);
    assert!(
        periods
            .iter()
            .all(|p| p.status == "paid" && p.amount_paid > 0)
    );
    assert_eq!(periods[0].amount_paid, 79_700);
    assert!(periods[1..].iter().all(|p| p.amount_paid == 29_800));
    let tasks = tasks_of(&app, sub.service_id.unwrap()).await;
    let reports: Vec<&task::Model> = tasks
        .iter()
        .filter(|t| t.name == "Monthly report")
        .collect();
    assert_eq!(reports.len(), 4);
    // One report a period (the periods' events may be handled in any order, so matched by
    // the period, not by position).
    for period in &periods {
        let of_period: Vec<_> = reports
            .iter()
            .filter(|r| r.subscription_invoice_id == Some(period.id))
            .collect();
        assert_eq!(of_period.len(), 1, "one report for period {}", period.id);
        let report = of_period[0];
        assert_eq!(
            report.due_on,
            Some((period.period_start + chrono::Duration::days(25)).date_naive())
        );
    }
    let stripe_invoices = emulator_get(
        &app,
        &format!("/v1/invoices?subscription={}", sub.stripe_subscription_id),
    )
    .await;
    assert_eq!(stripe_invoices["data"].as_array().unwrap().len(), 4);
    let sub = subscription_when(&app, "in its fourth period", |s| {
        s.current_period_start == Some(periods[3].period_start)
    })
    .await;
    assert_eq!(sub.status, "active");
    // A snapshot of an earlier period arriving last, even of the same second as the last one
    // applied (the clock's events share seconds; Stripe's may come in any order), leaves the
    // period where the renewals put it.
    let mut late = emulator_events(&app, "customer.subscription.updated")
        .await
        .into_iter()
        .find(|e| {
            e["data"]["object"]["current_period_start"].as_i64()
                < Some(periods[3].period_start.timestamp())
        })
        .expect("an update of an earlier period");
    late["id"] = json!("evt_late_period");
    late["created"] = json!(sub.last_event_at.unwrap());
    assert_eq!(post_event(&app, &late).await.status(), 200);
    let kept = subscription::Entity::find_by_id(sub.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.current_period_start, Some(periods[3].period_start));

    // The dashboard: one order of $797.00 and three renewals of $298.00, of which four periods
    // of $298.00 recurring; $298.00 a month now, from one new subscription.
    let usd = |m| std::collections::BTreeMap::from([(Currency::USD, m)]);
    let f = dashboard::figures(
        &app.db,
        &Period::last_days(1, chrono::Utc::now() + chrono::Duration::seconds(1)),
    )
    .await
    .unwrap();
    assert_eq!(f.paid, usd(79_700));
    assert_eq!(f.renewals, usd(3 * 29_800));
    assert_eq!(f.recurring, usd(4 * 29_800));
    assert_eq!(f.one_time, usd(49_900));
    assert_eq!(f.mrr, usd(29_800));
    assert_eq!(
        (
            f.subscriptions_active,
            f.subscriptions_new,
            f.subscriptions_churned
        ),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn the_same_invoice_paid_20_times_and_before_the_session_makes_one_period() {
    let app = spawn_app().await;
    retainer_in_cart(&app, 1, 0).await;
    let (order_id, url) = start_checkout(&app).await;
    control(&app, "webhooks/hold", &[]).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    let paid = emulator_events(&app, "invoice.paid").await;
    let completed = emulator_events(&app, "checkout.session.completed").await;
    let (paid, completed) = (
        paid[0]["id"].as_str().unwrap(),
        completed[0]["id"].as_str().unwrap(),
    );
    // The invoice first, then the session, then everything else.
    control(
        &app,
        "webhooks/release",
        &[("order[]", paid), ("order[]", completed)],
    )
    .await;
    wait_for_order(&app, order_id, OrderStatus::Completed).await;
    periods_when(&app, 1).await;
    order_paid_by_intent(&app, order_id).await;
    control(&app, &format!("events/{paid}/deliver"), &[("times", "20")]).await;
    control(
        &app,
        &format!("events/{completed}/deliver"),
        &[("times", "5")],
    )
    .await;
    // An invoice that is not a period (a manual one, a proration) is recorded, no tasks.
    let mut manual = emulator_events(&app, "invoice.paid").await[0].clone();
    manual["id"] = json!("evt_manual_invoice");
    manual["data"]["object"]["id"] = json!("in_manual_1");
    manual["data"]["object"]["billing_reason"] = json!("manual");
    assert_eq!(post_event(&app, &manual).await.status(), 200);
    let sub = subscription_when(&app, "with its service", |s| s.service_id.is_some()).await;
    assert_eq!(invoices(&app).await.len(), 2);
    let reports = tasks_of(&app, sub.service_id.unwrap())
        .await
        .into_iter()
        .filter(|t| t.name == "Monthly report")
        .count();
    assert_eq!(reports, 1, "one period: the manual invoice made none");
    let retainer_services = service::Entity::find()
        .filter(service::Column::TemplateId.eq(sub.template_id))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(retainer_services, 1, "one service for the retainer");
}

#[tokio::test]
async fn a_failed_renewal_is_past_due_until_paid_on_the_invoice_page_and_a_cancel_ends_the_service()
{
    let mut app = spawn_app().await;
    retainer_in_cart(&app, 1, 0).await;
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    wait_for_order(&app, order_id, OrderStatus::Completed).await;
    let sub = subscription_when(&app, "with its customer", |s| {
        s.stripe_customer_id.is_some()
    })
    .await;
    periods_when(&app, 1).await;

    // The card on file becomes one that fails: the next renewal fails.
    let portal: Value = emulator_post(
        &app,
        "/v1/billing_portal/sessions",
        &[("customer", sub.stripe_customer_id.as_deref().unwrap())],
    )
    .await
    .json()
    .await
    .unwrap();
    let card = |number| {
        [
            ("card_number", number),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
        ]
    };
    let mut form = card("4000000000000341").to_vec();
    form.push(("action", "update_card"));
    let res = emulator_post(&app, portal["url"].as_str().unwrap(), &form).await;
    assert_eq!(res.status(), 200);
    control(&app, "clock/advance", &[("seconds", &MONTH.to_string())]).await;
    let sub = subscription_when(&app, "past due", |s| s.status == "past_due").await;
    let open = loop {
        let rows = invoices(&app).await;
        if let Some(open) = rows.iter().find(|i| i.status == "open") {
            break open.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let hosted = open.hosted_invoice_url.clone().unwrap();
    // The client is emailed the page to pay; staff see the payment overdue on the service.
    let failed = agency_hub::db::entities::email::Entity::find()
        .filter(agency_hub::db::entities::email::Column::Kind.eq("subscription_payment_failed"))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the payment-failed email");
    assert_eq!(failed.to_address, "client@acme.example");
    assert_eq!(
        failed.payload["invoice_url"],
        hosted.as_str(),
        "{}",
        failed.payload
    );
    let client = app.switch_browser(crate::harness::browser());
    let res = app
        .sign_in("manager@example.com", crate::harness::PASSWORD)
        .await;
    assert_eq!(res.status(), 303);
    let page = app
        .page(&format!("/services/{}", sub.service_id.unwrap()))
        .await;
    assert!(page.contains("Payment overdue"), "{page}");
    app.switch_browser(client);
    assert_eq!(
        tasks_of(&app, sub.service_id.unwrap()).await.len(),
        2,
        "no new period's tasks while unpaid"
    );

    // Paid on Stripe's page: active again, and the period's report is made.
    let res = emulator_post(&app, &hosted, &card("4242424242424242")).await;
    assert_eq!(res.status(), 303);
    subscription_when(&app, "active again", |s| s.status == "active").await;
    periods_when(&app, 2).await;
    assert_eq!(tasks_of(&app, sub.service_id.unwrap()).await.len(), 3);

    // Cancelled at the period's end: at the end the service is cancelled (no work started),
    // and no invoice follows.
    let res = emulator_post(
        &app,
        &format!("/v1/subscriptions/{}", sub.stripe_subscription_id),
        &[("cancel_at_period_end", "true")],
    )
    .await;
    assert_eq!(res.status(), 200);
    subscription_when(&app, "set to cancel", |s| s.cancel_at_period_end).await;
    control(
        &app,
        "clock/advance",
        &[("seconds", &(2 * MONTH).to_string())],
    )
    .await;
    let ended = subscription_when(&app, "canceled", |s| s.status == "canceled").await;
    assert!(ended.ended_at.is_some());
    let service = service::Entity::find_by_id(sub.service_id.unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(service.status, ServiceStatus::Cancelled);
    assert_eq!(invoices(&app).await.len(), 2);
    // A later snapshot saying it is active (a replay, a mistake) does not bring it back.
    let mut late = emulator_events(&app, "customer.subscription.updated").await[0].clone();
    late["id"] = json!("evt_late_update");
    late["created"] = json!(late["created"].as_i64().unwrap() + 3600);
    late["data"]["object"]["status"] = json!("active");
    assert_eq!(post_event(&app, &late).await.status(), 200);
    let still = subscription_when(&app, "still canceled", |s| s.status == "canceled").await;
    assert_eq!(still.ended_at, ended.ended_at);
}

/// The kinds of the emails queued so far, in order.
async fn email_kinds(app: &TestApp) -> Vec<String> {
    agency_hub::db::entities::email::Entity::find()
        .order_by_asc(agency_hub::db::entities::email::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[tokio::test]
async fn a_client_cancels_resumes_and_changes_seats_each_confirmed_first() {
    let app = spawn_app().await;
    retainer_in_cart(&app, 1, 0).await;
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    wait_for_order(&app, order_id, OrderStatus::Completed).await;
    let sub = subscription_when(&app, "known to Stripe, with its card", |s| {
        s.stripe_item_id.is_some() && s.card_last4.is_some() && s.current_period_end.is_some()
    })
    .await;
    let stripe_sub = |app: &TestApp| {
        let path = format!("/v1/subscriptions/{}", sub.stripe_subscription_id);
        let app = app.emulator.clone();
        async move {
            crate::harness::browser()
                .get(format!("{app}{path}"))
                .bearer_auth("sk_test_tests")
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let page = app.page("/store/subscriptions").await;
    for needle in [
        "Website Care",
        "$149.00 every month",
        "Next charge on",
        "Active",
        "visa ending in 4242",
    ] {
        assert!(page.contains(needle), "{needle}: {page}");
    }
    assert!(
        email_kinds(&app)
            .await
            .contains(&"subscription_started".to_string())
    );
    let base = format!("/store/subscriptions/{}", sub.id);

    // Asked first: nothing changes until the client says yes.
    let res = app.post_form(&format!("{base}/cancel"), &[]).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Cancel Website Care? It stays active until"),
        "{page}"
    );
    assert_eq!(stripe_sub(&app).await["cancel_at_period_end"], false);
    let res = app
        .post_form(&format!("{base}/cancel"), &[("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(stripe_sub(&app).await["cancel_at_period_end"], true);
    let page = app.page("/store/subscriptions").await;
    assert!(page.contains("Ends on"), "{page}");
    assert!(page.contains("will end on"), "the flash says when: {page}");
    assert!(
        email_kinds(&app)
            .await
            .contains(&"subscription_cancellation_scheduled".to_string())
    );
    // Cancelling twice is refused, saying why; resuming puts it back.
    let res = app
        .post_form(&format!("{base}/cancel"), &[("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 409);
    let res = app
        .post_form(&format!("{base}/resume"), &[("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(stripe_sub(&app).await["cancel_at_period_end"], false);

    // Seats: checked, asked, then changed at Stripe for the next period.
    let res = app
        .post_form(&format!("{base}/seats"), &[("quantity", "9")])
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Choose from 1 to 5 seats.")
    );
    let res = app
        .post_form(&format!("{base}/seats"), &[("quantity", "3")])
        .await;
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Change Website Care to 3 seats?")
    );
    let res = app
        .post_form(
            &format!("{base}/seats"),
            &[("quantity", "3"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(stripe_sub(&app).await["items"]["data"][0]["quantity"], 3);
    let sub = subscription_when(&app, "with 3 seats", |s| s.quantity == 3).await;
    assert!(
        app.page("/store/subscriptions")
            .await
            .contains("$447.00 every month")
    );
    control(&app, "clock/advance", &[("seconds", &MONTH.to_string())]).await;
    let periods = periods_when(&app, 2).await;
    assert_eq!(periods[1].amount_paid, 44_700);
    assert!(
        email_kinds(&app)
            .await
            .contains(&"subscription_renewed".to_string())
    );

    // Stripe's portal for the card and invoices.
    let res = app.post_form(&format!("{base}/billing"), &[]).await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to.starts_with(&app.emulator) && to.contains("/p/session/"),
        "{to}"
    );
    // Stripe refusing the portal (a customer it does not know): the page says so, unchanged.
    subscription::Entity::update_many()
        .col_expr(
            subscription::Column::StripeCustomerId,
            sea_orm::sea_query::Expr::value("cus_gone"),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let res = app.post_form(&format!("{base}/billing"), &[]).await;
    assert_eq!(res.status(), 502);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Nothing was changed.") && page.contains("Website Care"),
        "{page}"
    );
    subscription::Entity::update_many()
        .col_expr(
            subscription::Column::StripeCustomerId,
            sea_orm::sea_query::Expr::value(sub.stripe_customer_id),
        )
        .exec(&app.db)
        .await
        .unwrap();

    // Another company's subscription is not there.
    let mut app = app;
    app.switch_browser(crate::harness::browser());
    app.create_user(Role::Client, "client@globex.example", Some("Globex Inc"))
        .await;
    let res = app
        .sign_in("client@globex.example", crate::harness::PASSWORD)
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(&format!("{base}/cancel"), &[("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 404);
    assert!(
        !app.page("/store/subscriptions")
            .await
            .contains("Website Care")
    );
    let _ = sub;
}

#[tokio::test]
async fn staff_find_a_subscription_and_an_admin_ends_it_now_after_confirming() {
    let mut app = spawn_app().await;
    retainer_in_cart(&app, 1, 0).await;
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    wait_for_order(&app, order_id, OrderStatus::Completed).await;
    let sub = subscription_when(&app, "active with its service and period", |s| {
        s.service_id.is_some() && s.current_period_end.is_some()
    })
    .await;
    periods_when(&app, 1).await;

    // A manager reads the list and the page, and may not act.
    app.switch_browser(crate::harness::browser());
    let res = app
        .sign_in("manager@example.com", crate::harness::PASSWORD)
        .await;
    assert_eq!(res.status(), 303);
    let list = app.page("/admin/subscriptions").await;
    assert!(
        list.contains("Acme Corp") && list.contains("Website Care"),
        "{list}"
    );
    // The template filter offers the recurring template only (not the one-time logo).
    assert!(
        list.contains(&format!(
            r#"<option value="{}">Website Care</option>"#,
            sub.template_id
        )),
        "{list}"
    );
    assert!(!list.contains(">Logo Design</option>"), "{list}");
    for (query, found) in [
        ("?q=acme", true),
        ("?q=nobody", false),
        ("?status=active", true),
        ("?status=canceled", false),
        (&*format!("?template={}", sub.template_id), true),
    ] {
        let page = app.page(&format!("/admin/subscriptions{query}")).await;
        assert_eq!(page.contains("Website Care</a>"), found, "{query}: {page}");
    }
    assert_eq!(
        app.get("/admin/subscriptions?status=lost").await.status(),
        400
    );
    let path = format!("/admin/subscriptions/{}", sub.id);
    let page = app.page(&path).await;
    assert!(page.contains("-0001") && page.contains(">paid<"), "{page}");
    assert!(!page.contains("Cancel now"), "no actions for a manager");
    let res = app
        .post_form(&format!("{path}/cancel-now"), &[("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 403);

    // An admin pauses collection (its invoices voided: out of MRR), then resumes it.
    app.switch_browser(crate::harness::browser());
    app.signed_in_as(Role::Admin).await;
    let mrr = async || {
        dashboard::figures(&app.db, &Period::last_days(1, chrono::Utc::now()))
            .await
            .unwrap()
            .mrr
            .get(&Currency::USD)
            .copied()
    };
    assert_eq!(mrr().await, Some(14_900));
    let res = app.post_form(&format!("{path}/pause"), &[]).await;
    assert_eq!(res.status(), 303);
    let stripe_sub = format!("/v1/subscriptions/{}", sub.stripe_subscription_id);
    assert_eq!(
        emulator_get(&app, &stripe_sub).await["pause_collection"]["behavior"],
        "void"
    );
    subscription_when(&app, "paused", |s| {
        s.pause_behavior.as_deref() == Some("void")
    })
    .await;
    assert!(app.page(&path).await.contains("Collection paused"));
    assert_eq!(mrr().await, None);
    let res = app
        .post_form(&format!("{path}/resume-collection"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(emulator_get(&app, &stripe_sub).await["pause_collection"].is_null());
    subscription_when(&app, "collected again", |s| s.pause_behavior.is_none()).await;
    assert_eq!(mrr().await, Some(14_900));

    // An admin ends it now: asked first, then Stripe cancels it and the service ends.
    let res = app.post_form(&format!("{path}/cancel-now"), &[]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("End Website Care now?"));
    assert_eq!(
        emulator_get(
            &app,
            &format!("/v1/subscriptions/{}", sub.stripe_subscription_id)
        )
        .await["status"],
        "active"
    );
    let res = app
        .post_form(&format!("{path}/cancel-now"), &[("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        emulator_get(
            &app,
            &format!("/v1/subscriptions/{}", sub.stripe_subscription_id)
        )
        .await["status"],
        "canceled"
    );
    let ended = subscription_when(&app, "canceled", |s| s.status == "canceled").await;
    let service = service::Entity::find_by_id(ended.service_id.unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(service.status, ServiceStatus::Cancelled);
    let page = app.page(&path).await;
    assert!(
        page.contains("Ended") && !page.contains("Cancel now"),
        "{page}"
    );
    let res = app
        .post_form(&format!("{path}/cancel-now"), &[("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        app.post_form(&format!("{path}/explode"), &[])
            .await
            .status(),
        404
    );
}

/// Waits until the order records the first invoice's payment intent.
async fn order_paid_by_intent(app: &TestApp, id: agency_hub::ids::OrderId) {
    for _ in 0..200 {
        let order = agency_hub::db::entities::order::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        if order.stripe_payment_intent_id.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {id} never got its payment intent");
}

#[tokio::test]
async fn a_cart_with_two_subscriptions_cannot_be_checked_out() {
    let app = spawn_app().await;
    let (logo, _) = retainer_in_cart(&app, 1, 0).await;
    // Logo Design becomes recurring while in the cart.
    let template = service_template::Entity::find_by_id(logo)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut active: service_template::ActiveModel = template.into();
    active.billing_interval = sea_orm::ActiveValue::Set(Some("year".into()));
    sea_orm::ActiveModelTrait::update(active, &app.db)
        .await
        .unwrap();
    app.state.store.changed().await;
    let res = app.post_json("/api/store/checkout", &json!({})).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body.to_string().contains("holds 2 subscriptions"), "{body}");
    assert_eq!(
        agency_hub::db::entities::order::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
}

/// Waits until `check` holds of the invoice row `id`, for up to ten seconds.
async fn invoice_when(
    app: &TestApp,
    id: i64,
    check: impl Fn(&subscription_invoice::Model) -> bool,
) -> subscription_invoice::Model {
    for _ in 0..200 {
        let row = subscription_invoice::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        if check(&row) {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("invoice row {id} never got there");
}

async fn reports_of(app: &TestApp, period: i64) -> Vec<task::Model> {
    task::Entity::find()
        .filter(task::Column::SubscriptionInvoiceId.eq(period))
        .all(&app.db)
        .await
        .unwrap()
}

async fn refund(app: &TestApp, period: &subscription_invoice::Model, amount: i64) {
    let pi = period.stripe_payment_intent_id.clone().unwrap();
    let res = emulator_post(
        app,
        "/v1/refunds",
        &[("payment_intent", &pi), ("amount", &amount.to_string())],
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn a_renewal_refund_takes_back_its_period_and_a_new_price_moves_running_subscriptions_when_asked()
 {
    let mut app = spawn_app().await;
    let (_, care) = retainer_in_cart(&app, 1, 0).await;
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    wait_for_order(&app, order_id, OrderStatus::Completed).await;
    control(&app, "clock/advance", &[("seconds", &MONTH.to_string())]).await;
    let periods = periods_when(&app, 2).await;
    let sub = subscription_when(&app, "with its service", |s| s.service_id.is_some()).await;
    let service_id = sub.service_id.unwrap();

    // A renewal refunded in full: its period's report, not started, goes; the money is back on
    // the dashboard; the first period is untouched.
    let second = &periods[1];
    assert_eq!(reports_of(&app, second.id).await.len(), 1);
    refund(&app, second, 14_900).await;
    invoice_when(&app, second.id, |r| r.refunded_minor == 14_900).await;
    assert!(reports_of(&app, second.id).await.is_empty());
    assert_eq!(reports_of(&app, periods[0].id).await.len(), 1);
    let f = dashboard::figures(
        &app.db,
        &Period::last_days(1, chrono::Utc::now() + chrono::Duration::seconds(1)),
    )
    .await
    .unwrap();
    assert_eq!(f.refunded.get(&Currency::USD), Some(&14_900));

    // The next period's report started, then its renewal refunded in two parts: the first
    // changes no work; the second, in full, keeps the started report and asks a manager.
    control(&app, "clock/advance", &[("seconds", &MONTH.to_string())]).await;
    let third = periods_when(&app, 3).await[2].clone();
    let report = reports_of(&app, third.id).await.remove(0);
    task::Entity::update_many()
        .col_expr(
            task::Column::Status,
            sea_orm::sea_query::Expr::value(TaskStatus::InProgress),
        )
        .filter(task::Column::Id.eq(report.id))
        .exec(&app.db)
        .await
        .unwrap();
    refund(&app, &third, 5_000).await;
    invoice_when(&app, third.id, |r| r.refunded_minor == 5_000).await;
    refund(&app, &third, 9_900).await;
    invoice_when(&app, third.id, |r| r.refunded_minor == 14_900).await;
    assert_eq!(reports_of(&app, third.id).await.len(), 1);
    let service = service::Entity::find_by_id(service_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        service
            .review_reason
            .is_some_and(|r| r.contains("was refunded while its work had started")),
    );

    // A new price, moved to running subscriptions as the admin asked: the next invoice
    // charges it, without a proration line.
    app.switch_browser(crate::harness::browser());
    app.signed_in_as(Role::Admin).await;
    let edit = |price: &'static str, move_them: bool| {
        let mut form = retainer_form("1");
        for (k, v) in &mut form {
            match *k {
                "name" => *v = "Website Care",
                "price" => *v = price,
                "setup_fee" => *v = "0",
                _ => {}
            }
        }
        if move_them {
            form.push(("apply_to_existing", "yes"));
        }
        form
    };
    let res = app
        .post_form(&format!("/admin/templates/{care}"), &edit("199.00", true))
        .await;
    assert_eq!(res.status(), 303);
    let moved =
        subscription_when(&app, "on the new price", |s| s.unit_amount_minor == 19_900).await;
    let template = template_when(&app, care, "synced").await;
    let stripe = emulator_get(
        &app,
        &format!("/v1/subscriptions/{}", moved.stripe_subscription_id),
    )
    .await;
    assert_eq!(
        stripe["items"]["data"][0]["price"]["id"].as_str(),
        template.stripe_price_id.as_deref()
    );
    control(&app, "clock/advance", &[("seconds", &MONTH.to_string())]).await;
    let fourth = periods_when(&app, 4).await[3].clone();
    assert_eq!(fourth.amount_paid, 19_900);
    let invoice = emulator_get(&app, &format!("/v1/invoices/{}", fourth.stripe_invoice_id)).await;
    assert_eq!(invoice["lines"]["data"].as_array().map(Vec::len), Some(1));

    // Left unticked, a new price is for new subscriptions only.
    let res = app
        .post_form(&format!("/admin/templates/{care}"), &edit("249.00", false))
        .await;
    assert_eq!(res.status(), 303);
    for _ in 0..100 {
        let t = template_when(&app, care, "synced").await;
        if t.stripe_price_minor == Some(24_900) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The sync queued no move (the first edit's is the only one).
    let moves = agency_hub::db::entities::job::Entity::find()
        .filter(agency_hub::db::entities::job::Column::Kind.eq("subscriptions.move_to_price"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(moves, 1);
    let stayed = subscription::Entity::find_by_id(moved.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stayed.unit_amount_minor, 19_900);
}

/// Stripe's event `kind` for a renewal invoice `invoice` of `sub`, its period from `start`.
fn renewal_event(
    id: &str,
    kind: &str,
    invoice: &str,
    sub: &str,
    start: i64,
) -> (agency_hub::stripe::events::Event, String) {
    let body = json!({
        "id": id, "object": "event", "type": kind, "created": start,
        "data": {"object": {
            "id": invoice, "object": "invoice", "status": "paid", "number": format!("N-{invoice}"),
            "billing_reason": "subscription_cycle", "subscription": sub,
            "subscription_details": {"metadata": {}}, "customer": "cus_x", "currency": "usd",
            "amount_due": 14_900, "amount_paid": 14_900, "attempt_count": 1,
            "hosted_invoice_url": format!("https://pay.example/{invoice}"),
            "invoice_pdf": null, "payment_intent": format!("pi_{invoice}"),
            "charge": format!("ch_{invoice}"), "created": start,
            "lines": {"object": "list", "data": [{"type": "subscription", "amount": 14_900,
                "quantity": 1, "period": {"start": start, "end": start + MONTH}}]}
        }}
    });
    (
        serde_json::from_value(body.clone()).unwrap(),
        body.to_string(),
    )
}

#[tokio::test]
async fn renewals_arriving_together_with_other_events_each_get_their_outcome_once() {
    use agency_hub::stripe_events::{Handled, handle_many};
    let app = spawn_app().await;
    retainer_in_cart(&app, 1, 0).await;
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    wait_for_order(&app, order_id, OrderStatus::Completed).await;
    let sub = subscription_when(&app, "with its service", |s| s.service_id.is_some()).await;
    periods_when(&app, 1).await;
    let (stripe_id, start) = (
        sub.stripe_subscription_id.as_str(),
        sub.current_period_end.unwrap().timestamp(),
    );

    let batch = [
        renewal_event("evt_r1", "invoice.paid", "in_r1", stripe_id, start),
        renewal_event("evt_r1", "invoice.paid", "in_r1", stripe_id, start),
        renewal_event("evt_r2", "invoice.finalized", "in_r1", stripe_id, start),
        renewal_event("evt_r3", "invoice.paid", "in_x", "sub_not_ours", start),
        renewal_event(
            "evt_r4",
            "invoice.payment_failed",
            "in_y",
            "sub_not_ours",
            start,
        ),
        // The same invoice under another event id: paid already.
        renewal_event("evt_r5", "invoice.paid", "in_r1", stripe_id, start),
    ];
    let handled: Vec<Handled> = handle_many(&app.db, &batch)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        handled,
        [
            Handled::Processed("period_paid"),
            Handled::Duplicate,
            Handled::Processed("ignored"),
            Handled::Processed("unknown_subscription"),
            Handled::Processed("unknown_subscription"),
            Handled::Processed("already_paid"),
        ]
    );
    // One period: its row paid with Stripe's links, its report, the subscription moved on, one
    // receipt; the event recorded against the order.
    let periods = periods_when(&app, 2).await;
    assert_eq!(periods.len(), 2);
    let renewed = &periods[1];
    assert_eq!(renewed.stripe_invoice_id, "in_r1");
    assert_eq!(
        renewed.hosted_invoice_url.as_deref(),
        Some("https://pay.example/in_r1")
    );
    assert_eq!(reports_of(&app, renewed.id).await.len(), 1);
    let moved = subscription::Entity::find_by_id(sub.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        moved.current_period_end.map(|t| t.timestamp()),
        Some(start + MONTH)
    );
    let receipts: Vec<String> = email_kinds(&app)
        .await
        .into_iter()
        .filter(|k| k == "subscription_renewed")
        .collect();
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    let row = agency_hub::db::entities::stripe_event::Entity::find_by_id("evt_r1".to_string())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.outcome.as_str(), row.order_id),
        ("period_paid", Some(order_id))
    );

    // Delivered again, together: nothing more.
    let again: Vec<Handled> = handle_many(&app.db, &batch[..3])
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(again, [Handled::Duplicate; 3]);
    assert_eq!(reports_of(&app, renewed.id).await.len(), 1);
}

#[tokio::test]
async fn the_api_lists_subscriptions_by_scope_and_an_admin_token_cancels_one() {
    let mut app = spawn_app().await;
    retainer_in_cart(&app, 1, 0).await;
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    wait_for_order(&app, order_id, OrderStatus::Completed).await;
    let sub = subscription_when(&app, "active with its period", |s| {
        s.current_period_end.is_some()
    })
    .await;
    let base = app.url("");
    let send = |token: &str, method: reqwest::Method, path: &str| {
        crate::harness::browser()
            .request(method, format!("{base}{path}"))
            .header("Authorization", format!("Bearer {token}"))
    };

    // The client's token sees its company's subscription, not the staff's actions.
    let mine = crate::tokens::make_token(&app, &[("subscriptions", "write")]).await;
    let res = send(&mine, reqwest::Method::GET, "/api/subscriptions")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"][0]["id"], sub.id.get());
    assert_eq!(body["data"][0]["name"], "Website Care");
    let res = send(
        &mine,
        reqwest::Method::POST,
        &format!("/api/subscriptions/{}/actions", sub.id),
    )
    .json(&json!({"action": "cancel"}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 403);

    crate::orders::as_admin(&mut app).await;
    let admin = crate::tokens::make_token(&app, &[("subscriptions", "write")]).await;
    let list = |query: &'static str| {
        send(
            &admin,
            reqwest::Method::GET,
            &format!("/api/subscriptions{query}"),
        )
        .send()
    };
    let body: Value = list("?status=active").await.unwrap().json().await.unwrap();
    assert_eq!(body["pagination"]["totalItems"], 1);
    assert_eq!(body["data"][0]["clientName"], "Acme Corp");
    let body: Value = list("?status=canceled")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["pagination"]["totalItems"], 0);
    let res = list("?status=sleeping").await.unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "status");

    let act = |action: &'static str| {
        send(
            &admin,
            reqwest::Method::POST,
            &format!("/api/subscriptions/{}/actions", sub.id),
        )
        .json(&json!({ "action": action }))
        .send()
    };
    let res = act("explode").await.unwrap();
    assert_eq!(res.status(), 400);
    let res = act("cancel").await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["cancelAtPeriodEnd"], true);
    assert_eq!(body["invoices"].as_array().unwrap().len(), 1);
    let stored = subscription::Entity::find_by_id(sub.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.cancel_at_period_end, "Stripe's answer was recorded");
    // Twice is a conflict, not a second call.
    assert_eq!(act("cancel").await.unwrap().status(), 409);
}
