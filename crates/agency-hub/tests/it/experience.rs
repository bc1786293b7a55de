//! The experience on a phone and with a keyboard (issue 20): pages at 390 px and 1,366 px in
//! headless Chromium, the folding navigation.

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::json;

use crate::browser::{
    SessionPost, browser_session, click, said, screenshot, sign_in, text_of, wait_for_text,
};
use agency_hub::db::entities::user::Role;

/// Shows the pages `width` CSS pixels wide, as a phone's screen does (a desktop window cannot
/// be made narrower than 500 px).
pub async fn set_width(client: &Client, width: u32) {
    client
        .issue_cmd(SessionPost(
            "goog/cdp/execute",
            json!({
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 800},
            }),
        ))
        .await
        .unwrap();
}

/// How wide the document is, and the window: more than the window scrolls sideways (and a
/// phone's window itself widens to content too wide for the screen).
pub async fn widths(client: &Client) -> (u64, u64) {
    let w = client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await
        .unwrap();
    (w[0].as_u64().unwrap(), w[1].as_u64().unwrap())
}

async fn shown(client: &Client, css: &str) -> bool {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap()
}

#[tokio::test]
async fn on_a_phone_the_navigation_folds_into_a_menu_that_opens_and_closes() {
    let Some((_driver, client)) = browser_session().await else {
        return;
    };
    let app = crate::harness::spawn_app_at_its_own_url().await;
    let admin = app
        .create_user(Role::Admin, "admin@example.com", None)
        .await;
    sign_in(&client, &app, &admin.email).await;
    let orders = "nav a[href='/admin/orders']";

    set_width(&client, 390).await;
    client.goto(&app.url("/dashboard")).await.unwrap();
    let (page, window) = widths(&client).await;
    assert_eq!(window, 390);
    assert!(page <= window, "the page is {page} px wide at {window}");
    assert!(shown(&client, ".menu-toggle").await);
    assert!(!shown(&client, orders).await, "folded");
    screenshot(&client, "experience-390-menu-folded").await;

    let toggle = client.find(Locator::Css(".menu-toggle")).await.unwrap();
    toggle.click().await.unwrap();
    assert_eq!(
        toggle.attr("aria-expanded").await.unwrap().as_deref(),
        Some("true")
    );
    assert!(shown(&client, orders).await, "open");
    screenshot(&client, "experience-390-menu-open").await;
    // Escape closes it and gives the focus back to the button.
    client
        .find(Locator::Css(orders))
        .await
        .unwrap()
        .send_keys(&Key::Escape.to_string())
        .await
        .unwrap();
    assert!(!shown(&client, orders).await, "closed again");
    assert_eq!(
        toggle.attr("aria-expanded").await.unwrap().as_deref(),
        Some("false")
    );
    toggle.click().await.unwrap();
    client
        .find(Locator::Css(orders))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    crate::browser::wait_for_path(&client, "/admin/orders").await;

    // A wide screen shows the navigation and no button.
    set_width(&client, 1366).await;
    client.goto(&app.url("/dashboard")).await.unwrap();
    assert!(shown(&client, orders).await);
    assert!(!shown(&client, ".menu-toggle").await);
}

/// A browser signed in as a client of Acme Corp, with Logo Design ($499) on sale.
async fn a_client_and_logo_design() -> Option<(
    crate::browser::Driver,
    Client,
    crate::harness::TestApp,
    agency_hub::db::entities::service_template::Model,
)> {
    let (driver, client) = browser_session().await?;
    let app = crate::harness::spawn_app_at_its_own_url().await;
    app.create_user(Role::Client, "client@acme.example", Some("Acme Corp"))
        .await;
    let logo = crate::fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    sign_in(&client, &app, "client@acme.example").await;
    Some((driver, client, app, logo))
}

#[tokio::test]
async fn on_a_phone_a_client_adds_from_the_store_stays_there_and_the_cart_link_counts_it() {
    let Some((_driver, client, app, _)) = a_client_and_logo_design().await else {
        return;
    };
    set_width(&client, 390).await;
    client.goto(&app.url("/store")).await.unwrap();
    assert!(
        shown(&client, ".top-cart").await,
        "the cart beside the menu"
    );
    for n in ["1", "2"] {
        click(
            &client,
            ".store-card form[action='/store/cart/items'] button",
        )
        .await;
        wait_for_text(&client, ".top-cart .nav-badge", n).await;
    }
    assert_eq!(
        said(&client).await,
        "Logo Design is in your cart. View cart"
    );
    assert_eq!(client.current_url().await.unwrap().path(), "/store");
    let (page, window) = widths(&client).await;
    assert_eq!(window, 390);
    assert!(page <= window, "the store is {page} px wide at {window}");
    screenshot(&client, "experience-390-added-from-the-store").await;
    click(&client, ".top-cart").await;
    crate::browser::wait_for_path(&client, "/store/cart").await;
    // The cart's lines are cards on a phone: the total in view, nothing to scroll sideways.
    assert_eq!(text_of(&client, "[data-cart-total]").await, "$998.00");
    assert_eq!(text_of(&client, "td[data-label='Total']").await, "$998.00");
    let (page, window) = widths(&client).await;
    // A phone widens its window to content wider than the screen: it must not have.
    assert_eq!(window, 390, "the cart widened the window");
    for cell in [
        "td[data-label='Total']",
        "[data-cart-total]",
        ".line-actions button",
    ] {
        let (x, _, w, _) = client
            .find(Locator::Css(cell))
            .await
            .unwrap()
            .rectangle()
            .await
            .unwrap();
        assert!(
            x + w <= window as f64,
            "{cell} ends at {} of {window}",
            x + w
        );
    }
    assert!(page <= window, "the cart is {page} px wide at {window}");
    screenshot(&client, "experience-390-cart").await;
    assert_eq!(
        text_of(&client, "nav [data-badge='/store/cart']").await,
        "",
        "the menu is folded: the navigation's own count is not shown"
    );
}

