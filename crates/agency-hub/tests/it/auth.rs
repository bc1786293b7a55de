//! Sign-in, sign-out, sessions, roles and CSRF.

use agency_hub::db::entities::{job, session, user::Role};
use agency_hub::jobs::{Enqueue, Job};
use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::harness::{
    PASSWORD, browser, content_type, set_cookies, spawn_app, spawn_app_with,
    spawn_app_without_background_work,
};

#[tokio::test]
async fn given_an_admin_when_they_sign_in_then_they_see_their_dashboard() {
    let app = spawn_app().await;
    app.create_user(Role::Admin, "Admin@Example.com", None)
        .await;

    // Emails are compared case-insensitively.
    let res = app.sign_in("ADMIN@example.COM", PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard");

    let res = app.get("/dashboard").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Welcome, Admin user"), "{html}");
    assert!(
        html.contains("href=\"/admin/jobs\""),
        "admins see the Jobs navigation"
    );

    let me: Value = app.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["email"], "admin@example.com");
    assert_eq!(me["role"], "ADMIN");
}

#[tokio::test]
async fn a_client_signs_in_and_sees_their_company_on_their_dashboard() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Client).await;
    let html = app.get("/dashboard").await.text().await.unwrap();
    assert!(html.contains("Acme Corp"), "{html}");
    assert!(html.contains("Your active services"));
    assert!(
        !html.contains("href=\"/admin/jobs\""),
        "clients have no admin navigation"
    );
}

#[tokio::test]
async fn sign_in_goes_back_to_the_page_that_asked_for_it() {
    let app = spawn_app().await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    let res = app.get("/admin/jobs?status=dead").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/login?next=%2Fadmin%2Fjobs%3Fstatus%3Ddead"
    );

    let res = app
        .post_form(
            "/login",
            &[
                ("email", "admin@example.com"),
                ("password", PASSWORD),
                ("next", "/admin/jobs?status=dead"),
            ],
        )
        .await;
    assert_eq!(res.headers()["location"], "/admin/jobs?status=dead");
}

/// Found by the review: a tab made `/\t/evil.example` a way off the site, and a newline in `next`
/// broke the redirect (a plain 500, and the sign-in lost).
#[tokio::test]
async fn a_next_that_leaves_the_site_or_breaks_the_header_goes_to_the_dashboard() {
    let app = spawn_app().await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;
    for next in [
        "/\t/evil.example",
        "/dashboard\r\nSet-Cookie: stolen=1",
        "/\\evil.example",
        "https://evil.example/",
    ] {
        let res = app
            .post_form(
                "/login",
                &[
                    ("email", "admin@example.com"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{next:?}");
        assert_eq!(res.headers()["location"], "/dashboard", "{next:?}");
        assert!(
            res.headers()
                .values()
                .all(|v| !v.as_bytes().windows(6).any(|w| w == b"stolen")),
            "{next:?} set a header"
        );
        assert_eq!(
            app.get("/api/me").await.status(),
            200,
            "still signed in after {next:?}"
        );
    }
    // Signed in, the sign-in page sends the same `next` home too.
    let res = app.get("/login?next=%2F%09%2Fevil.example").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard");
    let res = app
        .get("/login?next=%2Fx%0D%0ALocation%3A%20https%3A%2F%2Fevil.example")
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard");
}

#[tokio::test]
async fn a_wrong_password_shows_a_message_and_starts_no_session() {
    let app = spawn_app().await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;

    let res = app.sign_in("admin@example.com", "wrong-password").await;
    assert_eq!(res.status(), 401);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("The email or password is not right."),
        "{html}"
    );
    assert!(
        html.contains("value=\"admin@example.com\""),
        "the email is kept in the form"
    );

    assert_eq!(
        app.get("/dashboard").await.status(),
        303,
        "still signed out"
    );
    assert_eq!(app.get("/api/me").await.status(), 401);

    // An unknown email gets the same answer.
    let res = app.sign_in("nobody@example.com", PASSWORD).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The email or password is not right.")
    );
}

#[tokio::test]
async fn the_api_signs_in_and_out_with_the_same_session_cookie() {
    let app = spawn_app().await;
    app.create_user(Role::Manager, "manager@example.com", None)
        .await;

    let res = app
        .post_json(
            "/api/session",
            &json!({"email": "manager@example.com", "password": "nope-nope"}),
        )
        .await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_credentials");

    let res = app
        .post_json(
            "/api/session",
            &json!({"email": "manager@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        set_cookies(res.headers())
            .iter()
            .any(|c| c.starts_with("agency_hub_session="))
    );
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["role"], "MANAGER");

    let me: Value = app.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["email"], "manager@example.com");
    assert_eq!(
        app.get("/dashboard").await.status(),
        200,
        "the page session is the same"
    );

    let res = app
        .api(reqwest::Method::DELETE, "/api/session")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.get("/api/me").await.status(), 401);
}

