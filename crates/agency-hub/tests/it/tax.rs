//! Tax with Stripe Tax on: each template's tax code and the agency's tax behaviour go to
//! Checkout, Checkout asks for the address and a tax ID, and each order line keeps the tax the
//! emulator computed for it (read from the session's line items after payment), shown by rate
//! on the order page and the invoice.

use std::time::Duration;

use agency_hub::db::entities::order::OrderStatus;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{order, order_item, service_template};
use agency_hub::ids::OrderId;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::checkout::template_when;
use crate::harness::{PASSWORD, TestApp, browser, spawn_app};
use crate::purchase::{emulator_get, shopping, start_checkout, wait_for_order};

/// The agency's settings with Stripe Tax on, prices with or without their tax.
async fn tax_settings(app: &TestApp, inclusive: bool) {
    let mut fields = vec![
        ("legal_name", "Northwind Studio Ltd"),
        ("address", "1 Harbour Street\r\nBristol"),
        ("tax_id", "GB123456789"),
        ("invoice_footer", ""),
        ("default_currency", "USD"),
        ("stripe_tax", "on"),
    ];
    if inclusive {
        fields.push(("prices_include_tax", "on"));
    }
    let res = app.post_multipart("/admin/settings", &fields, &[]).await;
    assert_eq!(res.status(), 303);
}

