//! Browser tests: headless Chromium driven through ChromeDriver (WebDriver), against the real
//! app. `.ci/run` installs Debian's `chromium` and `chromium-driver` and sets
//! `REQUIRE_BROWSER=1`, so a missing browser fails CI; elsewhere the test says it is skipped.
//! Screenshots go to `target/tmp/screenshots/` (not committed).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use agency_hub::db::entities::user::Role;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::fixtures;
use crate::harness::{PASSWORD, TestApp};

/// A running ChromeDriver, stopped when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    std::env::var(env)
        .ok()
        .map(PathBuf::from)
        .into_iter()
        .chain(candidates.iter().map(PathBuf::from))
        .find(|p| p.exists())
}

/// ChromeDriver and a headless Chromium session, or `None` (with a note) when this machine has
/// no browser and `REQUIRE_BROWSER` is not set.
pub async fn browser_session() -> Option<(Driver, Client)> {
    let driver = find("CHROMEDRIVER", &["/usr/bin/chromedriver"]);
    let chromium = find(
        "CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    );
    let (Some(driver), Some(chromium)) = (driver, chromium) else {
        assert!(
            std::env::var("REQUIRE_BROWSER").is_err(),
            "REQUIRE_BROWSER is set but chromium or chromedriver is missing"
        );
        eprintln!(
            "skipped: no chromium/chromedriver here (apt-get install chromium chromium-driver)"
        );
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: profile,
    };
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,1000",
                format!("--user-data-dir={}", driver._profile.path().display()),
            ],
        }),
    );
    // The console's messages, for `console`.
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let mut last_error = String::new();
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return Some((driver, client)),
            Err(e) => last_error = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not start a browser session: {last_error}");
}

/// A POST to one of ChromeDriver's own endpoints of the session (`se/log`, `goog/cdp/execute`),
/// which fantoccini has no call for.
#[derive(Debug)]
pub struct SessionPost(pub &'static str, pub serde_json::Value);

impl fantoccini::wd::WebDriverCompatibleCommand for SessionPost {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.0
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(self.1.to_string()))
    }
}

/// What the browser's console said since the last read.
pub async fn console(client: &Client) -> Vec<String> {
    let entries = client
        .issue_cmd(SessionPost("se/log", json!({"type": "browser"})))
        .await
        .unwrap();
    entries
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect()
}

