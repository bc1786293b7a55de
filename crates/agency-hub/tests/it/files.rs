//! Files and deliverables, the same on the local disk and on S3-compatible storage (moto's
//! server, which CI starts and names in `TEST_S3_ENDPOINT`): uploads checked by their content
//! and size before anything is kept, downloads only to the service's people, thumbnails, and a
//! deliverable sent back and then approved.

use agency_hub::db::entities::file::DeliverableState;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{deliverable_event, file, message, notification};
use reqwest::multipart::{Form, Part};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::fixtures;
use crate::harness::{PASSWORD, TestApp, browser, spawn_app_with};

/// A real PNG of this size (a gradient), as a camera or an editor would write one.
/// A PNG of that size (for the upload tests).
pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A Windows program's first bytes.
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";

impl TestApp {
    /// Posts a form with files as the page's own form does: the CSRF token first, then the
    /// fields, then each file as (field, name, bytes).
    pub(crate) async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> reqwest::Response {
        let mut form = Form::new().text("_csrf", self.csrf_token().await);
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        for (field, name, bytes) in files {
            let part = Part::bytes(bytes.to_vec()).file_name(name.to_string());
            form = form.part(field.to_string(), part);
        }
        self.client
            .post(self.url(path))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts files in the `files` field (messages, deliverables).
    async fn post_files(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &[u8])],
    ) -> reqwest::Response {
        let parts: Vec<(&str, &str, &[u8])> = files
            .iter()
            .map(|(name, bytes)| ("files", *name, *bytes))
            .collect();
        self.post_multipart(path, fields, &parts).await
    }
}

async fn counts(app: &TestApp) -> (u64, u64, usize) {
    let files = file::Entity::find().count(&app.db).await.unwrap();
    let messages = message::Entity::find().count(&app.db).await.unwrap();
    let kept = app.state.storage.keys("services").await.unwrap().len();
    (files, messages, kept)
}

