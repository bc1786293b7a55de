//! A client and the agency working together on a paid service, in two real browsers: a
//! question answered in the cart before checkout, the payment, a question answered with a file
//! after it, messages both ways (the staff's internal note never shown to the client), and a
//! deliverable sent back with a comment, then approved. The staff's page is opened once and
//! never reloaded by the test: every change the client makes must arrive on it live, and the
//! staff's news must arrive on the client's page the same way.

use std::time::Duration;

use agency_hub::db::entities::service_template;
use agency_hub::db::entities::user::Role;
use fantoccini::{Client, Locator};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::browser::{
    browser_session, click, fill, pay_with, screenshot, sign_in, text_once_shown, wait_for_path,
};
use crate::fixtures;
use crate::harness::{TestApp, spawn_app_at_its_own_url};

/// Waits until an element matching `css` has `needle` in its text (15 s at most). The page
/// may reload meanwhile (its live updates do): a failed look is looked at again.
async fn until_shown(b: &Client, css: &str, needle: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(found) = b.find_all(Locator::Css(css)).await {
            for e in found {
                if e.text().await.is_ok_and(|t| t.contains(needle)) {
                    return;
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            let url = b.current_url().await.map(|u| u.to_string());
            screenshot(b, "together-timeout").await;
            panic!("{css} never read {needle:?} on {url:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Submits a form by its button and waits for the page after it (its flash message). The
/// click returns before the browser leaves, and the page it leaves may show a flash message
/// of its own: the old document must be gone first.
async fn submit(b: &Client, button: &str) -> String {
    let leaving = b.find(Locator::Css("html")).await.unwrap();
    click(b, button).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while leaving.tag_name().await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{button} did not submit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    text_once_shown(b, ".flash-success").await
}

/// "Logo Design" on sale, asking the name on the logo before payment and the current logo
/// (a file) after it.
async fn logo_design_with_questions(app: &TestApp) {
    let t = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let questions = json!([
        {"id": 1, "kind": "short_text", "label": "Name on the logo", "required": true, "when": "before_payment"},
        {"id": 2, "kind": "file", "label": "Your current logo", "required": true, "when": "after_payment"}
    ]);
    service_template::Entity::update(service_template::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(t.id),
        questions: sea_orm::ActiveValue::Set(questions),
        ..Default::default()
    })
    .exec(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_client_and_the_agency_work_on_a_paid_service_and_each_sees_the_other_live() {
    let Some((_client_driver, client)) = browser_session().await else {
        return;
    };
    let Some((_staff_driver, staff)) = browser_session().await else {
        return;
    };
    let app = spawn_app_at_its_own_url().await;
    app.create_user(Role::Client, "client@acme.example", Some("Acme Corp"))
        .await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    logo_design_with_questions(&app).await;
    let files = tempfile::tempdir().unwrap();
    let logo_png = files.path().join("old-logo.png");
    let img = image::RgbImage::from_fn(120, 80, |x, y| image::Rgb([x as u8, y as u8, 200]));
    img.save(&logo_png).unwrap();
    let concepts = files.path().join("concepts.pdf");
    std::fs::write(
        &concepts,
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n",
    )
    .unwrap();
    sign_in(&client, &app, "client@acme.example").await;
    sign_in(&staff, &app, "admin@example.com").await;

    // The cart asks the question before checkout, and checkout waits for the answer.
    client.goto(&app.url("/store?q=logo")).await.unwrap();
    // Added in place (the page's script), then to the cart.
    click(
        &client,
        ".store-card form[action='/store/cart/items'] button",
    )
    .await;
    let said = crate::browser::said(&client).await;
    assert_eq!(said, "Logo Design is in your cart. View cart");
    client.goto(&app.url("/store/cart")).await.unwrap();
    let checkout = "form[action='/store/checkout'] button";
    let button = client.find(Locator::Css(checkout)).await.unwrap();
    assert!(button.attr("disabled").await.unwrap().is_some());
    text_once_shown(&client, "#answers-needed").await;
    fill(&client, "form.answers input[name=q1]", "Acme Anvils").await;
    submit(&client, "form.answers button[type=submit]").await;
    let button = client.find(Locator::Css(checkout)).await.unwrap();
    assert!(button.attr("disabled").await.unwrap().is_none());
    screenshot(&client, "together-cart-answered").await;

    pay_with(&client, &app, "4242 4242 4242 4242").await;
    wait_for_path(&client, "/store/success").await;
    click(&client, "a[href^='/my/services/']").await;
    wait_for_path(&client, "/my/services/").await;
    let mine = client.current_url().await.unwrap().path().to_string();
    let id = mine.trim_start_matches("/my/services/").to_string();
    until_shown(&client, "#questions h2", "Action needed: answer 1 question").await;

    // The staff open the service once; the answer given in the cart is there.
    staff
        .goto(&app.url(&format!("/services/{id}")))
        .await
        .unwrap();
    until_shown(&staff, "#answers", "Acme Anvils").await;
    until_shown(&staff, "#answers", "Not answered yet (required)").await;

    // The client answers with a file: the staff's page shows it without a reload.
    client
        .find(Locator::Css("input[type=file][name=q2]"))
        .await
        .unwrap()
        .send_keys(&logo_png.display().to_string())
        .await
        .unwrap();
    let saved = submit(&client, "form.answers button[type=submit]").await;
    assert_eq!(saved, "Your answers are saved. Thank you!");
    until_shown(&staff, "#answers a[href^='/files/']", "old-logo.png").await;

    // Messages both ways; the staff's internal note stays with the staff.
    fill(
        &client,
        "#message-body",
        "Hello! Our brief: **bold** and blue.",
    )
    .await;
    submit(&client, ".message-form button[type=submit]").await;
    until_shown(&staff, ".message .message-body", "Our brief").await;
    screenshot(&staff, "together-staff-live-message").await;
    // The client is typing when the answer comes: the page says so instead of reloading,
    // and what was typed is sent as it was.
    fill(&client, "#message-body", "One more thing: a bigger anvil.").await;
    fill(&staff, "#message-body", "Thanks, first concepts on Friday.").await;
    submit(&staff, ".message-form button[type=submit]").await;
    until_shown(
        &client,
        "#live-note",
        "Something new arrived on this service",
    )
    .await;
    let draft = client.find(Locator::Css("#message-body")).await.unwrap();
    assert_eq!(
        draft.prop("value").await.unwrap().as_deref(),
        Some("One more thing: a bigger anvil.")
    );
    submit(&client, ".message-form button[type=submit]").await;
    until_shown(&client, ".message-staff .message-body", "first concepts").await;
    until_shown(&staff, ".message .message-body", "a bigger anvil").await;
    fill(
        &staff,
        "#message-body",
        "Client prefers blue; margin is thin.",
    )
    .await;
    click(&staff, ".message-form input[name=internal]").await;
    let saved = submit(&staff, ".message-form button[type=submit]").await;
    assert_eq!(saved, "Internal note saved.");
    until_shown(&staff, ".message-internal", "margin is thin").await;
    client.goto(&app.url(&mine)).await.unwrap();
    until_shown(&client, ".messages", "first concepts").await;
    let seen = client.source().await.unwrap();
    assert!(
        !seen.contains("margin is thin"),
        "the note reached the client"
    );
    assert!(!seen.contains("message-internal"));

    // A deliverable: shared, sent back with a comment, then approved; each step reaches the
    // other side live.
    staff
        .find(Locator::Css("#deliverables input[type=file]"))
        .await
        .unwrap()
        .send_keys(&concepts.display().to_string())
        .await
        .unwrap();
    submit(&staff, "#deliverables form[enctype] button").await;
    until_shown(
        &client,
        "[data-deliverable] [data-state=shared]",
        "Waiting for your review",
    )
    .await;
    click(&client, ".decide details summary").await;
    fill(
        &client,
        ".decide textarea[name=comment]",
        "Make the anvil bigger.",
    )
    .await;
    submit(&client, ".decide details form button").await;
    until_shown(
        &staff,
        "[data-deliverable] .history",
        "Make the anvil bigger.",
    )
    .await;
    until_shown(
        &staff,
        "[data-state=changes_requested]",
        "Changes requested",
    )
    .await;
    screenshot(&staff, "together-staff-changes-requested").await;
    submit(&client, ".decide form button").await;
    until_shown(&client, "[data-state=approved]", "Approved").await;
    until_shown(&staff, "[data-state=approved]", "Approved").await;
    screenshot(&client, "together-client-approved").await;
    screenshot(&staff, "together-staff-approved").await;
    client.close().await.unwrap();
    staff.close().await.unwrap();
}
