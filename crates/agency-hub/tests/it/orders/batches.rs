//! Stripe's payment events that arrive together are handled in one transaction
//! (`stripe_events::Batcher`): each still gets its own outcome, its order provisioned once, and
//! a batch that cannot be handled whole is handled one event at a time.

use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{cart, email, order_item, stripe_event, task};
use agency_hub::ids::{ClientId, OrderId, TemplateId, UserId};
use agency_hub::money::Currency;
use agency_hub::stripe::events::Event;
use agency_hub::stripe_events::{Handled, handle_many};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use super::{reload, services_of};
use crate::fixtures;
use crate::harness::{TestApp, spawn_app_without_background_work};

#[tokio::test]
async fn payments_arriving_together_each_get_their_own_outcome_once() {
    let app = spawn_app_without_background_work().await;
    let template = fixtures::for_sale(&app.db, "Logo Design", "Design", "50.00", "USD", 5).await;
    let buyer = app
        .create_user(Role::Client, "buyer@acme.example", Some("Acme"))
        .await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    let acme = buyer.client_id.unwrap();
    let (two_logos, one_logo, underpaid) = (
        pending(&app, acme, buyer.id, template.id, 2).await,
        pending(&app, acme, buyer.id, template.id, 1).await,
        pending(&app, acme, buyer.id, template.id, 1).await,
    );

    let batch = [
        paid(
            "evt_a",
            "checkout.session.completed",
            two_logos.get(),
            10_000,
        ),
        paid("evt_b", "checkout.session.completed", one_logo.get(), 5_000),
        paid(
            "evt_a",
            "checkout.session.completed",
            two_logos.get(),
            10_000,
        ),
        paid("evt_c", "checkout.session.completed", underpaid.get(), 100),
        paid("evt_d", "checkout.session.completed", 999_999, 5_000),
        paid(
            "evt_e",
            "checkout.session.async_payment_succeeded",
            one_logo.get(),
            5_000,
        ),
    ];
    let handled: Vec<Handled> = handle_many(&app.db, &batch)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        handled,
        [
            Handled::Processed("fulfilled"),
            Handled::Processed("fulfilled"),
            Handled::Duplicate,
            Handled::Processed("flagged"),
            Handled::Processed("unknown_order"),
            Handled::Processed("already_fulfilled"),
        ]
    );
    assert_each_order_as_paid(&app, two_logos, one_logo, underpaid).await;
    assert_each_event_recorded_with_its_outcome(&app, two_logos, one_logo, underpaid).await;

    // Delivered again, together: nothing more.
    let again: Vec<Handled> = handle_many(&app.db, &batch[..2])
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(again, [Handled::Duplicate, Handled::Duplicate]);
    assert_eq!(task::Entity::find().count(&app.db).await.unwrap(), 3);

    // An event that does not read fails alone; the one with it is handled.
    let last = pending(&app, acme, buyer.id, template.id, 1).await;
    let unreadable = event(json!({
        "id": "evt_unreadable", "object": "event", "type": "checkout.session.completed",
        "data": {"object": {"object": "checkout.session", "payment_status": 42}}
    }));
    let mixed = [
        unreadable,
        paid("evt_f", "checkout.session.completed", last.get(), 5_000),
    ];
    let handled = handle_many(&app.db, &mixed).await;
    let refused = handled[0].as_ref().unwrap_err();
    assert_eq!(refused.status, 400, "{refused}");
    assert_eq!(
        handled[1].as_ref().unwrap(),
        &Handled::Processed("fulfilled")
    );
    assert_eq!(services_of(&app, last).await.len(), 1);
    let kept = stripe_event::Entity::find_by_id("evt_unreadable".to_string())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.outcome, "failed", "kept with its body, for a retry");
}

