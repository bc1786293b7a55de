//! Administration: who may reach it, template forms, clients and users.

use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{activity, client, service_template, user};
use agency_hub::ids::TemplateId;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::files::png;
use crate::fixtures;
use crate::harness::{PASSWORD, TestApp, browser, spawn_app};

#[tokio::test]
async fn a_manager_cannot_reach_user_or_template_administration() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Manager).await;
    for path in [
        "/admin/users",
        "/admin/users/new",
        "/admin/templates",
        "/admin/templates/new",
        "/admin/clients",
        "/admin/activity",
    ] {
        assert_eq!(app.get(path).await.status(), 403, "{path}");
    }
    let res = app
        .post_form("/admin/templates", &[("name", "Sneaky"), ("category", "X")])
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_form(
            "/admin/users",
            &[
                ("email", "x@example.com"),
                ("name", "X"),
                ("role", "ADMIN"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        service_template::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 1);
    // The workflow is theirs.
    assert_eq!(app.get("/services").await.status(), 200);
}

#[tokio::test]
async fn invalid_template_forms_are_refused_with_the_field_named_and_nothing_saved() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;

    refuses_a_blank_name_and_negative_days_keeping_what_was_typed(&app).await;
    refuses_a_name_over_200_characters(&app).await;
    refuses_over_100_tasks(&app).await;
    assert_eq!(template_count(&app).await, 0, "nothing saved");

    saves_a_valid_form_without_its_blank_task_row(&app).await;
}

