//! Refunds from the admin's page and from Stripe's dashboard reach the same state.

use agency_hub::db::entities::order::{OrderStatus, PaymentStatus};
use agency_hub::db::entities::service::ServiceStatus;
use agency_hub::db::entities::task::TaskStatus;
use agency_hub::db::entities::{service, stripe_event, task};
use agency_hub::ids::{OrderId, ServiceId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::harness::{TestApp, browser, spawn_app};
use crate::purchase::{control, emulator_events, paid_order, post_event, wait_for_order};

use super::{actions_on, as_admin, emails_of_kind, reload, services_of};

#[tokio::test]
async fn a_partial_then_a_full_refund_from_the_admin_cancels_unstarted_services_and_flags_the_others()
 {
    let mut app = spawn_app().await;
    let o = paid_order(&app).await;
    let client_browser = as_admin(&mut app).await;
    let logo = start_the_logo_work_but_not_the_audits(&app, o.id).await;
    let path = format!("/admin/orders/{}/refund", o.id);

    a_first_step_only_asks_for_a_confirmation(&app, &path, o.id).await;
    a_confirmed_partial_refund_leaves_the_services_alone(&app, &path, o.id).await;
    a_bad_amount_or_reason_is_refused_by_name(&app, &path, o.id).await;
    more_than_remains_is_refused_with_what_remains(&app, &path, o.id).await;
    the_rest_refunded_cancels_the_audits_and_flags_the_logo(&app, &path, o.id, logo).await;
    // The admin's page lists the service to decide on; Stripe's events change nothing more.
    let page = app.page(&format!("/admin/orders/{}", o.id)).await;
    assert!(
        page.contains("work had started: finish it or cancel it"),
        "{page}"
    );
    wait_for_refund_events(&app, 2).await;
    assert_eq!(reload(&app, o.id).await.refunded_minor, 119_900);
    assert_each_refund_told_and_logged(&app, o.id).await;

    going_on_with_the_flagged_service_clears_its_flag_once(&app, logo).await;

    // The client sees it refunded.
    app.switch_browser(client_browser);
    let mine = app.page(&format!("/store/orders/{}", o.id)).await;
    assert!(
        mine.contains("Refunded") && mine.contains("-$1,199.00"),
        "{mine}"
    );
}

/// Starts the Logo Design service's task; returns the service.
async fn start_the_logo_work_but_not_the_audits(app: &TestApp, order: OrderId) -> ServiceId {
    let services = services_of(app, order).await;
    assert_eq!(services.len(), 3);
    let logo = services
        .iter()
        .find(|s| s.name == "Logo Design")
        .unwrap()
        .id;
    task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(TaskStatus::InProgress))
        .filter(task::Column::ServiceId.eq(logo))
        .exec(&app.db)
        .await
        .unwrap();
    logo
}