async fn assert_each_order_as_paid(app: &TestApp, two: OrderId, one: OrderId, underpaid: OrderId) {
    for (id, units) in [(two, 2), (one, 1)] {
        let order = reload(app, id).await;
        assert_eq!(
            (order.status, order.payment_status),
            (OrderStatus::Completed, PaymentStatus::Succeeded)
        );
        assert_eq!(order.stripe_payment_intent_id, Some(format!("pi_{id}")));
        assert_eq!(services_of(app, id).await.len(), units, "order {id}");
    }
    let flagged = reload(app, underpaid).await;
    assert_eq!(flagged.status, OrderStatus::Pending);
    assert!(flagged.review_reason.unwrap().contains("100"));
    assert!(services_of(app, underpaid).await.is_empty());
    // One task per service; the buyer's two confirmations; the admin told of each service and
    // of the flag; the cart emptied.
    assert_eq!(task::Entity::find().count(&app.db).await.unwrap(), 3);
    let kinds = |kind: &'static str| async move {
        email::Entity::find()
            .filter(email::Column::Kind.eq(kind))
            .count(&app.db)
            .await
            .unwrap()
    };
    assert_eq!(kinds("order_confirmation").await, 2);
    assert_eq!(kinds("new_service").await, 3);
    assert_eq!(kinds("order_flagged").await, 1);
    assert_eq!(cart::Entity::find().count(&app.db).await.unwrap(), 0);
}

async fn assert_each_event_recorded_with_its_outcome(
    app: &TestApp,
    two: OrderId,
    one: OrderId,
    underpaid: OrderId,
) {
    let rows = stripe_event::Entity::find().all(&app.db).await.unwrap();
    let mut recorded: Vec<(String, String, Option<i64>)> = rows
        .into_iter()
        .map(|e| (e.id, e.outcome, e.order_id.map(|o| o.get())))
        .collect();
    recorded.sort();
    assert_eq!(
        recorded,
        [
            ("evt_a".into(), "fulfilled".into(), Some(two.get())),
            ("evt_b".into(), "fulfilled".into(), Some(one.get())),
            ("evt_c".into(), "flagged".into(), Some(underpaid.get())),
            ("evt_d".into(), "unknown_order".into(), Some(999_999)),
            ("evt_e".into(), "already_fulfilled".into(), Some(one.get())),
        ]
    );
}

/// A pending order of `units` logos at $50, with the client's cart still full.
pub(super) async fn pending(
    app: &TestApp,
    client: ClientId,
    buyer: UserId,
    template: TemplateId,
    units: i32,
) -> OrderId {
    let total = 5_000 * i64::from(units);
    let now = chrono::Utc::now();
    let o = order::Entity::insert(order::ActiveModel {
        order_number: Set(format!(
            "T-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        )),
        client_id: Set(client),
        user_id: Set(Some(buyer)),
        status: Set(OrderStatus::Pending),
        payment_status: Set(PaymentStatus::Pending),
        currency: Set(Currency::USD),
        subtotal_minor: Set(total),
        total_minor: Set(total),
        notes: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(&app.db)
    .await
    .unwrap();
    order_item::Entity::insert(order_item::ActiveModel {
        order_id: Set(o.id),
        template_id: Set(template),
        service_name: Set("Logo Design".into()),
        unit_price_minor: Set(5_000),
        quantity: Set(units),
        total_minor: Set(total),
        ..Default::default()
    })
    .exec_without_returning(&app.db)
    .await
    .unwrap();
    cart::Entity::insert(cart::ActiveModel {
        client_id: Set(client),
        created_at: Set(now),
        updated_at: Set(now),
        expires_at: Set(now + chrono::Duration::days(30)),
        ..Default::default()
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(cart::Column::ClientId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&app.db)
    .await
    .unwrap();
    o.id
}

/// A paid session's event for `order`, with its body as received.
pub(super) fn paid(id: &str, kind: &str, order: i64, amount: i64) -> (Event, String) {
    event(json!({
        "id": id, "object": "event", "type": kind,
        "data": {"object": {"id": format!("cs_{order}"), "object": "checkout.session", "status": "complete",
            "payment_status": "paid", "amount_subtotal": amount, "amount_total": amount, "currency": "usd",
            "client_reference_id": order.to_string(), "payment_intent": format!("pi_{order}"), "metadata": {}}}
    }))
}

fn event(body: serde_json::Value) -> (Event, String) {
    (
        serde_json::from_value(body.clone()).unwrap(),
        body.to_string(),
    )
}