async fn files_everywhere(extra: &[(&str, &str)]) {
    let mut settings = vec![("FILE_MAX_MB", "1")];
    settings.extend_from_slice(extra);
    let mut app = spawn_app_with(&settings).await;
    let template = fixtures::template(&app.db, "Logo Design", &[("Concepts", None, true)]).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let logo = fixtures::service(&app.db, &template, &acme).await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    app.create_user(Role::Client, "gus@globex.example", Some("Globex"))
        .await;
    app.signed_in_as(Role::Client).await;
    let mine = format!("/my/services/{}", logo.id);
    let before = counts(&app).await;

    // Refused whole, nothing kept: a program named .png, a file over the limit, an image that
    // does not decode.
    let big = "x".repeat(1024 * 1024 + 10);
    let broken = &png(40, 40)[..60];
    for (name, bytes, status, says) in [
        (
            "cat.png",
            EXE,
            415,
            "cat.png is a program (its name says it is an image; it is not)",
        ),
        (
            "notes.txt",
            big.as_bytes(),
            413,
            "notes.txt is larger than 1.0 MB",
        ),
        (
            "broken.png",
            broken,
            400,
            "broken.png could not be read as an image",
        ),
    ] {
        let res = app
            .post_files(
                &format!("{mine}/messages"),
                &[("body", "See attached")],
                &[(name, bytes)],
            )
            .await;
        assert_eq!(res.status(), status, "{name}");
        let page = res.text().await.unwrap();
        assert!(page.contains(says), "{name}: {page}");
        assert!(
            page.contains("See attached"),
            "{name}: what was typed stays: {page}"
        );
        assert_eq!(counts(&app).await, before, "{name}: nothing kept");
    }

    // A picture with a message: kept, with its thumbnail, downloadable by its people.
    let picture = png(800, 600);
    let res = app
        .post_files(
            &format!("{mine}/messages"),
            &[("body", "Our current logo")],
            &[("../../brand/Current logo.png", &picture)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let f = file::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(f.name, "Current logo.png");
    assert_eq!(f.content_type, "image/png");
    assert_eq!(f.size_bytes, picture.len() as i64);
    assert!(f.has_thumbnail && f.message_id.is_some());
    assert_eq!(
        app.state
            .storage
            .keys(&format!("services/{}", logo.id))
            .await
            .unwrap()
            .len(),
        2,
        "the file and its thumbnail"
    );
    let page = app.page(&mine).await;
    assert!(page.contains(&format!(
        "href=\"/files/{}\" download>Current logo.png</a>",
        f.id
    )));
    assert!(page.contains(&format!("src=\"/files/{}/thumbnail\"", f.id)));
    let res = app.get(&format!("/files/{}", f.id)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"Current logo.png\"; filename*=UTF-8''Current%20logo.png"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), picture.as_slice());
    let res = app.get(&format!("/files/{}/thumbnail", f.id)).await;
    assert_eq!(res.status(), 200);
    let thumb = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 240));

    // Staff: an internal note's file, and a deliverable.
    let client_browser = app.switch_browser(browser());
    assert_eq!(
        app.sign_in("admin@example.com", PASSWORD).await.status(),
        303
    );
    let staff_page = format!("/services/{}", logo.id);
    assert!(app.page(&staff_page).await.contains("Current logo.png"));
    let res = app
        .post_files(
            &format!("{staff_page}/messages"),
            &[("body", ""), ("internal", "on")],
            &[("pricing.txt", b"Our margin on this job")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let note_file = file::Entity::find()
        .order_by_desc(file::Column::Id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let res = app
        .post_files(&format!("{staff_page}/deliverables"), &[], &[])
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Choose the files to share with the client.")
    );
    let res = app
        .post_files(
            &format!("{staff_page}/deliverables"),
            &[],
            &[("Concepts v1.pdf", PDF)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let deliverable = file::Entity::find()
        .filter(file::Column::DeliverableState.is_not_null())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deliverable.content_type, "application/pdf");
    assert_eq!(
        deliverable.deliverable_state,
        Some(DeliverableState::Shared)
    );

    // Another company's person: every file of Acme's is not found.
    let staff_browser = app.switch_browser(browser());
    assert_eq!(
        app.sign_in("gus@globex.example", PASSWORD).await.status(),
        303
    );
    for path in [
        format!("/files/{}", f.id),
        format!("/files/{}/thumbnail", f.id),
        format!("/files/{}", deliverable.id),
        format!("/my/services/{}", logo.id),
    ] {
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
    }
    let res = app
        .post_form(
            &format!("{mine}/deliverables/{}", deliverable.id),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(res.status(), 404);

    // The client: the note's file is not theirs; the deliverable is, to send back, then approve.
    app.switch_browser(client_browser);
    assert_eq!(
        app.get(&format!("/files/{}", note_file.id)).await.status(),
        404
    );
    let page = app.page(&mine).await;
    assert!(!page.contains("pricing.txt"));
    assert!(page.contains("Concepts v1.pdf"));
    assert!(page.contains("Waiting for your review"));
    let decide = format!("{mine}/deliverables/{}", deliverable.id);
    let res = app.post_form(&decide, &[("decision", "changes")]).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Say what should change"));
    let res = app
        .post_form(
            &decide,
            &[
                ("decision", "changes"),
                ("comment", "Bigger letters, please."),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app.page(&mine).await;
    assert!(page.contains("Changes requested"));
    assert!(page.contains("<q>Bigger letters, please.</q>"));
    let res = app.post_form(&decide, &[("decision", "approve")]).await;
    assert_eq!(res.status(), 303);
    let res = app.post_form(&decide, &[("decision", "approve")]).await;
    assert_eq!(res.status(), 409);
    let history: Vec<DeliverableState> = deliverable_event::Entity::find()
        .filter(deliverable_event::Column::FileId.eq(deliverable.id))
        .order_by_asc(deliverable_event::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        history,
        [
            DeliverableState::Shared,
            DeliverableState::ChangesRequested,
            DeliverableState::Approved
        ]
    );
    // The agency heard of both decisions.
    app.switch_browser(staff_browser);
    let titles: Vec<String> = notification::Entity::find()
        .order_by_asc(notification::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.title)
        .collect();
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("Client user asked for changes to Concepts v1.pdf"))
    );
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("Client user approved Concepts v1.pdf"))
    );
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("New deliverable on Logo Design"))
    );
    let page = app.page(&staff_page).await;
    assert!(page.contains("data-state=\"approved\""));
}

#[tokio::test]
async fn files_on_the_local_disk() {
    files_everywhere(&[]).await;
}

/// The same against an S3-compatible server: CI runs moto's and names it; a run without one
/// says so and passes, unless `REQUIRE_S3` is set.
#[tokio::test]
async fn files_on_s3_compatible_storage() {
    let Ok(endpoint) = std::env::var("TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var("REQUIRE_S3").is_err(),
            "REQUIRE_S3 is set but TEST_S3_ENDPOINT is not"
        );
        eprintln!("skipped: no TEST_S3_ENDPOINT (an S3-compatible server, e.g. moto_server)");
        return;
    };
    agency_hub::stripe::install_tls_provider();
    let bucket = format!("agency-test-{}", uuid::Uuid::new_v4().simple());
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "creating the bucket: {}",
        created.status()
    );
    let url = format!("s3://{bucket}/portal");
    files_everywhere(&[
        ("FILES_URL", &url),
        ("AWS_ENDPOINT_URL", &endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ])
    .await;
}

