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

/// The token of the newest "forgot password" email to `to`, and how many were queued for it.
async fn reset_links(app: &crate::harness::TestApp, to: &str) -> (Option<String>, usize) {
    let mut emails: Vec<_> = crate::orders::emails_of_kind(app, "password_reset")
        .await
        .into_iter()
        .filter(|e| e.to_address == to)
        .collect();
    emails.sort_by_key(|e| e.id);
    let token = emails
        .last()
        .map(|e| e.payload["token"].as_str().unwrap().to_string());
    if let Some(e) = emails.last() {
        let e = crate::orders::rendered(app, e.id).await;
        let link = format!("/password/set?token={}", token.as_ref().unwrap());
        assert!(
            e.text.contains(&link) && e.html.contains(&link),
            "{}",
            e.text
        );
        assert!(e.text.contains("it works once, for an hour"), "{}", e.text);
    }
    (token, emails.len())
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_an_emailed_link_that_works_once_for_an_hour() {
    use agency_hub::db::entities::password_token;
    use sea_orm::{ColumnTrait, QueryFilter};
    let app = spawn_app().await;
    app.create_user(Role::Client, "ana@acme.example", Some("Acme Corp"))
        .await;
    let login = app.page("/login").await;
    assert!(login.contains(r#"<a href="/password/forgot">Forgot your password?</a>"#));

    // The same answer for an account and for none; only the account gets an email.
    for email in ["ana@acme.example", "nobody@acme.example"] {
        let res = app.post_form("/password/forgot", &[("email", email)]).await;
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        assert!(
            page.contains(&format!(
                "If an account signs in with <strong>{email}</strong>, we have emailed it a link"
            )),
            "{page}"
        );
    }
    assert_eq!(reset_links(&app, "nobody@acme.example").await.1, 0);
    let (token, sent) = reset_links(&app, "ana@acme.example").await;
    assert_eq!(sent, 1);
    let token = token.unwrap();
    let res = app
        .post_form("/password/forgot", &[("email", "not an email")])
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Enter the email address you sign in with.")
    );

    // The link sets a new password once.
    let set = format!("/password/set?token={token}");
    assert!(app.page(&set).await.contains("ana@acme.example"));
    let fields = [
        ("token", token.as_str()),
        ("new_password", "a-new-password-1"),
        ("confirm_password", "a-new-password-1"),
    ];
    let res = app.post_form("/password/set", &fields).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.sign_in("ana@acme.example", PASSWORD).await.status(),
        401,
        "the old password no longer works"
    );
    assert_eq!(
        app.sign_in("ana@acme.example", "a-new-password-1")
            .await
            .status(),
        303
    );
    let again = app.post_form("/password/set", &fields).await;
    assert_eq!(again.status(), 400);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("expired or was used already")
    );

    // A link older than an hour no longer works.
    app.post_form("/password/forgot", &[("email", "ana@acme.example")])
        .await;
    let (late, sent) = reset_links(&app, "ana@acme.example").await;
    assert_eq!(sent, 2);
    let row = password_token::Entity::find()
        .filter(password_token::Column::UsedAt.is_null())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let lifetime = row.expires_at - row.created_at;
    assert_eq!(lifetime, chrono::Duration::hours(1));
    password_token::Entity::update(password_token::ActiveModel {
        id: Set(row.id),
        expires_at: Set(chrono::Utc::now() - chrono::Duration::seconds(1)),
        ..Default::default()
    })
    .exec(&app.db)
    .await
    .unwrap();
    let res = app
        .get(&format!("/password/set?token={}", late.unwrap()))
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("expired or was used already")
    );

    // Three links an hour at most: the fourth request sends nothing.
    for _ in 0..2 {
        app.post_form("/password/forgot", &[("email", "ana@acme.example")])
            .await;
    }
    assert_eq!(reset_links(&app, "ana@acme.example").await.1, 3);
}

#[tokio::test]
async fn a_client_invites_teammates_only_when_the_agency_allows_it_and_only_to_their_company() {
    use agency_hub::db::entities::{agency_settings, user};
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut app = spawn_app().await;
    let ana = app.signed_in_as(Role::Client).await;
    let invite = [("name", "Bea Acme"), ("email", "bea@acme.example")];
    let users = || async { user::Entity::find().count(&app.db).await.unwrap() };
    let before = users().await;

    let res = app.post_form("/account/invites", &invite).await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("ask them to invite your teammate")
    );
    assert_eq!(users().await, before);

    // Allowed: checked like the admin's form, then made in Ana's company, logged as hers.
    let settings = agency_hub::agency::get(&app.db, &app.state.config)
        .await
        .unwrap();
    let mut allowed: agency_settings::ActiveModel =
        sea_orm::IntoActiveModel::into_active_model(settings);
    allowed = sea_orm::ActiveModelTrait::reset_all(allowed);
    allowed.clients_invite = Set(true);
    sea_orm::ActiveModelTrait::insert(allowed, &app.db)
        .await
        .unwrap();
    for (fields, says) in [
        ([("name", "Bea"), ("email", "not-an-email")], "email"),
        ([("name", ""), ("email", "bea@acme.example")], "name"),
        // An address with an account is not told apart from any other refusal.
        (
            [("name", "Ana again"), ("email", "client@acme.example")],
            "cannot be invited from here",
        ),
    ] {
        let res = app.post_form("/account/invites", &fields).await;
        assert!(
            res.status().is_client_error(),
            "{fields:?}: {}",
            res.status()
        );
        let page = res.text().await.unwrap();
        assert!(page.to_lowercase().contains(says), "{says}: {page}");
        assert!(!page.contains("already exists"));
        assert!(
            page.contains(&format!("value=\"{}\"", fields[1].1)),
            "kept as typed"
        );
    }
    assert_eq!(users().await, before);
    let res = app.post_form("/account/invites", &invite).await;
    assert_eq!(res.status(), 303);
    let bea = user::Entity::find()
        .filter(user::Column::Email.eq("bea@acme.example"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((bea.role, bea.client_id), (Role::Client, ana.client_id));
    let logged = agency_hub::db::entities::activity::Entity::find()
        .filter(agency_hub::db::entities::activity::Column::Action.eq("user.created"))
        .filter(agency_hub::db::entities::activity::Column::EntityId.eq(bea.id.get()))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(logged.actor_user_id, Some(ana.id));
    let account = app.page("/account").await;
    assert!(account.contains("Bea Acme") && account.contains("People of Acme Corp"));

    // Staff have no team to invite to.
    app.switch_browser(browser());
    app.signed_in_as(Role::Manager).await;
    let res = app.post_form("/account/invites", &invite).await;
    assert_eq!(res.status(), 403);
}