#[tokio::test]
async fn adding_a_service_taken_off_sale_meanwhile_says_why_and_adds_nothing() {
    use agency_hub::db::entities::service_template;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let Some((_driver, client, app, logo)) = a_client_and_logo_design().await else {
        return;
    };
    client.goto(&app.url("/store")).await.unwrap();
    // Off sale while the page is open.
    service_template::ActiveModel {
        id: Set(logo.id),
        is_purchasable: Set(false),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    app.state.store.changed().await;

    click(
        &client,
        ".store-card form[action='/store/cart/items'] button",
    )
    .await;
    let said = said(&client).await;
    assert!(
        text_of(&client, "#said.flash-error").await == said,
        "an error: {said}"
    );
    assert!(said.contains("store"), "{said}");
    assert_eq!(client.current_url().await.unwrap().path(), "/store");
    assert!(
        client
            .find_all(Locator::Css("[data-badge='/store/cart']"))
            .await
            .unwrap()
            .is_empty(),
        "no count"
    );
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        agency_hub::db::entities::cart_item::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0,
        "nothing added, and the form not posted again"
    );
}

async fn is_modal(client: &Client, css: &str) -> bool {
    client
        .execute(
            "return document.querySelector(arguments[0]).matches(':modal')",
            vec![json!(css)],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn on_a_phone_an_admin_refunds_part_of_an_order_in_a_dialog_choosing_the_service_it_cancels()
{
    use agency_hub::db::entities::service::ServiceStatus;
    let Some((_driver, client)) = browser_session().await else {
        return;
    };
    let app = crate::harness::spawn_app_at_its_own_url().await;
    // Logo Design ×1 and SEO Audit ×2: $1,199.00, three services.
    let order = crate::purchase::paid_order(&app).await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    sign_in(&client, &app, "admin@example.com").await;
    set_width(&client, 390).await;
    client
        .goto(&app.url(&format!("/admin/orders/{}", order.id)))
        .await
        .unwrap();

    click(&client, "[data-opens='refund']").await;
    assert!(is_modal(&client, "#refund").await, "opened over the page");
    assert_eq!(
        client
            .find(Locator::Css("#refund input[name=amount]"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(""),
        "no amount suggested"
    );
    crate::browser::fill(&client, "#refund input[name=amount]", "350").await;
    let audits = crate::orders::services_of(&app, order.id)
        .await
        .into_iter()
        .filter(|s| s.name == "SEO Audit")
        .collect::<Vec<_>>();
    click(
        &client,
        &format!("#refund input[name=cancel][value='{}']", audits[0].id),
    )
    .await;
    screenshot(&client, "experience-390-refund-dialog").await;
    click(&client, "#refund-button").await;

    // The confirmation says what it refunds and cancels, over the page again.
    let confirm = client
        .wait()
        .for_element(Locator::Css("#confirm-refund"))
        .await
        .unwrap();
    assert_eq!(
        confirm.text().await.unwrap(),
        "Confirm the refund of $350.00"
    );
    assert!(is_modal(&client, "#refund").await);
    let what = text_of(&client, "#refund-what").await;
    assert!(
        what.contains("These services are cancelled: SEO Audit."),
        "{what}"
    );
    let (page, window) = widths(&client).await;
    assert!(window == 390 && page <= window, "{page} px at {window}");
    screenshot(&client, "experience-390-refund-confirm").await;
    confirm.click().await.unwrap();

    assert_eq!(
        said_flash(&client).await,
        "Refunded $350.00; cancelled SEO Audit."
    );
    assert_eq!(
        text_of(&client, "header .order-PARTLY").await,
        "Partly refunded"
    );
    assert_eq!(text_of(&client, "[data-order-net]").await, "$849.00");
    let after = crate::orders::reload(&app, order.id).await;
    assert_eq!(after.refunded_minor, 35_000);
    let cancelled: Vec<_> = crate::orders::services_of(&app, order.id)
        .await
        .into_iter()
        .filter(|s| s.status == ServiceStatus::Cancelled)
        .map(|s| s.id)
        .collect();
    assert_eq!(cancelled, vec![audits[0].id]);
    screenshot(&client, "experience-390-partly-refunded").await;
}

/// The flash message the page opened with.
async fn said_flash(client: &Client) -> String {
    client
        .wait()
        .for_element(Locator::Css(".flash-success"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_leaves_a_payment_unfinished_then_resumes_it_from_the_orders_page_and_pays() {
    let Some((_driver, client, app, _)) = a_client_and_logo_design().await else {
        return;
    };
    client.goto(&app.url("/store")).await.unwrap();
    click(
        &client,
        ".store-card form[action='/store/cart/items'] button",
    )
    .await;
    wait_for_text(&client, "nav [data-badge='/store/cart']", "1").await;
    // To Stripe's page, and away from it unpaid.
    client.goto(&app.url("/store/cart")).await.unwrap();
    click(&client, "form[action='/store/checkout'] button").await;
    client
        .wait()
        .for_element(Locator::Css("#pay-button"))
        .await
        .unwrap();
    client.goto(&app.url("/store/orders")).await.unwrap();
    assert_eq!(
        text_of(&client, "#unfinished-title").await,
        "Waiting for your payment"
    );
    assert!(
        client
            .find_all(Locator::Css(".orders-table"))
            .await
            .unwrap()
            .is_empty(),
        "nothing bought yet"
    );
    screenshot(&client, "experience-orders-unfinished").await;

    click(&client, "form[action$='/resume'] button").await;
    client
        .wait()
        .for_element(Locator::Css("#pay-button"))
        .await
        .unwrap();
    crate::browser::fill(&client, "input[name=card_number]", "4242 4242 4242 4242").await;
    crate::browser::fill(&client, "input[name=card_expiry]", "12 / 34").await;
    crate::browser::fill(&client, "input[name=card_cvc]", "123").await;
    click(&client, "#pay-button").await;
    crate::browser::wait_for_path(&client, "/store/success").await;

    client.goto(&app.url("/store/orders")).await.unwrap();
    assert!(
        client
            .find_all(Locator::Css("#unfinished-title"))
            .await
            .unwrap()
            .is_empty(),
        "nothing waits any more"
    );
    assert_eq!(text_of(&client, ".orders-table tbody .badge").await, "Paid");
}

#[tokio::test]
async fn a_client_invites_a_teammate_once_the_admin_allows_it_and_the_teammate_signs_in() {
    let Some((_driver, client, app, _)) = a_client_and_logo_design().await else {
        return;
    };
    // Not allowed at first: the page says whom to ask.
    client.goto(&app.url("/account")).await.unwrap();
    assert!(
        text_of(&client, "#team")
            .await
            .contains("To add someone, ask"),
        "no invitation form"
    );

    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &app, "admin@example.com").await;
    client.goto(&app.url("/admin/settings")).await.unwrap();
    click(&client, "input[name=clients_invite]").await;
    click(
        &client,
        "form[action='/admin/settings'] button[type=submit]",
    )
    .await;
    said_flash(&client).await;

    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &app, "client@acme.example").await;
    client.goto(&app.url("/account")).await.unwrap();
    crate::browser::fill(&client, ".invite-form input[name=name]", "Bea Acme").await;
    crate::browser::fill(
        &client,
        ".invite-form input[name=email]",
        "bea@acme.example",
    )
    .await;
    screenshot(&client, "experience-invite").await;
    click(&client, ".invite-form button").await;
    assert_eq!(
        said_flash(&client).await,
        "Bea Acme is invited: we emailed bea@acme.example a link to choose a password."
    );
    assert!(text_of(&client, "#team").await.contains("Bea Acme"));

    // Bea opens the emailed link, chooses a password and is in Acme Corp's portal.
    let welcome = crate::orders::emails_of_kind(&app, "welcome")
        .await
        .into_iter()
        .find(|e| e.to_address == "bea@acme.example")
        .expect("a welcome email");
    let welcome = crate::orders::rendered(&app, welcome.id).await;
    assert!(
        welcome.text.contains("Client user invited you"),
        "{}",
        welcome.text
    );
    let token = welcome.payload["set_password_token"].as_str().unwrap();
    client.delete_all_cookies().await.unwrap();
    client
        .goto(&app.url(&format!("/password/set?token={token}")))
        .await
        .unwrap();
    crate::browser::fill(&client, "input[name=new_password]", "bea-password-1").await;
    crate::browser::fill(&client, "input[name=confirm_password]", "bea-password-1").await;
    click(&client, "form[action='/password/set'] button").await;
    said_flash(&client).await;
    crate::browser::sign_in_with(&client, &app, "bea@acme.example", "bea-password-1").await;
    client.goto(&app.url("/account")).await.unwrap();
    let team = text_of(&client, "#team").await;
    assert!(
        team.contains("People of Acme Corp") && team.contains("(you)"),
        "{team}"
    );
}
