//! Live updates over Server-Sent Events: a person's stream says their unread counts at once,
//! and again when something is told to them, with the service it is about; on PostgreSQL,
//! through another instance on the same database too.

use std::time::Duration;

use agency_hub::db::entities::user::Role;

use crate::fixtures;
use crate::harness::{PASSWORD, TestApp, browser, spawn_app};

/// Reads a live stream until an event contains `want`; fails after ten seconds.
async fn until(stream: &mut reqwest::Response, want: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let chunk = tokio::time::timeout(left, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("no event with {want} in 10 s; seen: {seen}"))
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(event) = seen.split("\n\n").find(|e| e.contains(want)) {
            return event.to_string();
        }
    }
}

/// A service of Acme, its client signed in on `app.client` and a staff browser returned.
async fn setup(app: &mut TestApp) -> (agency_hub::ids::ServiceId, reqwest::Client) {
    let template = fixtures::template(&app.db, "Logo Design", &[("Concepts", None, true)]).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let logo = fixtures::service(&app.db, &template, &acme).await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    app.signed_in_as(Role::Client).await;
    let client = app.switch_browser(browser());
    assert_eq!(
        app.sign_in("admin@example.com", PASSWORD).await.status(),
        303
    );
    let staff = app.switch_browser(client);
    (logo.id, staff)
}

#[tokio::test]
async fn a_message_reaches_the_clients_open_page_at_once() {
    let mut app = spawn_app().await;
    let (service, staff) = setup(&mut app).await;
    let mut stream = app.get("/events").await;
    assert_eq!(stream.status(), 200);
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let first = until(&mut stream, "event: unread").await;
    assert!(first.contains(r#""all":0,"messages":0"#), "{first}");

    let client = app.switch_browser(staff);
    let res = app
        .post_form(
            &format!("/services/{service}/messages"),
            &[("body", "Sketches are ready")],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.switch_browser(client);
    let event = until(&mut stream, &format!(r#""services":[{service}]"#)).await;
    assert!(event.contains(r#""all":1,"messages":1"#), "{event}");
    // Signed out, there is no stream.
    assert_eq!(
        browser()
            .get(app.url("/events"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
}

/// Two instances on one PostgreSQL database: what one writes reaches browsers on the other
/// (SQLite is one process by design, so this runs on PostgreSQL only).
#[tokio::test]
async fn two_instances_deliver_live_events_across_each_other() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        eprintln!("skipped: two instances share PostgreSQL only (TEST_DATABASE_URL)");
        return;
    }
    let mut app = spawn_app().await;
    let (service, staff) = setup(&mut app).await;
    let second = agency_hub::App::build(crate::harness::test_config(&app.database_url(), &[]))
        .await
        .unwrap();
    let second_url = format!("http://{}", second.local_addr());
    tokio::spawn(second.run(std::future::pending()));

    // The client's browser listens on the second instance (sessions live in the database).
    let mut on_second = app
        .client
        .get(format!("{second_url}/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_second.status(), 200);
    until(&mut on_second, "event: unread").await;
    // And the staff's on the first, for the client's answer.
    let mut on_first = staff.get(app.url("/events")).send().await.unwrap();
    until(&mut on_first, "event: unread").await;

    let client = app.switch_browser(staff);
    let res = app
        .post_form(
            &format!("/services/{service}/messages"),
            &[("body", "Written on the first instance")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let event = until(&mut on_second, &format!(r#""services":[{service}]"#)).await;
    assert!(event.contains(r#""all":1"#), "{event}");

    // The client answers through the second instance; the staff's stream on the first hears.
    let staff = app.switch_browser(client);
    let token = app.csrf_token().await;
    let res = app
        .client
        .post(format!("{second_url}/my/services/{service}/messages"))
        .form(&[("_csrf", token.as_str()), ("body", "Written on the second")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // The staff's count reaches the first instance: through its announcement, or, had the
    // first instance's listening connection been down (on a busy server), through the
    // refresh it sends everyone when it listens again.
    let event = until(&mut on_first, r#""messages":1"#).await;
    assert!(event.contains("event: unread"), "{event}");
    drop(staff);
}