pub async fn screenshot(client: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Signs in through the sign-in page.
pub async fn sign_in(client: &Client, app: &TestApp, email: &str) {
    sign_in_with(client, app, email, PASSWORD).await;
}

pub async fn sign_in_with(client: &Client, app: &TestApp, email: &str, password: &str) {
    client.goto(&app.url("/login")).await.unwrap();
    client
        .find(Locator::Css("input[name=email]"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    client
        .find(Locator::Css("form[action='/login'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The dashboard, signed in.
    client
        .wait()
        .for_element(Locator::Css(".me-name"))
        .await
        .unwrap();
}

/// Waits until the address bar's query has `needle` (after a form submits).
async fn wait_for_query(client: &Client, needle: &str) {
    for _ in 0..100 {
        if client
            .current_url()
            .await
            .unwrap()
            .query()
            .unwrap_or_default()
            .contains(needle)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page never reached a query with {needle}");
}

#[tokio::test]
async fn a_client_searches_the_store_adds_a_service_twice_and_sees_the_badge_and_total() {
    let Some((_driver, client)) = browser_session().await else {
        return;
    };
    let app = crate::harness::spawn_app_at_its_own_url().await;
    app.create_user(Role::Client, "client@acme.example", Some("Acme Corp"))
        .await;
    three_services_for_sale(&app).await;

    sign_in(&client, &app, "client@acme.example").await;
    client.goto(&app.url("/store")).await.unwrap();
    assert_eq!(
        client
            .find_all(Locator::Css(".store-card"))
            .await
            .unwrap()
            .len(),
        3
    );
    screenshot(&client, "store").await;

    search_for_logo_and_open_the_one_card(&client).await;
    add_to_the_cart_twice(&client).await;
    client.goto(&app.url("/store/cart")).await.unwrap();
    assert_eq!(text_of(&client, "[data-badge='/store/cart']").await, "2");
    assert_eq!(text_of(&client, "[data-cart-total]").await, "$998.00");
    screenshot(&client, "cart").await;

    change_the_quantity_to_three(&client).await;
    assert_eq!(text_of(&client, "[data-cart-total]").await, "$1,497.00");
    client.close().await.unwrap();
}

async fn three_services_for_sale(app: &TestApp) {
    fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 5).await;
    fixtures::for_sale(
        &app.db,
        "Website Care Plan",
        "Development",
        "149.50",
        "USD",
        12,
    )
    .await;
}

pub async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The text of an element that a page still loading will show.
pub async fn text_once_shown(client: &Client, css: &str) -> String {
    client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn search_for_logo_and_open_the_one_card(client: &Client) {
    client
        .find(Locator::Css("input[name=q]"))
        .await
        .unwrap()
        .send_keys("logo")
        .await
        .unwrap();
    click(client, "form[role=search] button").await;
    wait_for_query(client, "q=logo").await;
    let cards = client
        .find_all(Locator::Css(".store-card h2 a"))
        .await
        .unwrap();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].text().await.unwrap(), "Logo Design");
    cards[0].click().await.unwrap();
}

/// From the service's page, adds it to the cart twice: the page stays, and says so, and its
/// cart count follows (the script; without it the form posts and the cart page says it).
async fn add_to_the_cart_twice(client: &Client) {
    wait_for_path(client, "/store/").await;
    let page = client.current_url().await.unwrap();
    for n in 1..=2 {
        client
            .wait()
            .for_element(Locator::Css("form.buy-box button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(client, "[data-badge='/store/cart']", &n.to_string()).await;
        let said = said(client).await;
        assert_eq!(said, "Logo Design is in your cart. View cart");
        assert_eq!(
            client.current_url().await.unwrap(),
            page,
            "still on the page"
        );
    }
}

/// What the page's script said (its message at the foot of the screen), once said.
pub async fn said(client: &Client) -> String {
    for _ in 0..100 {
        if let Ok(e) = client.find(Locator::Css("#said")).await {
            let text = e.text().await.unwrap_or_default();
            if !text.is_empty() {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page's script said nothing");
}

/// Waits until the element's text is `want`.
pub async fn wait_for_text(client: &Client, css: &str, want: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = client.find(Locator::Css(css)).await {
            last = e.text().await.unwrap_or_default();
            if last == want {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} says {last:?}, not {want:?}");
}

/// The quantity is set and the cart follows, without a button (the page's script posts it).
async fn change_the_quantity_to_three(client: &Client) {
    assert!(
        !client
            .find(Locator::Css(".cart-table .qty ~ button"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap(),
        "no Update button with the script"
    );
    let qty = client.find(Locator::Css("input.qty")).await.unwrap();
    qty.clear().await.unwrap();
    qty.send_keys("3").await.unwrap();
    // Leaving the field sets it (the cart is then shown again: the field is a new one, which
    // may make the key's own answer a stale element).
    let _ = qty.send_keys(&fantoccini::key::Key::Tab.to_string()).await;
    wait_for_text(client, "[data-cart-total]", "$1,497.00").await;
    assert_eq!(said(client).await, "3 × Logo Design in your cart.");
    assert_eq!(text_of(client, "nav [data-badge='/store/cart']").await, "3");
    assert_eq!(client.current_url().await.unwrap().path(), "/store/cart");
}

/// Waits until the browser is on a page whose path starts with `prefix`.
pub async fn wait_for_path(client: &Client, prefix: &str) {
    for _ in 0..100 {
        if client
            .current_url()
            .await
            .unwrap()
            .path()
            .starts_with(prefix)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never reached {prefix}");
}

pub async fn fill(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Checks out the cart and fills Stripe's page (the emulator's) with `card`.
pub async fn pay_with(client: &Client, app: &TestApp, card: &str) {
    client.goto(&app.url("/store/cart")).await.unwrap();
    client
        .find(Locator::Css("form[action='/store/checkout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("#pay-button"))
        .await
        .unwrap();
    screenshot(client, "stripe-checkout").await;
    fill(client, "input[name=card_number]", card).await;
    fill(client, "input[name=card_expiry]", "12 / 34").await;
    fill(client, "input[name=card_cvc]", "123").await;
    client
        .find(Locator::Css("#pay-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_purchase_journey_from_the_store_to_the_new_service_and_a_declined_card() {
    let Some((_driver, client)) = browser_session().await else {
        return;
    };
    let app = crate::harness::spawn_app_at_its_own_url().await;
    app.create_user(Role::Client, "client@acme.example", Some("Acme Corp"))
        .await;
    app.create_user(Role::Manager, "manager@example.com", None)
        .await;
    fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;

    sign_in(&client, &app, "client@acme.example").await;
    add_logo_design_from_the_store(&client, &app).await;
    a_declined_card_says_so_and_leaves_the_cart(&client, &app).await;
    a_good_card_pays_and_leads_to_the_new_service(&client, &app).await;

    let order_path = an_admin_refunds_the_order_in_full(&client, &app).await;
    the_dashboard_counts_the_sale_and_the_refund(&client, &app).await;
    the_client_sees_their_order_refunded(&client, &app, &order_path).await;
    client.close().await.unwrap();
}

async fn add_logo_design_from_the_store(client: &Client, app: &TestApp) {
    client.goto(&app.url("/store?q=logo")).await.unwrap();
    click(
        client,
        ".store-card form[action='/store/cart/items'] button",
    )
    .await;
    client
        .wait()
        .for_element(Locator::Css(".flash-success"))
        .await
        .unwrap();
}

/// Nothing is paid: the page says the card was declined and the cart is intact.
async fn a_declined_card_says_so_and_leaves_the_cart(client: &Client, app: &TestApp) {
    pay_with(client, app, "4000 0000 0000 0002").await;
    let page = text_once_shown(client, "body").await;
    assert!(page.to_lowercase().contains("declined"), "{page}");
    client.goto(&app.url("/store/cart")).await.unwrap();
    assert_eq!(text_of(client, "[data-badge='/store/cart']").await, "1");
}

/// 4242 pays: the success page shows the order paid, with a link to its service.
async fn a_good_card_pays_and_leads_to_the_new_service(client: &Client, app: &TestApp) {
    pay_with(client, app, "4242 4242 4242 4242").await;
    wait_for_path(client, "/store/success").await;
    let heading = text_once_shown(client, "h1").await;
    assert_eq!(heading, "Thank you: your order is paid");
    screenshot(client, "success").await;
    click(client, "a[href^='/my/services/']").await;
    wait_for_path(client, "/my/services/").await;
    assert_eq!(text_of(client, "h1").await, "Logo Design");
    assert!(
        client
            .find_all(Locator::Css("[data-badge='/store/cart']"))
            .await
            .unwrap()
            .is_empty(),
        "the cart is empty"
    );
}

/// Signs in as a new admin and refunds the order in full, confirming the amount; returns the
/// order's admin page path.
async fn an_admin_refunds_the_order_in_full(client: &Client, app: &TestApp) -> String {
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    client.delete_all_cookies().await.unwrap();
    sign_in(client, app, "admin@example.com").await;
    client.goto(&app.url("/admin/orders")).await.unwrap();
    screenshot(client, "admin-orders").await;
    click(client, ".orders-table a[href^='/admin/orders/']").await;
    // The refund is a dialog over the order; no amount is suggested.
    client
        .wait()
        .for_element(Locator::Css("[data-opens='refund']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(client, "#refund input[name=amount]", "499").await;
    click(client, "#refund-button").await;
    let confirm = client
        .wait()
        .for_element(Locator::Css("#confirm-refund"))
        .await
        .unwrap();
    assert_eq!(
        confirm.text().await.unwrap(),
        "Confirm the refund of $499.00"
    );
    screenshot(client, "admin-refund-confirm").await;
    confirm.click().await.unwrap();
    client
        .wait()
        .for_element(Locator::Css(".flash-success"))
        .await
        .unwrap();
    assert_eq!(text_of(client, "[data-order-status]").await, "Refunded");
    let order_path = client.current_url().await.unwrap().path().to_string();
    screenshot(client, "admin-order-refunded").await;
    order_path
}

async fn the_dashboard_counts_the_sale_and_the_refund(client: &Client, app: &TestApp) {
    client.goto(&app.url("/admin/metrics")).await.unwrap();
    let orders = text_once_shown(client, "[data-stat='Orders'] .stat-value").await;
    assert_eq!(orders, "1");
    let refunded = text_of(client, "[data-stat='Refunded'] .stat-value").await;
    assert_eq!(refunded, "$499.00");
    screenshot(client, "admin-metrics").await;
}

async fn the_client_sees_their_order_refunded(client: &Client, app: &TestApp, order_path: &str) {
    client.delete_all_cookies().await.unwrap();
    sign_in(client, app, "client@acme.example").await;
    client
        .goto(&app.url(&order_path.replace("/admin/orders", "/store/orders")))
        .await
        .unwrap();
    let status = text_once_shown(client, "[data-order-status]").await;
    assert_eq!(status, "Refunded");
    let refunded = text_of(client, "[data-order-refunded]").await;
    assert_eq!(refunded, "-$499.00");
    screenshot(client, "client-order-refunded").await;

    // The printable receipt is styled by its stylesheet, and the security policy refuses
    // nothing on it (the console would say so, as it does for a style injected inline).
    console(client).await;
    client
        .goto(&app.url(&format!(
            "{}/receipt",
            order_path.replace("/admin/orders", "/store/orders")
        )))
        .await
        .unwrap();
    text_once_shown(client, "h1").await;
    let width = client
        .execute("return getComputedStyle(document.body).maxWidth", vec![])
        .await
        .unwrap();
    assert_eq!(width, "720px", "the receipt's stylesheet applies");
    let refused: Vec<String> = console(client)
        .await
        .into_iter()
        .filter(|m| m.contains("Content Security Policy"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    client
        .execute(
            "const s = document.createElement('style'); s.textContent = 'body{color:red}'; document.head.appendChild(s);",
            vec![],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        console(client)
            .await
            .iter()
            .any(|m| m.contains("Content Security Policy")),
        "an inline style is refused, and the console says so"
    );
    screenshot(client, "client-receipt").await;
}

#[tokio::test]
async fn a_client_buys_a_retainer_then_cancels_and_resumes_it_on_the_subscriptions_page() {
    let Some((_driver, client)) = browser_session().await else {
        return;
    };
    let app = crate::harness::spawn_app_at_its_own_url().await;
    app.create_user(Role::Client, "client@acme.example", Some("Acme Corp"))
        .await;
    fixtures::retainer(&app.db, "Website Care", "149", 0).await;
    sign_in(&client, &app, "client@acme.example").await;

    // The store and the cart say what is charged today and what recurs.
    client.goto(&app.url("/store?q=care")).await.unwrap();
    assert!(
        text_of(&client, ".store-card .price")
            .await
            .contains("$149.00 / month")
    );
    click(
        &client,
        ".store-card form[action='/store/cart/items'] button",
    )
    .await;
    client
        .wait()
        .for_element(Locator::Css(".flash-success"))
        .await
        .unwrap();
    client.goto(&app.url("/store/cart")).await.unwrap();
    assert_eq!(
        text_of(&client, ".terms").await,
        "$149.00 today, then $149.00 every month"
    );
    assert_eq!(text_of(&client, "#cart-then").await, "$149.00 every month");
    pay_with(&client, &app, "4242 4242 4242 4242").await;
    wait_for_path(&client, "/store/success").await;

    // The subscription page: active, then cancelled at the period's end (confirmed), then
    // resumed (confirmed).
    let mut status = String::new();
    for _ in 0..100 {
        client.goto(&app.url("/store/subscriptions")).await.unwrap();
        status = text_once_shown(&client, "[data-subscription-status]").await;
        if status == "Active" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "Active");
    assert!(
        text_of(&client, "[data-next]")
            .await
            .starts_with("Next charge on")
    );
    screenshot(&client, "subscriptions").await;
    click(&client, "form[action$='/cancel'] button").await;
    let question = text_once_shown(&client, "#confirm-question").await;
    assert!(question.starts_with("Cancel Website Care?"), "{question}");
    click(&client, ".confirm button").await;
    client
        .wait()
        .for_element(Locator::Css(".flash-success"))
        .await
        .unwrap();
    assert!(text_of(&client, "[data-next]").await.starts_with("Ends on"));
    assert_eq!(
        text_of(&client, "[data-subscription-status]").await,
        "Ending"
    );
    click(&client, "form[action$='/resume'] button").await;
    text_once_shown(&client, "#confirm-question").await;
    click(&client, ".confirm button").await;
    client
        .wait()
        .for_element(Locator::Css(".flash-success"))
        .await
        .unwrap();
    assert!(
        text_of(&client, "[data-next]")
            .await
            .starts_with("Next charge on")
    );
    assert_eq!(
        text_of(&client, "[data-subscription-status]").await,
        "Active"
    );
    client.close().await.unwrap();
}

/// Clicks a button that submits a form, and waits for the next page's success message.
async fn submit_and_see(client: &Client, css: &str) -> String {
    click(client, css).await;
    text_once_shown(client, ".flash-success").await
}

#[tokio::test]
async fn a_client_saves_moves_to_saved_and_reviews_and_the_staff_approve_reply_and_hide() {
    let Some((_driver, client)) = browser_session().await else {
        return;
    };
    let app = crate::harness::spawn_app_at_its_own_url().await;
    three_services_for_sale(&app).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let logo = catalog_named(&app, "Logo Design").await;
    let seo = catalog_named(&app, "SEO Audit").await;
    let done = fixtures::service(&app.db, &logo, &acme).await;
    use sea_orm::EntityTrait;
    agency_hub::db::entities::service::Entity::update_many()
        .col_expr(
            agency_hub::db::entities::service::Column::Status,
            sea_orm::sea_query::Expr::value(agency_hub::db::entities::service::ServiceStatus::Done),
        )
        .exec(&app.db)
        .await
        .unwrap();
    app.create_user(Role::Client, "client@acme.example", Some("Acme Corp"))
        .await;
    app.create_user(Role::Manager, "manager@example.com", None)
        .await;
    sign_in(&client, &app, "client@acme.example").await;

    // Saved from a card: the card says so.
    client.goto(&app.url("/store")).await.unwrap();
    let flash = submit_and_see(&client, "button[aria-label='Save Logo Design for later']").await;
    assert!(flash.contains("Logo Design is saved for later."), "{flash}");
    assert_eq!(text_of(&client, "button.saved-toggle").await, "★ Saved");

    // Moved from the cart to the saved list.
    client
        .goto(&app.url(&format!("/store/{}", seo.id)))
        .await
        .unwrap();
    // The script adds it in place; then to the cart.
    click(&client, "form.buy-box button").await;
    assert_eq!(said(&client).await, "SEO Audit is in your cart. View cart");
    client.goto(&app.url("/store/cart")).await.unwrap();
    let flash = submit_and_see(&client, "button[aria-label='Move to saved: SEO Audit']").await;
    assert!(
        flash.contains("SEO Audit moved to your saved services."),
        "{flash}"
    );
    client.goto(&app.url("/store/saved")).await.unwrap();
    let saved = client
        .find_all(Locator::Css(".saved-item h2"))
        .await
        .unwrap();
    let mut titles = Vec::new();
    for s in saved {
        titles.push(s.text().await.unwrap());
    }
    titles.sort();
    assert_eq!(titles, ["Logo Design", "SEO Audit"]);
    screenshot(&client, "saved").await;

    // A review of the done service waits for the agency.
    client
        .goto(&app.url(&format!("/my/services/{}", done.id)))
        .await
        .unwrap();
    click(&client, "input[name=rating][value='4']").await;
    fill(
        &client,
        "#review textarea[name=body]",
        "Three strong concepts, fast.",
    )
    .await;
    let flash = submit_and_see(&client, "#review button[type=submit]").await;
    assert!(flash.contains("your review is with the agency"), "{flash}");
    assert_eq!(
        text_of(&client, "#review .badge").await,
        "Waiting for approval"
    );

    // The manager approves it and replies.
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &app, "manager@example.com").await;
    client.goto(&app.url("/admin/reviews")).await.unwrap();
    assert!(
        text_of(&client, ".review-list")
            .await
            .contains("Three strong concepts, fast.")
    );
    let flash = submit_and_see(&client, ".review-list .btn-primary").await;
    assert_eq!(flash, "The review is published in the store.");
    client
        .goto(&app.url("/admin/reviews?status=approved"))
        .await
        .unwrap();
    fill(
        &client,
        ".review-list textarea[name=reply]",
        "Thank you, Acme!",
    )
    .await;
    submit_and_see(&client, ".review-list form[action$='/reply'] button").await;

    // The client sees the stars on the card, the review and the reply on the page.
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &app, "client@acme.example").await;
    client.goto(&app.url("/store")).await.unwrap();
    assert_eq!(
        text_of(&client, ".store-card .rating").await,
        "★ 4.0 (1 review)"
    );
    client
        .goto(&app.url(&format!("/store/{}", logo.id)))
        .await
        .unwrap();
    let reviews = text_of(&client, "#reviews").await;
    assert!(
        reviews.contains("Three strong concepts, fast.") && reviews.contains("Thank you, Acme!"),
        "{reviews}"
    );
    screenshot(&client, "reviews").await;

    // Hidden by the manager: gone from the store.
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &app, "manager@example.com").await;
    client
        .goto(&app.url("/admin/reviews?status=approved"))
        .await
        .unwrap();
    let flash = submit_and_see(&client, ".review-list form[action$='/decide'] button").await;
    assert_eq!(flash, "The review is hidden from the store.");
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &app, "client@acme.example").await;
    client
        .goto(&app.url(&format!("/store/{}", logo.id)))
        .await
        .unwrap();
    assert!(
        text_of(&client, "#reviews")
            .await
            .contains("No reviews yet.")
    );
}

async fn catalog_named(
    app: &TestApp,
    name: &str,
) -> agency_hub::db::entities::service_template::Model {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    agency_hub::db::entities::service_template::Entity::find()
        .filter(agency_hub::db::entities::service_template::Column::Name.eq(name))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}
