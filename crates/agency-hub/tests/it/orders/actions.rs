//! What staff do on an order's page: cancel, run fulfilment again, notes; who may.

use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::{order_item, service, task};
use agency_hub::ids::{OrderId, ServiceId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::harness::{PASSWORD, TestApp, browser, spawn_app};
use crate::purchase::{emulator_get, paid_order, start_checkout};

use super::{actions_on, as_admin, reload, services_of};

#[tokio::test]
async fn an_admin_cancels_a_pending_order_and_runs_fulfilment_again_and_both_are_logged() {
    let mut app = spawn_app().await;
    let paid = paid_order(&app).await;
    let pending = a_second_unpaid_checkout(&app, &paid).await;
    as_admin(&mut app).await;

    cancelling_expires_its_session_and_is_logged(&app, pending).await;
    // A paid order cannot be cancelled.
    let res = app
        .post_form(&format!("/admin/orders/{}/cancel", paid.id), &[])
        .await;
    assert_eq!(res.status(), 409);

    lose_the_services_of(&app, &paid).await;
    running_fulfilment_again_twice_makes_them_once(&app, &paid).await;
    a_flagged_order_is_shown_until_marked_reviewed_once(&app, &paid).await;
}

/// Another unit of the paid order's first service, checked out but not paid.
async fn a_second_unpaid_checkout(app: &TestApp, paid: &order::Model) -> OrderId {
    let item = order_item::Entity::find()
        .filter(order_item::Column::OrderId.eq(paid.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let added = app
        .post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": item.template_id, "quantity": 1}),
        )
        .await;
    assert_eq!(added.status(), 201);
    let (pending, _) = start_checkout(app).await;
    pending
}

async fn cancelling_expires_its_session_and_is_logged(app: &TestApp, pending: OrderId) {
    let res = app
        .post_form(&format!("/admin/orders/{pending}/cancel"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let cancelled = reload(app, pending).await;
    assert_eq!(
        (cancelled.status, cancelled.payment_status),
        (OrderStatus::Cancelled, PaymentStatus::Cancelled)
    );
    let session = emulator_get(
        app,
        &format!(
            "/v1/checkout/sessions/{}",
            cancelled.stripe_session_id.unwrap()
        ),
    )
    .await;
    assert_eq!(session["status"], "expired");
    let logged = actions_on(app, pending, "order.cancelled").await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].actor_name, "Admin user");
}

/// Deletes the order's services and their tasks; the order list then flags it.
async fn lose_the_services_of(app: &TestApp, paid: &order::Model) {
    let lost: Vec<ServiceId> = services_of(app, paid.id)
        .await
        .iter()
        .map(|s| s.id)
        .collect();
    task::Entity::delete_many()
        .filter(task::Column::ServiceId.is_in(lost.clone()))
        .exec(&app.db)
        .await
        .unwrap();
    service::Entity::delete_many()
        .filter(service::Column::Id.is_in(lost))
        .exec(&app.db)
        .await
        .unwrap();
    let health = app.page("/admin/orders").await;
    assert!(
        health.contains("without their services") && health.contains(&paid.order_number),
        "{health}"
    );
}

async fn running_fulfilment_again_twice_makes_them_once(app: &TestApp, paid: &order::Model) {
    for _ in 0..2 {
        let res = app
            .post_form(&format!("/admin/orders/{}/fulfil", paid.id), &[])
            .await;
        assert_eq!(res.status(), 303);
    }
    assert_eq!(services_of(app, paid.id).await.len(), 3);
    assert_eq!(
        actions_on(app, paid.id, "order.fulfilment_rerun")
            .await
            .len(),
        2
    );
    assert_eq!(actions_on(app, paid.id, "order.provisioned").await.len(), 1);
    assert!(
        !app.page("/admin/orders")
            .await
            .contains("without their services")
    );
}

async fn a_flagged_order_is_shown_until_marked_reviewed_once(app: &TestApp, paid: &order::Model) {
    order::Entity::update_many()
        .col_expr(order::Column::ReviewReason, Expr::value("Checked by hand."))
        .filter(order::Column::Id.eq(paid.id))
        .exec(&app.db)
        .await
        .unwrap();
    assert!(app.page("/admin/orders").await.contains("Checked by hand."));
    let reviewed = format!("/admin/orders/{}/reviewed", paid.id);
    assert_eq!(app.post_form(&reviewed, &[]).await.status(), 303);
    assert_eq!(reload(app, paid.id).await.review_reason, None);
    assert_eq!(actions_on(app, paid.id, "order.reviewed").await.len(), 1);
    assert_eq!(app.post_form(&reviewed, &[]).await.status(), 409);
}

#[tokio::test]
async fn a_manager_reads_orders_and_writes_notes_but_cannot_refund_or_cancel() {
    let mut app = spawn_app().await;
    let o = paid_order(&app).await;
    app.switch_browser(browser());
    assert_eq!(
        app.sign_in("manager@example.com", PASSWORD).await.status(),
        303
    );
    assert!(app.page("/admin/orders").await.contains(&o.order_number));
    let page = app.page(&format!("/admin/orders/{}", o.id)).await;
    assert!(
        page.contains("Refunds, cancelling and fulfilment are for admins"),
        "{page}"
    );
    for action in ["refund", "cancel", "fulfil", "reviewed"] {
        let res = app
            .post_form(
                &format!("/admin/orders/{}/{action}", o.id),
                &[
                    ("amount", "10"),
                    ("reason", "duplicate"),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(res.status(), 403, "{action}");
    }
    assert_eq!(reload(&app, o.id).await.refunded_minor, 0);

    let res = app
        .post_form(
            &format!("/admin/orders/{}/notes", o.id),
            &[("body", "Called the client: all good.")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(&format!("/admin/orders/{}/notes", o.id), &[("body", "   ")])
        .await;
    assert_eq!(res.status(), 400);
    let page = app.page(&format!("/admin/orders/{}", o.id)).await;
    assert!(
        page.contains("Called the client: all good.") && page.contains("Manager user"),
        "{page}"
    );
    assert_eq!(
        page.matches("<li><p>").count(),
        1,
        "the blank note was not kept"
    );
}
