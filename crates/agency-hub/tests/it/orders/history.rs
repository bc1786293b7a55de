//! The client's order history: its company's orders, and no one else's.

use agency_hub::db::entities::user::Role;
use serde_json::Value;

use crate::harness::{PASSWORD, browser, spawn_app};
use crate::purchase::paid_order;

#[tokio::test]
async fn a_client_sees_its_companys_orders_and_no_one_elses() {
    let mut app = spawn_app().await;
    let o = paid_order(&app).await;

    let list = app.page("/store/orders").await;
    assert!(list.contains(&o.order_number), "{list}");
    assert!(
        list.contains("$1,199.00") && list.contains("Paid"),
        "{list}"
    );
    let page = app.page(&format!("/store/orders/{}", o.id)).await;
    for text in [
        "Logo Design",
        "SEO Audit",
        "$350.00",
        "$700.00",
        "Order placed",
        "Paid by card",
    ] {
        assert!(page.contains(text), "{text} in {page}");
    }
    assert_eq!(page.matches("href=\"/my/services/").count(), 3, "{page}");
    let receipt = app.page(&format!("/store/orders/{}/receipt", o.id)).await;
    assert!(receipt.contains(&o.order_number) && receipt.contains("Acme Corp"));

    let api: Value = app.get("/api/store/orders").await.json().await.unwrap();
    assert_eq!(api["pagination"]["totalItems"], 1);
    assert_eq!(api["data"][0]["orderNumber"], o.order_number.as_str());
    assert_eq!(api["data"][0]["items"], 3);
    assert_eq!(api["data"][0]["total"]["amountMinor"], 119_900);
    let one: Value = app
        .get(&format!("/api/store/orders/{}", o.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["lines"].as_array().unwrap().len(), 2);
    assert_eq!(one["services"].as_array().unwrap().len(), 3);
    assert_eq!(one["status"], "COMPLETED");

    // Another company sees none of it.
    app.switch_browser(browser());
    app.create_user(Role::Client, "buyer@globex.example", Some("Globex"))
        .await;
    assert_eq!(
        app.sign_in("buyer@globex.example", PASSWORD).await.status(),
        303
    );
    let empty = app.page("/store/orders").await;
    assert!(empty.contains("No orders yet"), "{empty}");
    assert!(!empty.contains(&o.order_number));
    for path in [
        format!("/store/orders/{}", o.id),
        format!("/store/orders/{}/receipt", o.id),
        format!("/api/store/orders/{}", o.id),
    ] {
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
    }
    let api: Value = app.get("/api/store/orders").await.json().await.unwrap();
    assert_eq!(api["pagination"]["totalItems"], 0);
    // Staff pages are not for clients.
    assert_eq!(app.get("/admin/orders").await.status(), 403);
}