#[tokio::test]
async fn a_file_question_is_answered_with_a_file_checked_like_any_other() {
    let mut app = spawn_app_with(&[]).await;
    let template = fixtures::template(&app.db, "Logo Design", &[("Concepts", None, true)]).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let logo = fixtures::service(&app.db, &template, &acme).await;
    let intake = serde_json::json!([
        {"id": 1, "kind": "file", "label": "Your current logo", "required": true, "when": "after_payment"},
        {"id": 2, "kind": "short_text", "label": "Tagline", "when": "after_payment"}
    ]);
    agency_hub::db::entities::service::Entity::update_many()
        .col_expr(
            agency_hub::db::entities::service::Column::Intake,
            sea_orm::sea_query::Expr::value(intake),
        )
        .exec(&app.db)
        .await
        .unwrap();
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    app.signed_in_as(Role::Client).await;
    let mine = format!("/my/services/{}", logo.id);
    let page = app.page(&mine).await;
    assert!(page.contains("Action needed: answer 1 question"));
    assert!(page.contains("<input type=\"file\" name=\"q1\""));

    // A disguised program: refused beside its question, the tagline typed kept, nothing kept.
    let res = app
        .post_multipart(
            &format!("{mine}/answers"),
            &[("q2", "Anvils since 1920")],
            &[("q1", "logo.png", EXE)],
        )
        .await;
    assert_eq!(res.status(), 415);
    let html = res.text().await.unwrap();
    assert!(html.contains("logo.png is a program"), "{html}");
    assert!(html.contains("value=\"Anvils since 1920\""));
    assert_eq!(counts(&app).await.0, 0);

    let picture = png(64, 64);
    let res = app
        .post_multipart(
            &format!("{mine}/answers"),
            &[("q2", "Anvils since 1920")],
            &[("q1", "logo.png", &picture)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let f = file::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!((f.question_id, f.name.as_str()), (Some(1), "logo.png"));
    let page = app.page(&mine).await;
    assert!(page.contains("Sent: logo.png."));
    assert!(!page.contains("Action needed"));
    // Sending the form again without a file keeps the answer.
    let res = app
        .post_form(&format!("{mine}/answers"), &[("q2", "Anvils since 1920")])
        .await;
    assert_eq!(res.status(), 303);
    assert!(app.page(&mine).await.contains("Sent: logo.png."));

    // Once work has started, the file given stays, even a new one of the same name.
    agency_hub::db::entities::task::Entity::update_many()
        .col_expr(
            agency_hub::db::entities::task::Column::Status,
            sea_orm::sea_query::Expr::value("IN_PROGRESS"),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let res = app
        .post_multipart(
            &format!("{mine}/answers"),
            &[],
            &[("q1", "logo.png", &png(32, 32))],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("this file can no longer change")
    );
    assert_eq!(counts(&app).await.0, 1);

    app.switch_browser(browser());
    assert_eq!(
        app.sign_in("admin@example.com", PASSWORD).await.status(),
        303
    );
    let page = app.page(&format!("/services/{}", logo.id)).await;
    assert!(page.contains(&format!(
        "<a href=\"/files/{}\" download>logo.png</a>",
        f.id
    )));
}

/// Past 2 MB (axum's default body limit), within the 25 MB default: a form with a large file
/// passes the CSRF check and is kept whole.
#[tokio::test]
async fn a_file_of_several_megabytes_is_kept_whole() {
    let app = spawn_app_with(&[]).await;
    let template = fixtures::template(&app.db, "Logo Design", &[("Concepts", None, true)]).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let logo = fixtures::service(&app.db, &template, &acme).await;
    app.signed_in_as(Role::Client).await;
    let big = "brand guide line\n".repeat(200_000);
    assert!(big.len() > 3_000_000);
    let res = app
        .post_files(
            &format!("/my/services/{}/messages", logo.id),
            &[],
            &[("guide.txt", big.as_bytes())],
        )
        .await;
    assert_eq!(res.status(), 303);
    let f = file::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(f.size_bytes, big.len() as i64);
    let res = app.get(&format!("/files/{}", f.id)).await;
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(res.bytes().await.unwrap().len(), big.len());
}
