//! Recommendations: counted as orders are paid and services viewed, never from a scan of all
//! orders per page; an offline check on a generated history; what the pages show.

use std::collections::HashSet;

use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::order_item;
use agency_hub::db::entities::service_template;
use agency_hub::db::entities::user::Role;
use agency_hub::engagement::recommendations;
use agency_hub::ids::ClientId;
use agency_hub::money::Currency;
use chrono::{Duration, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::json;

use crate::fixtures;
use crate::harness::{TestApp, spawn_app};
use crate::purchase::{pay, start_checkout, wait_for_order};

/// A paid order of `templates` for `client`, paid `days_ago`.
async fn paid(
    app: &TestApp,
    client: ClientId,
    n: usize,
    templates: &[&service_template::Model],
    days_ago: i64,
) {
    let at = Utc::now() - Duration::days(days_ago);
    let o = order::Entity::insert(order::ActiveModel {
        order_number: Set(format!("GEN-{n:05}")),
        client_id: Set(client),
        user_id: Set(None),
        status: Set(OrderStatus::Completed),
        payment_status: Set(PaymentStatus::Succeeded),
        currency: Set(Currency::USD),
        subtotal_minor: Set(1000),
        discount_minor: Set(0),
        tax_minor: Set(0),
        total_minor: Set(1000),
        refunded_minor: Set(0),
        paid_at: Set(Some(at)),
        notes: Set(String::new()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    })
    .exec_with_returning(&app.db)
    .await
    .unwrap();
    for t in templates {
        order_item::Entity::insert(order_item::ActiveModel {
            order_id: Set(o.id),
            template_id: Set(t.id),
            service_name: Set(t.name.clone()),
            unit_price_minor: Set(1000),
            quantity: Set(1),
            total_minor: Set(1000),
            intake: Set(json!([])),
            ..Default::default()
        })
        .exec_without_returning(&app.db)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn clients_who_buy_a_then_b_make_b_the_first_recommendation_for_a() {
    let app = spawn_app().await;
    let a = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let b = fixtures::for_sale(&app.db, "Brand Guide", "Design", "900", "USD", 3).await;
    let c = fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 3).await;
    let d = fixtures::for_sale(&app.db, "Landing Page", "Web", "800", "USD", 3).await;
    // A generated history: 24 companies buy A, and 18 of them B later; C and D are bought
    // with A now and then, and with each other.
    let mut n = 0;
    for i in 0..24 {
        let company = fixtures::company(&app.db, &format!("Company {i:02}")).await;
        n += 1;
        let with_a: Vec<&service_template::Model> = match i % 6 {
            0 => vec![&a, &c],
            1 => vec![&a, &d],
            _ => vec![&a],
        };
        paid(&app, company.id, n, &with_a, 60).await;
        if i % 4 != 3 {
            n += 1;
            paid(&app, company.id, n, &[&b], 30).await;
        }
        if i % 8 == 0 {
            n += 1;
            paid(&app, company.id, n, &[&c, &d], 10).await;
        }
    }
    recommendations::recount_purchases(&app.db).await.unwrap();

    let with_a = recommendations::bought_with(&app.db, a.id, 4)
        .await
        .unwrap();
    let names: Vec<&str> = with_a.iter().map(|t| t.name.as_str()).collect();
    // B with 18 companies, then D with 7 (4 with A, 3 with C later), C with 6 (4 + 2 new).
    assert_eq!(names, ["Brand Guide", "Landing Page", "SEO Audit"]);

    // A company that bought only A is told B first; one that bought A and B, not them again.
    let lone = fixtures::company(&app.db, "Newcomer").await;
    paid(&app, lone.id, 999, &[&a], 1).await;
    recommendations::recount_purchases(&app.db).await.unwrap();
    let for_lone = recommendations::for_company(&app.db, lone.id, &HashSet::new(), 4)
        .await
        .unwrap();
    assert_eq!(for_lone[0].id, b.id);
    assert!(for_lone.iter().all(|t| t.id != a.id));
    let saved = HashSet::from([b.id]);
    let without_saved = recommendations::for_company(&app.db, lone.id, &saved, 4)
        .await
        .unwrap();
    assert!(
        without_saved.iter().all(|t| t.id != b.id),
        "not what they saved"
    );
}

#[tokio::test]
async fn a_purchase_and_views_are_counted_as_they_happen_and_shown() {
    let mut app = spawn_app().await;
    app.create_user(Role::Manager, "manager@example.com", None)
        .await;
    let a = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let b = fixtures::for_sale(&app.db, "Brand Guide", "Design", "900", "USD", 3).await;
    let c = fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 3).await;
    let workshop = fixtures::for_sale(&app.db, "Brand Workshop", "Design", "300", "USD", 3).await;
    // Another company bought A and B before, and a workshop on its own.
    let other = fixtures::company(&app.db, "Globex Inc").await;
    paid(&app, other.id, 1, &[&a, &b], 20).await;
    paid(&app, other.id, 2, &[&workshop], 10).await;
    recommendations::recount_purchases(&app.db).await.unwrap();

    // Acme buys A and B through the store: the counts move in the payment's transaction.
    app.signed_in_as(Role::Client).await;
    for t in [&a, &b] {
        let res = app
            .post_json(
                "/api/cart/items",
                &json!({"serviceTemplateId": t.id, "quantity": 1}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242424242424242").await.status(), 303);
    wait_for_order(&app, order_id, OrderStatus::Completed).await;
    let together = recommendations::bought_with(&app.db, a.id, 4)
        .await
        .unwrap();
    assert_eq!(
        together.iter().map(|t| t.id).collect::<Vec<_>>(),
        [b.id],
        "two companies bought both"
    );
    let page = app.page(&format!("/store/{}", a.id)).await;
    let section = &page[page.find("Often bought together").expect("the section")..];
    assert!(section.contains("Brand Guide"), "{section}");

    // Views: the client looks at A then C; the pass counts them, once.
    app.page(&format!("/store/{}", a.id)).await;
    app.page(&format!("/store/{}", c.id)).await;
    let second = app.switch_browser(crate::harness::browser());
    app.create_user(Role::Client, "pat@acme.example", Some("Acme Corp"))
        .await;
    assert_eq!(
        app.sign_in("pat@acme.example", crate::harness::PASSWORD)
            .await
            .status(),
        303
    );
    app.page(&format!("/store/{}", c.id)).await;
    app.page(&format!("/store/{}", a.id)).await;
    app.switch_browser(second);
    // The views are written in batches: flush, then count.
    for _ in 0..100 {
        recommendations::count_views(&app.db).await.unwrap();
        let viewed = recommendations::viewed_with(&app.db, a.id, 4)
            .await
            .unwrap();
        if !viewed.is_empty() {
            assert_eq!(viewed[0].id, c.id);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let viewed = recommendations::viewed_with(&app.db, a.id, 4)
        .await
        .unwrap();
    assert_eq!(viewed.iter().map(|t| t.id).collect::<Vec<_>>(), [c.id]);
    assert_eq!(
        recommendations::count_views(&app.db).await.unwrap(),
        0,
        "nothing counted twice"
    );

    // The dashboard: nothing bought with A or B that Acme lacks, so the most bought in its
    // category (Design) it has not bought: the workshop; never the Marketing audit.
    let dashboard = app.page("/dashboard").await;
    let section = &dashboard[dashboard.find("Recommended for you").expect("the section")..];
    assert!(section.contains("Brand Workshop"), "{section}");
    assert!(!section.contains("SEO Audit") && !section.contains("Logo Design"));
}