async fn a_first_step_only_asks_for_a_confirmation(app: &TestApp, path: &str, order: OrderId) {
    let res = app
        .post_form(
            path,
            &[("amount", "100"), ("reason", "requested_by_customer")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Confirm the refund of $100.00"), "{html}");
    assert_eq!(
        reload(app, order).await.refunded_minor,
        0,
        "nothing refunded yet"
    );
}

async fn a_confirmed_partial_refund_leaves_the_services_alone(
    app: &TestApp,
    path: &str,
    order: OrderId,
) {
    let res = app
        .post_form(
            path,
            &[
                ("amount", "100"),
                ("reason", "requested_by_customer"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let partly = reload(app, order).await;
    assert_eq!(
        (partly.refunded_minor, partly.status),
        (10_000, OrderStatus::Completed)
    );
    assert!(
        services_of(app, order)
            .await
            .iter()
            .all(|s| s.status == ServiceStatus::ToDo && s.review_reason.is_none())
    );
}

/// An amount that is not one, and a reason Stripe does not know, are refused by name.
async fn a_bad_amount_or_reason_is_refused_by_name(app: &TestApp, path: &str, order: OrderId) {
    for (amount, reason, says) in [
        ("lots", "duplicate", "is not an amount"),
        ("0", "duplicate", "above zero"),
        ("10", "whim", "Choose a reason"),
    ] {
        let res = app
            .post_form(
                path,
                &[("amount", amount), ("reason", reason), ("confirm", "yes")],
            )
            .await;
        assert_eq!(res.status(), 400, "{amount} {reason}");
        assert!(res.text().await.unwrap().contains(says), "{says}");
    }
    assert_eq!(reload(app, order).await.refunded_minor, 10_000);
}

async fn more_than_remains_is_refused_with_what_remains(app: &TestApp, path: &str, order: OrderId) {
    let res = app
        .post_form(
            path,
            &[
                ("amount", "1100"),
                ("reason", "requested_by_customer"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("At most $1,099.00 remains to refund"),
        "{html}"
    );
    assert_eq!(reload(app, order).await.refunded_minor, 10_000);
}

async fn the_rest_refunded_cancels_the_audits_and_flags_the_logo(
    app: &TestApp,
    path: &str,
    order: OrderId,
    logo: ServiceId,
) {
    let res = app
        .post_form(
            path,
            &[
                ("amount", "1099"),
                ("reason", "duplicate"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let refunded = reload(app, order).await;
    assert_eq!(
        (
            refunded.status,
            refunded.payment_status,
            refunded.refunded_minor
        ),
        (OrderStatus::Refunded, PaymentStatus::Refunded, 119_900)
    );
    let after = services_of(app, order).await;
    let logo_after = after.iter().find(|s| s.id == logo).unwrap();
    assert_eq!(
        logo_after.status,
        ServiceStatus::ToDo,
        "started work is left to a manager"
    );
    assert!(logo_after.review_reason.is_some());
    assert_eq!(
        after
            .iter()
            .filter(|s| s.status == ServiceStatus::Cancelled)
            .count(),
        2
    );
}

/// The client is emailed once a refund, the staff each time (with the service to review), and
/// each refund is logged.
async fn assert_each_refund_told_and_logged(app: &TestApp, order: OrderId) {
    assert_eq!(
        emails_of_kind(app, "refund_issued").await.len(),
        2,
        "the client, once a refund"
    );
    let staff = emails_of_kind(app, "order_refunded").await;
    assert_eq!(staff.len(), 4, "manager and admin, each refund");
    assert!(
        staff
            .iter()
            .any(|e| e.payload["to_review"] == json!(["Logo Design"]))
    );
    assert_eq!(actions_on(app, order, "order.refunded").await.len(), 2);
}

/// A manager decides on the flagged service from its page.
async fn going_on_with_the_flagged_service_clears_its_flag_once(app: &TestApp, logo: ServiceId) {
    let service_page = app.page(&format!("/services/{logo}")).await;
    assert!(service_page.contains("data-review") && service_page.contains("Go on with the work"));
    assert_eq!(
        app.post_form(&format!("/services/{logo}/keep"), &[])
            .await
            .status(),
        303
    );
    let kept = service::Entity::find_by_id(logo)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.status, kept.review_reason),
        (ServiceStatus::ToDo, None)
    );
    assert_eq!(
        app.post_form(&format!("/services/{logo}/keep"), &[])
            .await
            .status(),
        409
    );
    assert!(
        !app.page(&format!("/services/{logo}"))
            .await
            .contains("data-review")
    );
}

/// Waits until the app has recorded `n` charge.refunded events.
async fn wait_for_refund_events(app: &TestApp, n: u64) {
    for _ in 0..200 {
        let got = stripe_event::Entity::find()
            .filter(stripe_event::Column::EventType.eq("charge.refunded"))
            .count(&app.db)
            .await
            .unwrap();
        if got >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{n} charge.refunded events never arrived");
}

#[tokio::test]
async fn a_refund_made_in_stripes_dashboard_gives_the_same_state_and_duplicates_change_nothing() {
    let app = spawn_app().await;
    let o = paid_order(&app).await;
    let pi = o.stripe_payment_intent_id.clone().unwrap();
    // A refund in Stripe's dashboard: the app hears of it only by charge.refunded.
    let res = browser()
        .post(format!("{}/v1/refunds", app.emulator))
        .bearer_auth("sk_test_tests")
        .form(&[("payment_intent", pi.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let refunded = wait_for_order(&app, o.id, OrderStatus::Refunded).await;
    assert_eq!(
        (refunded.payment_status, refunded.refunded_minor),
        (PaymentStatus::Refunded, 119_900)
    );
    assert!(
        services_of(&app, o.id)
            .await
            .iter()
            .all(|s| s.status == ServiceStatus::Cancelled)
    );
    assert_eq!(emails_of_kind(&app, "refund_issued").await.len(), 1);

    // The same event three more times, and an older figure arriving late: nothing changes.
    let event = emulator_events(&app, "charge.refunded").await.remove(0);
    let id = event["id"].as_str().unwrap();
    control(&app, &format!("events/{id}/deliver"), &[("times", "3")]).await;
    let mut stale = event.clone();
    stale["id"] = json!("evt_stale_partial");
    stale["data"]["object"]["amount_refunded"] = json!(5_000);
    let res = post_event(&app, &stale).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["outcome"], "ignored");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(reload(&app, o.id).await.refunded_minor, 119_900);
    assert_eq!(emails_of_kind(&app, "refund_issued").await.len(), 1);
    assert_eq!(actions_on(&app, o.id, "order.refunded").await.len(), 1);
}
