//! Email through the outbox, over real SMTP: delivery with both parts, retries, failure,
//! storage without SMTP, dedupe and rollback.

use std::time::Duration;

use agency_hub::db::Db;
use agency_hub::db::entities::email::{self, EmailStatus};
use agency_hub::db::entities::{job, user::Role};
use agency_hub::jobs::{Job, WorkerConfig};
use agency_hub::notify::{self, Message};
use mail_parser::MessageParser;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::harness::{
    PASSWORD, TestApp, browser, spawn_app, spawn_app_with, spawn_app_with_worker,
};
use crate::smtp::SmtpServer;

/// Waits (up to 20 s) until the email to `to` reaches one of `statuses`.
pub(crate) async fn email_to(db: &Db, to: &str, statuses: &[EmailStatus]) -> email::Model {
    for _ in 0..400 {
        if let Some(e) = email::Entity::find()
            .filter(email::Column::ToAddress.eq(to))
            .one(db)
            .await
            .unwrap()
            && statuses.contains(&e.status)
        {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no email to {to} reached {statuses:?}");
}

/// An admin adds a client user without a password: the welcome email goes out.
async fn invite(app: &TestApp, email: &str) {
    let company = crate::fixtures::company(&app.db, "Acme Corp").await;
    let res = app
        .post_form(
            "/admin/users",
            &[
                ("email", email),
                ("name", "Nina New"),
                ("role", "CLIENT"),
                ("client_id", &company.id.to_string()),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn a_new_user_gets_a_welcome_email_over_smtp_with_both_parts_and_a_working_link() {
    let smtp = SmtpServer::start(0).await;
    let mut app = spawn_app_with(&[
        ("SMTP_URL", &smtp.url()),
        ("MAIL_FROM", "Northwind <hello@northwind.example>"),
    ])
    .await;
    app.signed_in_as(Role::Admin).await;
    invite(&app, "nina@acme.example").await;

    let row = email_to(&app.db, "nina@acme.example", &[EmailStatus::Sent]).await;
    assert_eq!(row.attempts, 1);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, ["nina@acme.example"]);
    assert!(received[0].from.contains("hello@northwind.example"));
    let message = MessageParser::default()
        .parse(received[0].data.as_bytes())
        .expect("a MIME message");
    assert_eq!(message.subject(), Some("Welcome to Agency Hub"));
    let text = message
        .body_text(0)
        .expect("a plain-text part")
        .into_owned();
    let html = message.body_html(0).expect("an HTML part").into_owned();
    let link_start = text
        .find("http://127.0.0.1:3001/password/set?token=")
        .expect("the text has the link");
    let link: String = text[link_start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert!(html.contains(&link), "the HTML has the same link");

    // The link sets the password, once.
    app.switch_browser(browser());
    let path = link.trim_start_matches("http://127.0.0.1:3001");
    let page = app.page(path).await;
    assert!(page.contains("nina@acme.example"));
    let token = path.split("token=").nth(1).unwrap();
    let res = app
        .post_form(
            "/password/set",
            &[
                ("token", token),
                ("new_password", "nina-password"),
                ("confirm_password", "nina-password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.sign_in("nina@acme.example", "nina-password")
            .await
            .status(),
        303
    );
    let res = app.get(path).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("expired or was used already")
    );
}

#[tokio::test]
async fn a_server_refusing_the_first_attempt_gets_a_retry_and_one_message() {
    let smtp = SmtpServer::start(1).await;
    let app = spawn_app_with(&[("SMTP_URL", &smtp.url())]).await;
    app.signed_in_as(Role::Admin).await;
    invite(&app, "nina@acme.example").await;

    let row = email_to(&app.db, "nina@acme.example", &[EmailStatus::Sent]).await;
    assert_eq!(row.attempts, 2, "refused once, then delivered");
    assert!(row.last_error.is_none());
    assert_eq!(smtp.received().len(), 1, "delivered once");
}

#[tokio::test]
async fn a_server_that_is_down_leaves_the_email_queued_then_failed_and_visible_to_admins() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let slow = WorkerConfig {
        backoff_base: Duration::from_millis(300),
        backoff_max: Duration::from_millis(300),
        ..crate::harness::fast_worker()
    };
    let app =
        spawn_app_with_worker(&[("SMTP_URL", &format!("smtp://127.0.0.1:{port}"))], slow).await;
    app.signed_in_as(Role::Admin).await;
    invite(&app, "nina@acme.example").await;

    assert_queued_with_its_error_between_attempts(&app).await;

    let row = email_to(&app.db, "nina@acme.example", &[EmailStatus::Failed]).await;
    assert_eq!(row.attempts, notify::MAX_ATTEMPTS);
    assert!(
        row.last_error.as_deref().unwrap().contains("SMTP"),
        "{:?}",
        row.last_error
    );
    assert_eq!(dead_jobs_once_one_is(&app).await, 1);

    let page = app.page("/admin/emails?status=failed").await;
    assert!(page.contains("nina@acme.example") && page.contains("Welcome to Agency Hub"));
    let detail = app.page(&format!("/admin/emails/{}", row.id)).await;
    assert!(detail.contains("Resend") && detail.contains("Last error"));

    resending_queues_a_new_job(&app, &row).await;
}

async fn assert_queued_with_its_error_between_attempts(app: &TestApp) {
    let mut seen_queued_after_failure = false;
    for _ in 0..200 {
        let e = email::Entity::find()
            .filter(email::Column::ToAddress.eq("nina@acme.example"))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        if e.status == EmailStatus::Queued && e.attempts >= 1 && e.last_error.is_some() {
            seen_queued_after_failure = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen_queued_after_failure);
}

/// How many jobs are dead, waiting (up to 2 s) for one to be: the job is marked dead just
/// after the email is marked failed.
async fn dead_jobs_once_one_is(app: &TestApp) -> u64 {
    let mut dead = 0;
    for _ in 0..100 {
        dead = job::Entity::find()
            .filter(job::Column::Status.eq(job::JobStatus::Dead))
            .count(&app.db)
            .await
            .unwrap();
        if dead == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    dead
}

async fn resending_queues_a_new_job(app: &TestApp, row: &email::Model) {
    let res = app
        .post_form(&format!("/admin/emails/{}/resend", row.id), &[])
        .await;
    assert_eq!(res.status(), 303);
    let again = email::Entity::find_by_id(row.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        again.status,
        EmailStatus::Queued | EmailStatus::Failed
    ));
    assert!(again.attempts < notify::MAX_ATTEMPTS || again.status == EmailStatus::Failed);
    assert_eq!(
        job::Entity::find()
            .filter(job::Column::Kind.eq(<notify::SendEmail as Job>::KIND))
            .count(&app.db)
            .await
            .unwrap(),
        2,
        "a new job"
    );
    let resent = job::Entity::find()
        .filter(job::Column::DedupeKey.starts_with(format!("email:{}:resend:", row.id)))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the resend's job");
    assert_eq!(resent.payload["email_id"], row.id);
}

#[tokio::test]
async fn without_smtp_emails_are_stored_and_shown_to_admins_with_both_renderings() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    invite(&app, "nina@acme.example").await;
    let row = email_to(&app.db, "nina@acme.example", &[EmailStatus::Stored]).await;
    assert_eq!(row.subject, "Welcome to Agency Hub");
    assert!(row.text.contains("/password/set?token=") && row.html.contains("/password/set?token="));

    let list = app.page("/admin/emails").await;
    assert!(list.contains("stored") && list.contains("No SMTP server is configured"));
    let detail = app.page(&format!("/admin/emails/{}", row.id)).await;
    assert!(detail.contains("Welcome, Nina New"));
    let res = app.get(&format!("/admin/emails/{}/html", row.id)).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert!(res.text().await.unwrap().contains("Set your password"));

    // Staff without admin rights see none of it.
    let mut other = app;
    other.switch_browser(browser());
    other.signed_in_as(Role::Manager).await;
    assert_eq!(other.get("/admin/emails").await.status(), 403);
    let _ = PASSWORD;
}

#[tokio::test]
async fn the_same_dedupe_key_queues_one_email_and_a_rolled_back_change_queues_none() {
    let app = crate::harness::spawn_app_without_background_work().await;
    let message = Message::PaymentFailed(agency_hub::notify::messages::PaymentFailed {
        name: "Ana".into(),
        order_number: "AH-1".into(),
        reason: "Your card was declined.".into(),
    });
    assert!(
        notify::enqueue(&app.db, "ana@acme.example", &message, "payment-failed:1")
            .await
            .unwrap()
    );
    assert!(
        !notify::enqueue(&app.db, "ana@acme.example", &message, "payment-failed:1")
            .await
            .unwrap()
    );
    let txn = app.db.write().await.unwrap();
    assert!(
        notify::enqueue(&txn, "bo@acme.example", &message, "payment-failed:2")
            .await
            .unwrap()
    );
    txn.rollback().await.unwrap();

    assert_eq!(email::Entity::find().count(&app.db).await.unwrap(), 1);
    assert_eq!(
        job::Entity::find()
            .filter(job::Column::Kind.eq(<notify::SendEmail as Job>::KIND))
            .count(&app.db)
            .await
            .unwrap(),
        1
    );
}