async fn refuses_a_blank_name_and_negative_days_keeping_what_was_typed(app: &TestApp) {
    let res = app
        .post_form(
            "/admin/templates",
            &[
                ("name", ""),
                ("category", "Design"),
                ("task-0-name", "Sketch"),
                ("task-0-due", "-3"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("Give the template a name."), "{html}");
    assert!(html.contains("Days cannot be negative"));
    assert!(html.contains("value=\"Sketch\""), "what was typed is kept");
}

async fn refuses_a_name_over_200_characters(app: &TestApp) {
    let long = "x".repeat(201);
    let res = app
        .post_form(
            "/admin/templates",
            &[("name", &long), ("category", "Design")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("at most 200 characters"));
}

async fn refuses_over_100_tasks(app: &TestApp) {
    let mut fields: Vec<(String, String)> = vec![
        ("name".into(), "Huge".into()),
        ("category".into(), "Design".into()),
    ];
    for i in 0..101 {
        fields.push((format!("task-{i}-name"), format!("Task {i}")));
    }
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = app.post_form("/admin/templates", &refs).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("at most 100 tasks"));
}

async fn template_count(app: &TestApp) -> u64 {
    service_template::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

async fn saves_a_valid_form_without_its_blank_task_row(app: &TestApp) {
    let res = app
        .post_form(
            "/admin/templates",
            &[
                ("name", "Logo Design"),
                ("category", "Design"),
                ("description", "Three concepts."),
                ("task-0-name", "Brief"),
                ("task-0-due", "2"),
                ("task-0-visible", "on"),
                ("task-1-name", "Internal check"),
                ("task-2-name", ""),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let saved = service_template::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let tasks = saved.tasks();
    assert_eq!(tasks.len(), 2);
    assert_eq!(
        (
            tasks[0].name.as_str(),
            tasks[0].due_in_days,
            tasks[0].client_visible
        ),
        ("Brief", Some(2), true)
    );
    assert_eq!(
        (
            tasks[1].name.as_str(),
            tasks[1].due_in_days,
            tasks[1].client_visible
        ),
        ("Internal check", None, false)
    );
}

#[tokio::test]
async fn template_tasks_are_reordered_and_removed_without_javascript_and_saved_on_save() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    let t = fixtures::template(
        &app.db,
        "Logo",
        &[
            ("First", Some(1), true),
            ("Second", Some(2), true),
            ("Third", None, false),
        ],
    )
    .await;
    let path = format!("/admin/templates/{}", t.id);

    moving_a_task_down_rearranges_the_form_and_saves_nothing(&app, &path, t.id).await;
    removing_a_task_drops_it_from_the_form(&app, &path).await;
    saving_keeps_the_tasks_in_their_new_order(&app, &path, t.id).await;
    an_archived_template_cannot_be_assigned(&app, t.id).await;
}

/// The "Logo" template's form as the page submits it, with the button pressed (`intent`).
fn logo_form(intent: &str) -> Vec<(&str, &str)> {
    vec![
        ("name", "Logo"),
        ("category", "Design"),
        ("task-0-name", "First"),
        ("task-1-name", "Second"),
        ("task-2-name", "Third"),
        ("intent", intent),
    ]
}

async fn moving_a_task_down_rearranges_the_form_and_saves_nothing(
    app: &TestApp,
    path: &str,
    id: TemplateId,
) {
    let res = app.post_form(path, &logo_form("down:0")).await;
    assert_eq!(res.status(), 200, "the form comes back rearranged");
    let html = res.text().await.unwrap();
    let (a, b) = (
        html.find("value=\"Second\"").unwrap(),
        html.find("value=\"First\"").unwrap(),
    );
    assert!(a < b, "Second now comes first");
    assert_eq!(
        fixtures_tasks(app, id).await,
        ["First", "Second", "Third"],
        "nothing saved yet"
    );
}

async fn removing_a_task_drops_it_from_the_form(app: &TestApp, path: &str) {
    let res = app.post_form(path, &logo_form("remove:1")).await;
    let html = res.text().await.unwrap();
    assert!(!html.contains("value=\"Second\""));
}

async fn saving_keeps_the_tasks_in_their_new_order(app: &TestApp, path: &str, id: TemplateId) {
    let res = app
        .post_form(
            path,
            &[
                ("name", "Logo"),
                ("category", "Design"),
                ("task-0-name", "Third"),
                ("task-1-name", "First"),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(fixtures_tasks(app, id).await, ["Third", "First"]);
}

async fn an_archived_template_cannot_be_assigned(app: &TestApp, id: TemplateId) {
    let res = app
        .post_form(
            &format!("/admin/templates/{id}/archive"),
            &[("archived", "true")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let res = app
        .post_form(
            "/services",
            &[
                ("client_id", &acme.id.to_string()),
                ("template_id", &id.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("archived"));
    assert!(
        !app.page("/services/new").await.contains("Logo ("),
        "archived templates are not offered"
    );
}

async fn fixtures_tasks(app: &TestApp, id: TemplateId) -> Vec<String> {
    let t = service_template::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    t.tasks().into_iter().map(|t| t.name).collect()
}

#[tokio::test]
async fn an_admin_creates_a_client_and_a_client_user_who_can_sign_in() {
    let mut app = spawn_app().await;
    let admin = app.signed_in_as(Role::Admin).await;

    let initech = creates_initech_refusing_a_bad_email_and_a_duplicate(&app).await;
    creates_peter_at_initech_once_his_client_is_chosen(&app, &initech).await;
    let actions: Vec<String> = activity::Entity::find()
        .filter(activity::Column::ActorUserId.eq(admin.id))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(actions, ["client.created", "user.created"]);

    app.switch_browser(browser());
    assert_eq!(
        app.sign_in("peter@initech.example", PASSWORD)
            .await
            .status(),
        303
    );
    assert!(app.page("/dashboard").await.contains("Initech"));
}

async fn creates_initech_refusing_a_bad_email_and_a_duplicate(app: &TestApp) -> client::Model {
    let res = app
        .post_form(
            "/admin/clients",
            &[("name", "Initech"), ("billing_email", "not-an-email")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("is not an email address")
    );
    let res = app
        .post_form(
            "/admin/clients",
            &[
                ("name", "Initech"),
                ("billing_email", "Billing@Initech.example"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form("/admin/clients", &[("name", "INITECH")])
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("already exists"));
    let initech = client::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(
        initech.billing_email.as_deref(),
        Some("billing@initech.example")
    );
    assert_eq!(client::Entity::find().count(&app.db).await.unwrap(), 1);
    initech
}

async fn creates_peter_at_initech_once_his_client_is_chosen(
    app: &TestApp,
    initech: &client::Model,
) {
    let res = app
        .post_form(
            "/admin/users",
            &[
                ("email", "peter@initech.example"),
                ("name", "Peter"),
                ("role", "CLIENT"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("choose one"));
    let res = app
        .post_form(
            "/admin/users",
            &[
                ("email", "peter@initech.example"),
                ("name", "Peter"),
                ("role", "CLIENT"),
                ("client_id", &initech.id.to_string()),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn a_deactivated_user_cannot_sign_in_and_their_sessions_end() {
    let mut app = spawn_app().await;
    let client_user = app.signed_in_as(Role::Client).await;
    assert_eq!(app.get("/api/me").await.status(), 200);

    let client_browser = app.switch_browser(browser());
    app.signed_in_as(Role::Admin).await;
    let res = app
        .post_form(
            &format!("/admin/users/{}/active", client_user.id),
            &[("active", "false")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        app.page(&format!("/admin/users/{}", client_user.id))
            .await
            .contains("Deactivated")
    );

    let admin_browser = app.switch_browser(client_browser);
    assert_eq!(
        app.get("/api/me").await.status(),
        401,
        "their session ended"
    );
    let res = app.sign_in("client@acme.example", PASSWORD).await;
    assert_eq!(res.status(), 401);

    app.switch_browser(admin_browser);
    app.post_form(
        &format!("/admin/users/{}/active", client_user.id),
        &[("active", "true")],
    )
    .await;
    app.switch_browser(browser());
    assert_eq!(
        app.sign_in("client@acme.example", PASSWORD).await.status(),
        303
    );
}

#[tokio::test]
async fn an_admin_resets_a_password_and_cannot_deactivate_themselves() {
    let mut app = spawn_app().await;
    let manager = app.signed_in_as(Role::Manager).await;
    let manager_browser = app.switch_browser(browser());
    let admin = app.signed_in_as(Role::Admin).await;

    let res = app
        .post_form(
            &format!("/admin/users/{}/password", manager.id),
            &[("password", "short")],
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .post_form(
            &format!("/admin/users/{}/password", manager.id),
            &[("password", "a-brand-new-password")],
        )
        .await;
    assert_eq!(res.status(), 303);

    let res = app
        .post_form(
            &format!("/admin/users/{}/active", admin.id),
            &[("active", "false")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("cannot deactivate your own account")
    );

    app.switch_browser(manager_browser);
    assert_eq!(
        app.get("/api/me").await.status(),
        401,
        "a reset ends their sessions"
    );
    assert_eq!(
        app.sign_in("manager@example.com", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        app.sign_in("manager@example.com", "a-brand-new-password")
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn users_change_their_own_name_and_password() {
    let mut app = spawn_app().await;
    let me = app.signed_in_as(Role::Client).await;

    assert_eq!(
        app.post_form("/account/name", &[("name", "Ana Lima")])
            .await
            .status(),
        303
    );
    assert!(app.page("/account").await.contains("value=\"Ana Lima\""));

    let res = app
        .post_form(
            "/account/password",
            &[
                ("current_password", "wrong-one"),
                ("new_password", "another-password"),
                ("confirm_password", "another-password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("current password is not right")
    );
    let res = app
        .post_form(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another-password"),
                ("confirm_password", "different"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .post_form(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another-password"),
                ("confirm_password", "another-password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);

    app.switch_browser(browser());
    assert_eq!(
        app.sign_in("client@acme.example", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        app.sign_in("client@acme.example", "another-password")
            .await
            .status(),
        303
    );
    let renamed = user::Entity::find_by_id(me.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "Ana Lima");
}

#[tokio::test]
async fn store_settings_are_validated_field_by_field_and_saved_in_minor_units() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;

    refuses_each_bad_store_field_with_its_message(&app).await;
    assert_eq!(template_count(&app).await, 0, "nothing saved");

    saves_a_dollar_price_in_cents_with_its_images(&app).await;
    saves_a_yen_price_without_minor_units(&app).await;
}

/// The Logo Design form before its store settings.
const LOGO_FOR_SALE: [(&str, &str); 3] = [
    ("name", "Logo Design"),
    ("category", "Design"),
    ("purchasable", "on"),
];

async fn refuses_each_bad_store_field_with_its_message(app: &TestApp) {
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[("price", "-5")], "cannot be negative"),
        (&[("price", "12.345")], "at most 2 decimals"),
        (&[("price", "")], "Enter a price."),
        (
            &[("price", "10"), ("currency", "XYZ")],
            "is not a currency the store accepts",
        ),
        (
            &[("price", "10"), ("store_images", "javascript:alert(1)")],
            "is not an http(s) address",
        ),
        (&[("price", "10"), ("max_quantity", "0")], "from 1 to 100"),
        (&[("price", "10"), ("max_quantity", "101")], "from 1 to 100"),
        (
            &[("price", "5000.5"), ("currency", "JPY")],
            "JPY has no decimals",
        ),
    ];
    for (fields, message) in cases {
        let mut all: Vec<(&str, &str)> = LOGO_FOR_SALE.to_vec();
        all.extend_from_slice(fields);
        let res = app.post_form("/admin/templates", &all).await;
        assert_eq!(res.status(), 400, "{fields:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{fields:?} should say {message:?}");
    }
}

async fn saves_a_dollar_price_in_cents_with_its_images(app: &TestApp) {
    let mut all: Vec<(&str, &str)> = LOGO_FOR_SALE.to_vec();
    all.extend_from_slice(&[
        ("price", "1,250.50"),
        ("currency", "usd"),
        (
            "store_images",
            "https://cdn.example.com/a.png\n\n/static/img/logo-design.svg",
        ),
        ("max_quantity", "3"),
        ("sort_order", "-2"),
    ]);
    assert_eq!(app.post_form("/admin/templates", &all).await.status(), 303);
    let t = service_template::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            t.price_minor,
            t.currency.code(),
            t.max_quantity,
            t.sort_order
        ),
        (125_050, "USD", 3, -2)
    );
    assert_eq!(
        t.images(),
        [
            "https://cdn.example.com/a.png",
            "/static/img/logo-design.svg"
        ]
    );
    assert_eq!(
        t.store_title, "Logo Design",
        "the name stands in for an empty store title"
    );
    assert!(t.on_sale());
}

async fn saves_a_yen_price_without_minor_units(app: &TestApp) {
    let mut all: Vec<(&str, &str)> = vec![
        ("name", "Yen Audit"),
        ("category", "Design"),
        ("purchasable", "on"),
    ];
    all.extend_from_slice(&[("price", "5000"), ("currency", "JPY")]);
    assert_eq!(app.post_form("/admin/templates", &all).await.status(), 303);
    let yen = service_template::Entity::find()
        .filter(service_template::Column::Name.eq("Yen Audit"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(yen.price_minor, 5000);
    assert_eq!(yen.price().display(), "¥5,000");
}

#[tokio::test]
async fn a_clients_page_is_its_whole_picture_people_services_orders_spend_and_messages() {
    let mut app = spawn_app().await;
    // Acme bought Logo Design and two SEO Audits ($1,199.00); Ana writes on the logo.
    let order = crate::purchase::paid_order(&app).await;
    let services = crate::orders::services_of(&app, order.id).await;
    let res = app
        .post_form(
            &format!("/my/services/{}/messages", services[0].id),
            &[("body", "Can we see a first sketch on Friday?")],
        )
        .await;
    assert_eq!(res.status(), 303);
    crate::orders::as_admin(&mut app).await;
    let acme = client::Entity::find()
        .filter(client::Column::Name.eq("Acme Corp"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let other = fixtures::company(&app.db, "Globex Inc").await;
    fixtures::service(
        &app.db,
        &fixtures::template(&app.db, "Audit for Globex", &[]).await,
        &other,
    )
    .await;

    let page = app.page(&format!("/admin/clients/{}", acme.id)).await;
    for text in [
        "<h1>Acme Corp</h1>",
        "Spent $1,199.00 · 1 order · 3 services · pays in USD",
        "client@acme.example",
        &format!(
            r#"<a href="/admin/orders/{}">{}</a>"#,
            order.id, order.order_number
        ),
        &format!(r#"<a href="/services/{}">Logo Design</a>"#, services[0].id),
        "Can we see a first sketch on Friday?",
        "Details and notes",
    ] {
        assert!(page.contains(text), "{text}: {page}");
    }
    assert!(
        !page.contains("Audit for Globex"),
        "no other company's service"
    );
    // A refund lowers what it spent.
    let res = app
        .post_form(
            &format!("/admin/orders/{}/refund", order.id),
            &[
                ("amount", "199"),
                ("reason", "duplicate"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app.page(&format!("/admin/clients/{}", acme.id)).await;
    assert!(page.contains("Spent $1,000.00"), "{page}");
}

#[tokio::test]
async fn staff_search_finds_clients_people_orders_by_number_and_services() {
    let mut app = spawn_app().await;
    let order = crate::purchase::paid_order(&app).await;
    crate::orders::as_admin(&mut app).await;
    let globex = fixtures::company(&app.db, "Globex Inc").await;
    let audit = fixtures::template(&app.db, "Globex rebrand", &[]).await;
    fixtures::service(&app.db, &audit, &globex).await;

    let search = |q: &str| {
        let path = format!("/search?q={q}");
        let app = &app;
        async move { app.page(&path).await }
    };
    // By the order's number, in any case: the order.
    let page = search(&order.order_number.to_lowercase()).await;
    assert!(
        page.contains(&format!(
            r#"<a href="/admin/orders/{}">{}</a>"#,
            order.id, order.order_number
        )),
        "{page}"
    );
    // By a company's name: the company, its orders and services, nobody else's.
    let page = search("acme").await;
    for text in [
        ">Acme Corp</a>",
        "client@acme.example",
        &order.order_number,
        ">Logo Design</a>",
    ] {
        assert!(page.contains(text), "{text}: {page}");
    }
    assert!(!page.contains("Globex"));
    let page = search("rebrand").await;
    assert!(page.contains(">Globex rebrand</a>") && !page.contains("Acme"));
    let page = search("nothing-like-this").await;
    assert!(page.contains("Nothing matches"), "{page}");
    // LIKE's own characters are searched as themselves.
    assert!(search("%25").await.contains("Nothing matches"));
    let res = app.get(&format!("/search?q={}", "x".repeat(101))).await;
    assert_eq!(res.status(), 400);

    // A manager searches too, without the people; a client cannot.
    app.switch_browser(browser());
    app.create_user(Role::Manager, "max@agency.example", None)
        .await;
    assert_eq!(
        app.sign_in("max@agency.example", PASSWORD).await.status(),
        303
    );
    let page = app.page("/search?q=acme").await;
    assert!(page.contains(">Acme Corp</a>") && !page.contains("client@acme.example"));
    app.switch_browser(browser());
    assert_eq!(
        app.sign_in("client@acme.example", PASSWORD).await.status(),
        303
    );
    assert_eq!(app.get("/search?q=acme").await.status(), 403);
}

#[tokio::test]
async fn a_templates_pictures_are_uploaded_kept_when_the_form_has_a_mistake_and_served() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    let mut fields: Vec<(&str, &str)> = LOGO_FOR_SALE.to_vec();
    fields.push(("intent", "save"));

    // Not a picture: refused by name, nothing kept.
    let res = app
        .post_multipart(
            "/admin/templates",
            &[&fields[..], &[("price", "499")]].concat(),
            &[("store_image_files", "notes.txt", b"just some words")],
        )
        .await;
    assert_eq!(res.status(), 415);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("notes.txt is not an image")
    );
    assert_eq!(template_count(&app).await, 0);

    // A picture sent with a mistake elsewhere is kept: its address comes back in the form.
    let res = app
        .post_multipart(
            "/admin/templates",
            &[&fields[..], &[("price", "")]].concat(),
            &[("store_image_files", "logo.png", &png(2400, 1200))],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("Enter a price."));
    let start = html.find("/store/images/").expect("the picture's address");
    let address = html[start..start + "/store/images/".len() + 36].to_string();
    assert!(address.ends_with(".png"), "{address}");

    // Saved with it (and a second picture): the store's card shows the first.
    let images = address.clone();
    let res = app
        .post_multipart(
            "/admin/templates",
            &[&fields[..], &[("price", "499"), ("store_images", &images)]].concat(),
            &[("store_image_files", "second.png", &png(300, 300))],
        )
        .await;
    assert_eq!(res.status(), 303);
    let saved = service_template::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let kept = saved.images();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0], address);
    // Served to anyone, made to fit 1600 × 1200, and cached for good.
    let res = browser().get(app.url(&address)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (1600, 800));
    for missing in [
        "/store/images/nope.png",
        "/store/images/..%2Fagency%2Flogo.png",
    ] {
        assert_eq!(
            browser()
                .get(app.url(missing))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
}