#[tokio::test]
async fn the_api_refuses_bad_json_with_a_clear_message() {
    let app = spawn_app().await;
    let res = app
        .api(reqwest::Method::POST, "/api/session")
        .header("content-type", "application/json")
        .body("{\"email\": 1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn after_five_failures_sign_in_is_refused_with_429_even_with_the_right_password() {
    let app = spawn_app().await;
    app.create_user(Role::Client, "client@acme.example", Some("Acme Corp"))
        .await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;

    for _ in 0..5 {
        assert_eq!(
            app.sign_in("client@acme.example", "wrong-password")
                .await
                .status(),
            401
        );
    }
    let res = app.sign_in("client@acme.example", PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Too many failed sign-ins")
    );
    assert_eq!(app.get("/api/me").await.status(), 401);

    let res = app
        .post_json(
            "/api/session",
            &json!({"email": "client@acme.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 429);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");

    // Another email from the same address is not locked out.
    assert_eq!(
        app.sign_in("admin@example.com", PASSWORD).await.status(),
        303
    );
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;

    // The session id changes at sign-in.
    let res = app.get("/login").await;
    let before = session_cookie(res.headers())
        .expect("the sign-in page starts a session for its CSRF token");
    let res = app.sign_in("admin@example.com", PASSWORD).await;
    let after = session_cookie(res.headers()).expect("sign-in sets the session cookie");
    assert_ne!(before, after, "the session id is renewed at sign-in");
    assert_eq!(
        session::Entity::find().count(&app.db).await.unwrap(),
        1,
        "the old session is gone"
    );

    let res = app.post_form("/logout", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login");
    let html = app.get("/login").await.text().await.unwrap();
    assert!(html.contains("You have signed out."));

    // The old cookie, replayed by anyone, opens nothing.
    let thief = browser();
    let res = thief
        .get(app.url("/api/me"))
        .header("cookie", format!("agency_hub_session={after}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = thief
        .get(app.url("/dashboard"))
        .header("cookie", format!("agency_hub_session={after}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

fn session_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    set_cookies(headers).into_iter().find_map(|c| {
        c.strip_prefix("agency_hub_session=")
            .map(|v| v.split(';').next().unwrap().to_string())
    })
}

#[tokio::test]
async fn the_session_cookie_is_httponly_and_lax_and_secure_only_on_https() {
    let app = spawn_app().await;
    let cookie = set_cookies(app.get("/login").await.headers())
        .into_iter()
        .find(|c| c.starts_with("agency_hub_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");

    let app = spawn_app_with(&[("APP_URL", "https://portal.example.com")]).await;
    let cookie = set_cookies(app.get("/login").await.headers())
        .into_iter()
        .find(|c| c.starts_with("agency_hub_session="))
        .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn a_client_gets_403_on_admin_pages_and_a_json_403_on_admin_api_routes() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Client).await;

    let res = app.get("/admin/jobs").await;
    assert_eq!(res.status(), 403);
    assert!(content_type(&res).starts_with("text/html"));
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your account cannot open this page.")
    );

    let res = app.get("/api/admin/jobs").await;
    assert_eq!(res.status(), 403);
    assert!(content_type(&res).starts_with("application/json"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");

    // A manager is staff but not an admin.
    let manager = spawn_app().await;
    manager.signed_in_as(Role::Manager).await;
    assert_eq!(manager.get("/admin/jobs").await.status(), 403);
    assert_eq!(manager.get("/dashboard").await.status(), 200);

    // Signed out, the API answers 401 in JSON.
    let res = browser()
        .get(app.url("/api/admin/jobs"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn a_form_post_without_its_csrf_token_gets_403_and_changes_nothing() {
    let app = spawn_app_without_background_work().await;
    app.signed_in_as(Role::Admin).await;
    let id = dead_job(&app).await;

    let res = app
        .post_form_without_token(&format!("/admin/jobs/{id}/retry"), &[])
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("This form has expired or came from another site")
    );
    let job = job::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status, job::JobStatus::Dead, "nothing changed");

    let res = app
        .post_form_without_token(&format!("/admin/jobs/{id}/retry"), &[("_csrf", "forged")])
        .await;
    assert_eq!(res.status(), 403);

    // Signing out needs the token too.
    assert_eq!(
        app.post_form_without_token("/logout", &[]).await.status(),
        403
    );
    assert_eq!(app.get("/api/me").await.status(), 200, "still signed in");

    let res = app.post_form(&format!("/admin/jobs/{id}/retry"), &[]).await;
    assert_eq!(res.status(), 303);
    let job = job::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status, job::JobStatus::Queued);
    assert_eq!(job.attempts, 0);
}

/// A kind of job the app does not run.
#[derive(serde::Serialize, serde::Deserialize)]
struct Nothing;

impl Job for Nothing {
    const KIND: &'static str = "test.nothing";
    type Env = ();

    async fn run(self, _: &(), _attempt: i32) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A job that failed for the last time, of a kind nobody handles.
async fn dead_job(app: &crate::harness::TestApp) -> i64 {
    Enqueue::job(&Nothing).insert(&app.db).await.unwrap();
    let row = job::Entity::find().one(&app.db).await.unwrap().unwrap();
    let mut active: job::ActiveModel = row.into();
    active.status = Set(job::JobStatus::Dead);
    active.attempts = Set(8);
    active.last_error = Set(Some("boom".into()));
    active.run_at = Set(chrono::Utc::now() + chrono::Duration::days(1));
    let row = sea_orm::ActiveModelTrait::update(active, &app.db)
        .await
        .unwrap();
    row.id
}

#[tokio::test]
async fn cookie_authenticated_api_writes_need_json_and_our_origin() {
    let app = spawn_app().await;
    app.create_user(Role::Admin, "admin@example.com", None)
        .await;

    let res = app
        .api(reqwest::Method::POST, "/api/session")
        .form(&[("email", "admin@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);

    let res = app
        .client
        .post(app.url("/api/session"))
        .header("origin", "https://evil.example")
        .json(&json!({"email": "admin@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.get("/api/me").await.status(),
        401,
        "no session was started"
    );

    let res = app
        .client
        .post(app.url("/api/session"))
        .header("origin", "http://127.0.0.1:3001")
        .json(&json!({"email": "admin@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "our own origin is welcome");

    // Without an Origin, only a browser's own Sec-Fetch-Site says where a write comes from.
    for (site, status) in [
        (None, 403),
        (Some("same-site"), 403),
        (Some("same-origin"), 204),
    ] {
        let mut req = app.client.delete(app.url("/api/session"));
        if let Some(site) = site {
            req = req.header("sec-fetch-site", site);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), status, "Sec-Fetch-Site {site:?}");
    }
    let res = app
        .client
        .post(app.url("/api/session"))
        .json(&json!({"email": "admin@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "no Origin and no Sec-Fetch-Site");
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("http://127.0.0.1:3001")
    );
}
