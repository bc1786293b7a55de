//! The agency's settings: its details for invoices, its logo (checked, made a PNG of at most
//! 600 × 200, served at /agency/logo.png), its default currency and tax choices; admins only,
//! each mistake shown in place with nothing saved.

use agency_hub::db::entities::agency_settings;
use agency_hub::db::entities::user::Role;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::files::png;
use crate::harness::{TestApp, browser, spawn_app};

const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00";

const FIELDS: &[(&str, &str)] = &[
    ("legal_name", "Northwind Studio Ltd"),
    (
        "address",
        "1 Harbour Street\r\nBristol BS1 4XE\r\nUnited Kingdom",
    ),
    ("tax_id", "GB123456789"),
    ("invoice_footer", "Payment due within 14 days. Thank you!"),
    ("default_currency", "GBP"),
    ("stripe_tax", "on"),
];

async fn saved(app: &TestApp) -> Option<agency_settings::Model> {
    agency_settings::Entity::find_by_id(1)
        .one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_sets_the_agencys_details_and_logo() {
    let mut app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    let page = app.page("/admin/settings").await;
    assert!(
        page.contains("value=\"Agency Hub\""),
        "the default legal name"
    );
    assert!(page.contains("data-no-logo"));
    assert!(
        page.contains("href=\"/admin/settings\""),
        "in the navigation"
    );
    assert_eq!(app.get("/agency/logo.png").await.status(), 404);

    // Mistakes: each in place, nothing saved.
    let mut bad: Vec<(&str, &str)> = FIELDS.to_vec();
    bad[0].1 = "  ";
    bad[4].1 = "XYZ";
    let res = app.post_multipart("/admin/settings", &bad, &[]).await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("Enter the agency&#39;s legal name"), "{html}");
    assert!(html.contains("&#39;XYZ&#39; is not a currency the store accepts"));
    assert!(html.contains("GB123456789"), "what was typed is kept");
    let res = app
        .post_multipart("/admin/settings", FIELDS, &[("logo", "logo.png", EXE)])
        .await;
    assert_eq!(res.status(), 415);
    assert!(res.text().await.unwrap().contains("logo.png is a program"));
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";
    let res = app
        .post_multipart("/admin/settings", FIELDS, &[("logo", "logo.pdf", pdf)])
        .await;
    assert_eq!(res.status(), 415);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("logo.pdf is not an image")
    );
    assert!(saved(&app).await.is_none());
    assert!(app.state.storage.keys("agency").await.unwrap().is_empty());

    // Saved, with a logo made to fit 600 × 200.
    let res = app
        .post_multipart(
            "/admin/settings",
            FIELDS,
            &[("logo", "logo.png", &png(1200, 300))],
        )
        .await;
    assert_eq!(res.status(), 303);
    let s = saved(&app).await.unwrap();
    assert_eq!(s.legal_name, "Northwind Studio Ltd");
    assert_eq!(
        s.address,
        "1 Harbour Street\nBristol BS1 4XE\nUnited Kingdom"
    );
    assert_eq!(s.default_currency.code(), "GBP");
    assert!(s.stripe_tax && !s.prices_include_tax);
    let res = app.get("/agency/logo.png").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    let logo = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((logo.width(), logo.height()), (600, 150));
    let page = app.page("/admin/settings").await;
    assert!(page.contains("Settings saved."));
    assert!(page.contains("src=\"/agency/logo.png\""));

    // Replaced, then removed: the old logo's bytes go with it.
    app.post_multipart(
        "/admin/settings",
        FIELDS,
        &[("logo", "new.png", &png(100, 50))],
    )
    .await;
    assert_eq!(app.state.storage.keys("agency").await.unwrap().len(), 1);
    let mut removing = FIELDS.to_vec();
    removing.push(("remove_logo", "on"));
    let res = app.post_multipart("/admin/settings", &removing, &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get("/agency/logo.png").await.status(), 404);
    assert!(app.state.storage.keys("agency").await.unwrap().is_empty());
    assert_eq!(
        agency_settings::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        1
    );

    // Only admins.
    for role in [Role::Manager, Role::Client] {
        app.switch_browser(browser());
        app.signed_in_as(role).await;
        assert_eq!(app.get("/admin/settings").await.status(), 403);
        let res = app.post_multipart("/admin/settings", FIELDS, &[]).await;
        assert_eq!(res.status(), 403);
    }
}