/// Pays on the emulator's page from the United Kingdom, with a VAT number.
async fn pay_from_the_uk(url: &str) {
    let res = browser()
        .post(url)
        .form(&[
            ("action", "pay"),
            ("email", "client@acme.example"),
            ("payment_method", "card"),
            ("card_number", "4242 4242 4242 4242"),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
            ("billing_country", "GB"),
            ("billing_postal_code", "BS1 4XE"),
            ("tax_id", "GB 987654321"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
}

/// The order's items once the job has read their amounts from Stripe (`read` says when).
pub async fn items_read(
    app: &TestApp,
    id: OrderId,
    read: impl Fn(&order_item::Model) -> bool,
) -> Vec<order_item::Model> {
    for _ in 0..200 {
        let items = order_item::Entity::find()
            .filter(order_item::Column::OrderId.eq(id))
            .all(&app.db)
            .await
            .unwrap();
        if items.iter().any(&read) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the line amounts of order {id} were never read");
}

/// Stripe's line items of the session, by the service each is for (its description).
async fn stripe_lines(app: &TestApp, session: &str) -> Vec<(String, Value)> {
    let list = emulator_get(
        app,
        &format!("/v1/checkout/sessions/{session}/line_items?expand[]=data.taxes"),
    )
    .await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["description"].as_str().unwrap().to_string(), l.clone()))
        .collect()
}

#[tokio::test]
async fn with_tax_on_each_line_keeps_the_tax_stripe_computed_for_it() {
    let mut app = spawn_app().await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    assert_eq!(
        app.sign_in("admin@example.com", PASSWORD).await.status(),
        303
    );
    tax_settings(&app, false).await;
    let admin = app.switch_browser(browser());
    // Logo Design ($499) is a taxed service, the SEO Audit ($350 × 2) is not taxed.
    // Their tax codes reach their Stripe Products through the catalog's sync (the lines are of
    // those Products).
    let (logo, seo) = shopping(&app).await;
    for (id, code) in [(logo, "txcd_20030000"), (seo, "txcd_00000000")] {
        template_when(&app, id, "synced").await;
        service_template::Entity::update_many()
            .col_expr(service_template::Column::TaxCode, Expr::value(code))
            .filter(service_template::Column::Id.eq(id))
            .exec(&app.db)
            .await
            .unwrap();
        let t = template_when(&app, id, "synced").await;
        agency_hub::stripe::catalog::enqueue_sync_if_needed(&app.db, &t, false)
            .await
            .unwrap();
        let synced = template_when(&app, id, "synced").await;
        let product = emulator_get(
            &app,
            &format!("/v1/products/{}", synced.stripe_product_id.unwrap()),
        )
        .await;
        assert_eq!(product["tax_code"], code);
    }
    let (order_id, url) = start_checkout(&app).await;
    let o = order::Entity::find_by_id(order_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let session_id = o.stripe_session_id.unwrap();
    let session = emulator_get(&app, &format!("/v1/checkout/sessions/{session_id}")).await;
    assert_eq!(session["tax_id_collection"]["enabled"], true);
    assert_eq!(session["billing_address_collection"], "required");
    pay_from_the_uk(&url).await;
    let paid = wait_for_order(&app, order_id, OrderStatus::Completed).await;

    let items = items_read(&app, order_id, |i| i.tax_minor > 0).await;
    let lines = stripe_lines(&app, &session_id).await;
    assert_eq!(lines.len(), 2);
    for (name, line) in &lines {
        let item = items.iter().find(|i| i.service_name == *name).unwrap();
        assert_eq!(line["price"]["tax_behavior"], "exclusive");
        assert_eq!(item.tax_minor, line["amount_tax"].as_i64().unwrap());
        assert_eq!(
            item.discount_minor,
            line["amount_discount"].as_i64().unwrap()
        );
    }
    let logo_item = items.iter().find(|i| i.template_id == logo).unwrap();
    let seo_item = items.iter().find(|i| i.template_id == seo).unwrap();
    // The emulator's rate is 10%: $49.90 on the logo, nothing on the untaxed audit.
    assert_eq!(logo_item.tax_minor, 4_990);
    assert_eq!(seo_item.tax_minor, 0);
    assert_eq!(paid.tax_minor, 4_990);
    assert_eq!(paid.total_minor, paid.subtotal_minor + 4_990);
    assert_eq!(paid.customer_tax_id.as_deref(), Some("GB987654321"));
    let taxes = &lines.iter().find(|(n, _)| n == "Logo Design").unwrap().1["taxes"];
    assert_eq!(taxes[0]["rate"]["display_name"], "VAT");
    assert_eq!(taxes[0]["rate"]["country"], "GB");

    let page = app.page(&format!("/store/orders/{order_id}")).await;
    assert!(page.contains("VAT 10%"), "{page}");
    assert!(page.contains("$49.90"));
    let api: Value = app
        .get(&format!("/api/store/orders/{order_id}"))
        .await
        .json()
        .await
        .unwrap();
    let api_logo = api["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["serviceName"] == "Logo Design")
        .unwrap_or_else(|| panic!("{api}"));
    assert_eq!(api_logo["tax"]["amountMinor"], json!(4_990));
    let pdf = app
        .get(&format!("/store/orders/{order_id}/invoice.pdf"))
        .await
        .bytes()
        .await
        .unwrap();
    let text = pdf_extract::extract_text_from_mem(&pdf).unwrap();
    assert!(text.contains("VAT 10%"), "{text}");
    assert!(text.contains("$49.90"), "{text}");
    assert!(text.contains("Tax ID: GB987654321"), "{text}");

    // Prices that include their tax: the tax is taken out of the price, the total is the
    // price.
    let client = app.switch_browser(admin);
    tax_settings(&app, true).await;
    app.switch_browser(client);
    assert_eq!(
        app.post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": logo, "quantity": 1})
        )
        .await
        .status(),
        201
    );
    let (second, url) = start_checkout(&app).await;
    pay_from_the_uk(&url).await;
    let paid = wait_for_order(&app, second, OrderStatus::Completed).await;
    let items = items_read(&app, second, |i| i.tax_minor > 0).await;
    // $499 includes $45.36 of tax at 10% ($453.64 before it).
    assert_eq!(items[0].tax_minor, 4_536);
    assert_eq!(paid.tax_minor, 4_536);
    assert_eq!(paid.total_minor, paid.subtotal_minor);
    let page = app.page(&format!("/store/orders/{second}")).await;
    assert!(page.contains("Includes VAT 10%"), "{page}");
    assert!(page.contains("$45.36"));
}
