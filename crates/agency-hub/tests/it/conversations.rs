//! A service's conversation: messages both ways, staff-only internal notes, edits within ten
//! minutes, unread counts, notifications in the app, and message emails as each person chose
//! (a digest of five quick messages is one email, over real SMTP).

use std::time::Duration;

use agency_hub::conversations::Digest;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{email, job, message, notification, service_follower};
use agency_hub::jobs::Job;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::fixtures;
use crate::harness::{PASSWORD, browser, spawn_app, spawn_app_with};
use crate::smtp::SmtpServer;

async fn unread(db: &agency_hub::db::Db, user: agency_hub::ids::UserId) -> u64 {
    notification::Entity::find()
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ReadAt.is_null())
        .count(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn client_and_staff_talk_notes_stay_internal_edits_close_after_ten_minutes() {
    let mut app = spawn_app().await;
    let template = fixtures::template(
        &app.db,
        "Logo Design",
        &[
            ("Concepts", Some(7), true),
            ("Internal review", None, false),
        ],
    )
    .await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let logo = fixtures::service(&app.db, &template, &acme).await;
    let globex = fixtures::company(&app.db, "Globex").await;
    let theirs = fixtures::service(&app.db, &template, &globex).await;
    let admin = app
        .create_user(Role::Admin, "admin@example.com", None)
        .await;
    let manager = app
        .create_user(Role::Manager, "max@example.com", None)
        .await;
    let client = app.signed_in_as(Role::Client).await;
    let mine = format!("/my/services/{}", logo.id);
    let db = app.db.clone();
    let messages = || async {
        message::Entity::find()
            .order_by_asc(message::Column::Id)
            .all(&db)
            .await
            .unwrap()
    };

    // The client writes; an empty message is refused in place and nothing is kept.
    let page = app.page(&mine).await;
    assert!(page.contains("No messages yet."));
    let res = app
        .post_form(&format!("{mine}/messages"), &[("body", "   ")])
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Write a message first."));
    let res = app
        .post_form(
            &format!("{mine}/messages"),
            &[("body", "Hello **agency**!\n\n<script>alert(1)</script>")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        format!("{mine}#messages")
    );
    // A client cannot write an internal note, nor on another company's service.
    let res = app
        .post_form(
            &format!("{mine}/messages"),
            &[("body", "psst"), ("internal", "on")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Only the agency&#39;s staff write internal notes.")
    );
    let res = app
        .post_form(
            &format!("/my/services/{}/messages", theirs.id),
            &[("body", "hi")],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        app.get(&format!("/my/services/{}", theirs.id))
            .await
            .status(),
        404
    );
    assert_eq!(messages().await.len(), 1);
    // Nobody follows the service: every staff member is told.
    assert_eq!(unread(&app.db, admin.id).await, 1);
    assert_eq!(unread(&app.db, manager.id).await, 1);
    assert_eq!(unread(&app.db, client.id).await, 0);

    // Staff: the unread counts in the navigation and the list, the message rendered safely.
    let client_browser = app.switch_browser(browser());
    assert_eq!(
        app.sign_in("admin@example.com", PASSWORD).await.status(),
        303
    );
    let dashboard = app.page("/dashboard").await;
    assert!(
        dashboard.contains(
            ">1</span><span class=\"visually-hidden badge-words\"> unread messages</span>"
        ),
        "{dashboard}"
    );
    assert!(dashboard.contains(
        r#"<span class="nav-badge">1</span><span class="visually-hidden badge-words"> unread</span>"#
    ));
    let list = app.page("/services").await;
    assert!(list.contains("1 new message</span>"));
    let staff_page = format!("/services/{}", logo.id);
    let page = app.page(&staff_page).await;
    assert!(page.contains("Hello <strong>agency</strong>!"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>alert(1)"));
    // Opening the service read it, and the page's own counts say so.
    assert!(!page.contains(
        r#"<span class="nav-badge">1</span><span class="visually-hidden badge-words"> unread</span>"#
    ));
    assert_eq!(unread(&app.db, admin.id).await, 0);
    assert_eq!(unread(&app.db, manager.id).await, 1);

    // An internal note and a reply; writing follows the service.
    let res = app
        .post_form(
            &format!("{staff_page}/messages"),
            &[
                ("body", "Client seems unsure about colours."),
                ("internal", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(
            &format!("{staff_page}/messages"),
            &[("body", "We start on Monday:\n\n- moodboard\n- sketches")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let followers = service_follower::Entity::find()
        .filter(service_follower::Column::ServiceId.eq(logo.id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(followers.len(), 1);
    assert_eq!(followers[0].user_id, admin.id);
    let page = app.page(&staff_page).await;
    assert!(page.contains("Internal note · staff only"));
    assert!(page.contains("<li>moodboard</li>"));
    // Now someone follows it: the manager is no longer told; the client only of the reply.
    assert_eq!(unread(&app.db, manager.id).await, 1);
    assert_eq!(unread(&app.db, client.id).await, 1);

    // The client's side: the reply, never the note (page or notifications).
    let staff_browser = app.switch_browser(client_browser);
    let page = app.page(&mine).await;
    assert!(page.contains("<li>moodboard</li>"));
    assert!(!page.contains("Client seems unsure"));
    assert!(!page.contains("Internal note"));
    let all = messages().await;
    let (first, note, reply) = (&all[0], &all[1], &all[2]);
    assert!(note.internal && !reply.internal);

    // Edits: one's own, within ten minutes; not the agency's, not a note (not found).
    let res = app
        .post_form(
            &format!("{mine}/messages/{}", first.id),
            &[("body", "Hello again")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app.page(&mine).await;
    assert!(page.contains("Hello again"));
    assert!(page.contains("· edited"));
    let res = app
        .post_form(
            &format!("{mine}/messages/{}", reply.id),
            &[("body", "mine now")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_form(
            &format!("{mine}/messages/{}", note.id),
            &[("body", "mine now")],
        )
        .await;
    assert_eq!(res.status(), 404);
    message::Entity::update_many()
        .col_expr(
            message::Column::CreatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(11)),
        )
        .filter(message::Column::Id.eq(first.id))
        .exec(&app.db)
        .await
        .unwrap();
    let res = app
        .post_form(
            &format!("{mine}/messages/{}", first.id),
            &[("body", "Too late")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("A message can be edited for 10 minutes after it is sent.")
    );
    let kept = message::Entity::find_by_id(first.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.body, "Hello again");

    // The agency's work reaches the client as notifications: a visible task done, the status.
    let client_browser = app.switch_browser(staff_browser);
    let tasks =
        agency_hub::services::tasks(&app.db, logo.id, agency_hub::services::Audience::Staff)
            .await
            .unwrap();
    for t in &tasks {
        let res = app
            .post_form(
                &format!("{staff_page}/tasks/{}/status", t.id),
                &[("status", "DONE")],
            )
            .await;
        assert_eq!(res.status(), 303);
    }
    app.switch_browser(client_browser);
    let page = app.page("/notifications").await;
    assert!(page.contains("Done: Concepts (Logo Design)"), "{page}");
    assert!(!page.contains("Internal review"));
    assert!(page.contains("Logo Design is now In progress"));
    assert!(page.contains("Admin user wrote on Logo Design"));
    assert_eq!(unread(&app.db, client.id).await, 2);
    // Another person's notification is not found; reading one leads where it points.
    let managers = notification::Entity::find()
        .filter(notification::Column::UserId.eq(manager.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let res = app
        .post_form(&format!("/notifications/{}/read", managers.id), &[])
        .await;
    assert_eq!(res.status(), 404);
    let res = app.post_form("/notifications/read-all", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(unread(&app.db, client.id).await, 0);
    assert!(
        app.page("/notifications")
            .await
            .contains("You are up to date.")
    );
}

#[tokio::test]
async fn five_quick_messages_make_one_digest_email_and_preferences_are_kept() {
    let smtp = SmtpServer::start(0).await;
    let mut app = spawn_app_with(&[("SMTP_URL", &smtp.url())]).await;
    let template = fixtures::template(&app.db, "Logo Design", &[("Concepts", None, true)]).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let logo = fixtures::service(&app.db, &template, &acme).await;
    let admin = app
        .create_user(Role::Admin, "admin@example.com", None)
        .await;
    app.create_user(Role::Manager, "max@example.com", None)
        .await;
    let off = app
        .create_user(Role::Manager, "quiet@example.com", None)
        .await;

    // The manager wants every message, the quiet one none; a bad choice changes nothing.
    for (email, choice) in [("max@example.com", "every"), ("quiet@example.com", "off")] {
        let mut other = browser();
        std::mem::swap(&mut app.client, &mut other);
        assert_eq!(app.sign_in(email, PASSWORD).await.status(), 303);
        let res = app
            .post_form("/account/notifications", &[("message_email", "hourly")])
            .await;
        assert_eq!(res.status(), 400);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("Unknown choice &#39;hourly&#39;")
        );
        let res = app
            .post_form("/account/notifications", &[("message_email", choice)])
            .await;
        assert_eq!(res.status(), 303);
        let page = app.page("/account").await;
        assert!(page.contains(&format!("value=\"{choice}\" checked")));
        std::mem::swap(&mut app.client, &mut other);
    }

    app.signed_in_as(Role::Client).await;
    let path = format!("/my/services/{}/messages", logo.id);
    for i in 1..=5 {
        let res = app
            .post_form(&path, &[("body", &format!("Quick thought number {i}"))])
            .await;
        assert_eq!(res.status(), 303);
    }
    // One digest queued for the admin (the default), for the end of the ten minutes.
    let digests = job::Entity::find()
        .filter(job::Column::Kind.eq("conversations.digest"))
        .all(&app.db)
        .await
        .unwrap();
    // (Two when the messages straddle the end of a window.)
    assert!(
        (1..=2).contains(&digests.len()),
        "one digest job per person and window"
    );
    for d in &digests {
        assert!(
            d.payload
                .to_string()
                .contains(&format!("\"user_id\":{}", admin.id))
        );
        assert!(d.run_at <= chrono::Utc::now() + chrono::Duration::minutes(10));
    }
    let digest = Digest {
        user_id: admin.id,
        service_id: logo.id,
    };
    digest.run(&app.db, 1).await.unwrap();
    // Run again (as a retried job would): nothing more to send.
    Digest {
        user_id: admin.id,
        service_id: logo.id,
    }
    .run(&app.db, 1)
    .await
    .unwrap();
    Digest {
        user_id: off.id,
        service_id: logo.id,
    }
    .run(&app.db, 1)
    .await
    .unwrap();

    // Over SMTP: one digest to the admin with all five, five single emails to the manager,
    // nothing to the one who chose none.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while smtp.received().len() < 6 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = smtp.received();
    let to = |who: &str| {
        received
            .iter()
            .filter(|r| r.to.iter().any(|t| t.contains(who)))
            .collect::<Vec<_>>()
    };
    let admins = to("admin@example.com");
    assert_eq!(admins.len(), 1, "one digest");
    let data = admins[0].data.replace("=\r\n", "");
    assert!(data.contains("5 new messages on Logo Design"), "{data}");
    for i in 1..=5 {
        assert!(data.contains(&format!("Quick thought number {i}")), "{i}");
    }
    assert_eq!(to("max@example.com").len(), 5);
    assert!(to("quiet@example.com").is_empty());
    // Switching to digests does not email again what was emailed one by one.
    let max = agency_hub::db::entities::user::Entity::find()
        .filter(agency_hub::db::entities::user::Column::Email.eq("max@example.com"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    agency_hub::auth::users::set_message_email(
        &app.db,
        max.id,
        agency_hub::db::entities::user::MessageEmail::Digest,
    )
    .await
    .unwrap();
    Digest {
        user_id: max.id,
        service_id: logo.id,
    }
    .run(&app.db, 1)
    .await
    .unwrap();
    let stored = email::Entity::find()
        .filter(email::Column::Kind.eq("new_messages"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, 6);
}
