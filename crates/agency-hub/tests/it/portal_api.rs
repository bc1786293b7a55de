//! The client's portal over the JSON API: messages read and written (internal notes never
//! there, another company's service a 404, a rate limit on writing), a deliverable decided,
//! notifications listed and read; files sent with messages and answers (multipart), listed and
//! downloaded, checked as the pages check them, and limited per minute.

use agency_hub::auth::CurrentUser;
use agency_hub::db::entities::file::{self, DeliverableState};
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{message, service};
use agency_hub::files::Upload;
use reqwest::multipart::{Form, Part};
use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::fixtures;
use crate::harness::{TestApp, spawn_app, spawn_app_with};

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

/// A Windows program's first bytes.
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

impl TestApp {
    /// An API request with a multipart body, as a script would send one: the app's `Origin`,
    /// no CSRF token; the fields, then each file as (field, name, bytes).
    async fn api_multipart(
        &self,
        method: reqwest::Method,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> reqwest::Response {
        let mut form = Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        for (field, name, bytes) in files {
            let part = Part::bytes(bytes.to_vec()).file_name(name.to_string());
            form = form.part(field.to_string(), part);
        }
        self.api(method, path).multipart(form).send().await.unwrap()
    }

    /// Rows of files and messages, and objects kept in the store.
    async fn kept(&self) -> (u64, u64, usize) {
        let files = file::Entity::find().count(&self.db).await.unwrap();
        let messages = message::Entity::find().count(&self.db).await.unwrap();
        let objects = self.state.storage.keys("services").await.unwrap().len();
        (files, messages, objects)
    }
}

#[tokio::test]
async fn a_client_sends_and_fetches_files_and_answers_through_the_api() {
    let app = spawn_app_with(&[("FILE_MAX_MB", "1")]).await;
    let template = fixtures::template(&app.db, "Logo Design", &[("Concepts", None, true)]).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let logo = fixtures::service(&app.db, &template, &acme).await;
    let globex = fixtures::company(&app.db, "Globex").await;
    let theirs = fixtures::service(&app.db, &template, &globex).await;
    service::Entity::update_many()
        .col_expr(
            service::Column::Intake,
            sea_orm::sea_query::Expr::value(json!([
                {"id": 1, "kind": "file", "label": "Your current logo", "required": true, "when": "after_payment"},
                {"id": 2, "kind": "short_text", "label": "Tagline", "when": "after_payment"},
                {"id": 3, "kind": "date", "label": "Launch date", "when": "after_payment"}
            ])),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let admin: CurrentUser = app
        .create_user(Role::Admin, "admin@example.com", None)
        .await
        .into();
    app.signed_in_as(Role::Client).await;
    let answers = format!("/api/services/{}/answers", logo.id);
    let put = reqwest::Method::PUT;

    let got: Value = app.get(&answers).await.json().await.unwrap();
    assert_eq!(got["questions"].as_array().unwrap().len(), 3);
    assert_eq!(got["questions"][0]["kind"], "file");
    assert_eq!(got["missingAnswers"], json!([1]));

    // Mistakes, each naming its question, and nothing kept.
    let res = app
        .api(put.clone(), &answers)
        .json(&json!({"answers": {"1": "logo.png"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["field"], "q1");
    let res = app
        .api(put.clone(), &answers)
        .json(&json!({"answers": {"2": "Anvils", "3": "soon"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["field"], "q3");
    let res = app
        .api_multipart(
            put.clone(),
            &answers,
            &[("q2", "Anvils")],
            &[("q1", "logo.png", EXE)],
        )
        .await;
    assert_eq!(res.status(), 415);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"]["field"], "q1");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("logo.png is a program"),
        "{e}"
    );
    let res = app
        .api_multipart(
            put.clone(),
            &answers,
            &[],
            &[("q1", "a.png", &png()), ("q1", "b.png", &png())],
        )
        .await;
    assert_eq!(res.status(), 400, "one file a question");
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["field"], "q1");
    // Writes that take no files take no multipart form either.
    let res = app
        .api_multipart(
            reqwest::Method::POST,
            "/api/notifications/read-all",
            &[("x", "y")],
            &[],
        )
        .await;
    assert_eq!(res.status(), 415);
    for field in ["q9", "avatar"] {
        let res = app
            .api_multipart(put.clone(), &answers, &[], &[(field, "a.pdf", PDF)])
            .await;
        assert_eq!(res.status(), 400, "{field}");
        assert_eq!(res.json::<Value>().await.unwrap()["error"]["field"], field);
    }
    assert_eq!(app.kept().await, (0, 0, 0));
    let got: Value = app.get(&answers).await.json().await.unwrap();
    assert_eq!(got["questions"][1]["answer"], Value::Null);

    // Answered with a file; then the typed answers changed as JSON, the file kept.
    let res = app
        .api_multipart(
            put.clone(),
            &answers,
            &[("q2", "Anvils"), ("q3", "2027-03-31")],
            &[("q1", "logo.png", &png())],
        )
        .await;
    assert_eq!(res.status(), 200);
    let got: Value = res.json().await.unwrap();
    assert_eq!(got["missingAnswers"], json!([]));
    assert_eq!(got["questions"][0]["answer"], "logo.png");
    assert_eq!(got["files"][0]["questionId"], 1);
    assert!(got["files"][0]["thumbnailUrl"].is_string());
    let res = app
        .api(put.clone(), &answers)
        .json(&json!({"answers": {"2": "Anvils since 1920", "3": "2027-03-31"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let got: Value = res.json().await.unwrap();
    assert_eq!(got["questions"][0]["answer"], "logo.png");
    assert_eq!(got["questions"][1]["answer"], "Anvils since 1920");
    assert_eq!(app.kept().await, (1, 0, 2), "the logo and its thumbnail");

    // A message with a file, downloaded as sent.
    let messages = format!("/api/services/{}/messages", logo.id);
    let res = app
        .api_multipart(
            reqwest::Method::POST,
            &messages,
            &[("body", "The brief")],
            &[("files", "brief.pdf", PDF)],
        )
        .await;
    assert_eq!(res.status(), 201);
    let sent: Value = res.json().await.unwrap();
    assert_eq!(sent["files"][0]["name"], "brief.pdf");
    let url = sent["files"][0]["url"].as_str().unwrap().to_string();
    let res = app.get(&url).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"brief.pdf\"")
    );
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(&res.bytes().await.unwrap()[..], PDF);

    // Refused whole: a file past the limit (nothing kept, no message).
    let before = app.kept().await;
    let big = vec![b'x'; 1024 * 1024 + 10];
    let res = app
        .api_multipart(
            reqwest::Method::POST,
            &messages,
            &[("body", "Big one")],
            &[("files", "notes.txt", &big)],
        )
        .await;
    assert_eq!(res.status(), 413);
    assert_eq!(app.kept().await, before);

    // A note's file and another company's files are not there for the client.
    let upload = |name: &str| Upload {
        field: "files".into(),
        name: name.into(),
        bytes: PDF.to_vec().into(),
    };
    let state = &app.state;
    let (_, note_files) = agency_hub::conversations::write(
        &app.db,
        &state.config.files,
        &state.storage,
        &admin,
        &logo,
        "Margin is thin.",
        true,
        vec![upload("costs.pdf")],
        None,
    )
    .await
    .unwrap();
    let (_, other_files) = agency_hub::conversations::write(
        &app.db,
        &state.config.files,
        &state.storage,
        &admin,
        &theirs,
        "For Globex",
        false,
        vec![upload("globex.pdf")],
        None,
    )
    .await
    .unwrap();
    for id in [note_files[0].id, other_files[0].id] {
        assert_eq!(app.get(&format!("/api/files/{id}")).await.status(), 404);
    }
    let list: Value = app
        .get(&format!("/api/services/{}/files", logo.id))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["logo.png", "brief.pdf"]);
    let theirs_files = format!("/api/services/{}/files", theirs.id);
    assert_eq!(app.get(&theirs_files).await.status(), 404);
    let res = app
        .api_multipart(
            reqwest::Method::POST,
            &format!("/api/services/{}/messages", theirs.id),
            &[("body", "hi")],
            &[("files", "a.pdf", PDF)],
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .api(put.clone(), &format!("/api/services/{}/answers", theirs.id))
        .json(&json!({"answers": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Files are limited to thirty a minute. Six counted so far: the logo, the brief, the
    // refused program, the two for one question and the file for no question (the file past
    // the size limit, and the one under no question's field, were refused before the count).
    // Twenty-four more pass, then one is one too many.
    let tiny: Vec<(String, &[u8])> = (0..24)
        .map(|i| (format!("n{i}.txt"), b"hello".as_slice()))
        .collect();
    let parts: Vec<(&str, &str, &[u8])> = tiny
        .iter()
        .map(|(n, b)| ("files", n.as_str(), *b))
        .collect();
    let res = app
        .api_multipart(reqwest::Method::POST, &messages, &[], &parts)
        .await;
    assert_eq!(res.status(), 201);
    let before = app.kept().await;
    let res = app
        .api_multipart(
            reqwest::Method::POST,
            &messages,
            &[("body", "one more")],
            &[("files", "late.txt", b"hello")],
        )
        .await;
    assert_eq!(res.status(), 429);
    assert_eq!(app.kept().await, before);

    // Signed out, a download is a 401.
    app.client
        .delete(app.url("/api/session"))
        .header("origin", &app.origin)
        .send()
        .await
        .unwrap();
    assert_eq!(app.get(&url).await.status(), 401);
}
