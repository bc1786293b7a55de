//! A Stripe event whose handling failed is kept, shown, and handled again.

use agency_hub::db::entities::stripe_event;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::harness::spawn_app;
use crate::purchase::{paid_order, post_event};

use super::{as_admin, reload};

#[tokio::test]
async fn a_failed_event_is_kept_shown_and_handled_when_retried_or_delivered_again() {
    let mut app = spawn_app().await;
    let o = paid_order(&app).await;
    as_admin(&mut app).await;
    let pi = o.stripe_payment_intent_id.clone().unwrap();
    let good = |id: &str| {
        json!({"id": id, "object": "event", "type": "charge.refunded", "data": {"object": {
            "id": "ch_1", "object": "charge", "amount": 119_900, "amount_refunded": 19_900,
            "currency": "usd", "payment_intent": pi}}})
    };
    let mut broken = good("evt_broken");
    broken["data"]["object"]["amount"] = json!("lots");

    // Handling fails: the event is kept with its error, and health shows it.
    assert_eq!(post_event(&app, &broken).await.status(), 400);
    let row = stripe_event::Entity::find_by_id("evt_broken".to_string())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.outcome, "failed");
    assert!(row.error.unwrap().contains("charge"));
    let dashboard = app.page("/dashboard").await;
    assert!(
        dashboard.contains("1 event failed processing") && dashboard.contains("evt_broken"),
        "{dashboard}"
    );

    // Retrying the same body fails again and keeps it.
    let res = app
        .post_form("/admin/stripe-events/evt_broken/retry", &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(reload(&app, o.id).await.refunded_minor, 0);

    // Stripe delivers it again, readable this time: handled once.
    assert_eq!(post_event(&app, &good("evt_broken")).await.status(), 200);
    let row = stripe_event::Entity::find_by_id("evt_broken".to_string())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.outcome.as_str(), row.payload), ("refunded", None));
    assert_eq!(reload(&app, o.id).await.refunded_minor, 19_900);
    assert_eq!(
        post_event(&app, &good("evt_broken"))
            .await
            .json::<Value>()
            .await
            .unwrap()["outcome"],
        "duplicate"
    );

    // A failed event whose stored body now reads is handled by the retry button.
    let mut later = good("evt_later");
    later["data"]["object"]["amount_refunded"] = json!("x");
    assert_eq!(post_event(&app, &later).await.status(), 400);
    let fixed = good("evt_later").to_string().replace("19900", "29900");
    stripe_event::Entity::update_many()
        .col_expr(stripe_event::Column::Payload, Expr::value(fixed))
        .filter(stripe_event::Column::Id.eq("evt_later"))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(
        app.post_form("/admin/stripe-events/evt_later/retry", &[])
            .await
            .status(),
        303
    );
    assert_eq!(reload(&app, o.id).await.refunded_minor, 29_900);
    assert!(!app.page("/dashboard").await.contains("failed processing"));
    // Retrying what did not fail is refused.
    let res = app
        .post_form("/admin/stripe-events/evt_later/retry", &[])
        .await;
    assert_eq!(res.status(), 303);
    let page = app.page("/admin/orders").await;
    assert!(page.contains("did not fail"), "{page}");
}
