//! The client's portal over the JSON API: messages read and written (internal notes never
//! there, another company's service a 404, a rate limit on writing), a deliverable decided,
//! notifications listed and read.

use agency_hub::auth::CurrentUser;
use agency_hub::db::entities::file::{self, DeliverableState};
use agency_hub::db::entities::user::Role;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};

use crate::fixtures;
use crate::harness::spawn_app;

#[tokio::test]
async fn a_client_talks_decides_and_reads_notifications_through_the_api() {
    let app = spawn_app().await;
    let template = fixtures::template(&app.db, "Logo Design", &[("Concepts", None, true)]).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let logo = fixtures::service(&app.db, &template, &acme).await;
    let globex = fixtures::company(&app.db, "Globex").await;
    let theirs = fixtures::service(&app.db, &template, &globex).await;
    let admin: CurrentUser = app
        .create_user(Role::Admin, "admin@example.com", None)
        .await
        .into();
    let client = app.signed_in_as(Role::Client).await;
    let messages = format!("/api/services/{}/messages", logo.id);

    let res = app.get(&messages).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["data"], json!([]));
    let res = app.post_json(&messages, &json!({"body": "  "})).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["field"], "body");
    let res = app
        .post_json(&messages, &json!({"body": "Hello **agency**"}))
        .await;
    assert_eq!(res.status(), 201);
    let sent: Value = res.json().await.unwrap();
    assert_eq!(sent["body"], "Hello **agency**");
    assert_eq!(sent["fromAgency"], false);
    for path in [format!("/api/services/{}/messages", theirs.id)] {
        assert_eq!(app.get(&path).await.status(), 404);
        let res = app.post_json(&path, &json!({"body": "hi"})).await;
        assert_eq!(res.status(), 404);
    }

    // The agency answers, and leaves a note the client never sees.
    for (body, internal) in [("Noted: blue it is.", false), ("Client likes blue.", true)] {
        let logo = logo.clone();
        let admin = admin.clone();
        app.db
            .in_transaction(async move |txn| {
                agency_hub::conversations::post(txn, &admin, &logo, body, internal, false).await
            })
            .await
            .unwrap();
    }
    let list: Value = app.get(&messages).await.json().await.unwrap();
    let bodies: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["Hello **agency**", "Noted: blue it is."]);

    // Notifications: the answer, read one by one, then all.
    let page: Value = app.get("/api/notifications").await.json().await.unwrap();
    assert_eq!(page["pagination"]["totalItems"], 1);
    let n = &page["data"][0];
    assert_eq!(n["kind"], "message");
    assert_eq!(n["read"], false);
    assert_eq!(n["link"], format!("/my/services/{}", logo.id));
    let res = app
        .post_json(&format!("/api/notifications/{}/read", n["id"]), &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["read"], true);
    let res = app
        .post_json("/api/notifications/999999/read", &json!({}))
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .post_json("/api/notifications/read-all", &json!({}))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["marked"], 0);

    // A deliverable: changes need a comment; approved once.
    let shared = file::Entity::insert(file::ActiveModel {
        service_id: Set(logo.id),
        uploader_id: Set(admin.id),
        uploader_name: Set(admin.name.clone()),
        from_staff: Set(true),
        name: Set("Concepts.pdf".into()),
        content_type: Set("application/pdf".into()),
        size_bytes: Set(100),
        storage_key: Set("services/x/y".into()),
        has_thumbnail: Set(false),
        message_id: Set(None),
        question_id: Set(None),
        deliverable_state: Set(Some(DeliverableState::Shared)),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    })
    .exec_with_returning(&app.db)
    .await
    .unwrap();
    let decide = format!(
        "/api/services/{}/deliverables/{}/decision",
        logo.id, shared.id
    );
    let res = app
        .post_json(&decide, &json!({"decision": "changes"}))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["field"],
        "comment"
    );
    let res = app.post_json(&decide, &json!({"decision": "maybe"})).await;
    assert_eq!(res.status(), 400);
    let res = app
        .post_json(
            &decide,
            &json!({"decision": "changes", "comment": "Bigger"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["deliverableState"],
        "changes_requested"
    );
    let res = app
        .post_json(&decide, &json!({"decision": "approve"}))
        .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["deliverableState"],
        "approved"
    );
    assert_eq!(
        app.post_json(&decide, &json!({"decision": "approve"}))
            .await
            .status(),
        409
    );
    let elsewhere = format!(
        "/api/services/{}/deliverables/{}/decision",
        theirs.id, shared.id
    );
    assert_eq!(
        app.post_json(&elsewhere, &json!({"decision": "approve"}))
            .await
            .status(),
        404
    );

    // Writing is limited: twenty a minute, then 429 (nothing kept).
    for i in 2..=agency_hub::web::api::portal::MESSAGES_PER_MINUTE {
        let res = app
            .post_json(&messages, &json!({"body": format!("more {i}")}))
            .await;
        assert_eq!(res.status(), 201, "message {i}");
    }
    let res = app
        .post_json(&messages, &json!({"body": "one too many"}))
        .await;
    assert_eq!(res.status(), 429);
    let list: Value = app.get(&messages).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 21);
    drop(client);
}
