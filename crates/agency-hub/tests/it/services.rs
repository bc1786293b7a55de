//! The service workflow: provisioning, the client's scoped view, status changes and their log.

use agency_hub::activity::Actor;
use agency_hub::db::entities::service::{ServiceOrigin, ServiceStatus};
use agency_hub::db::entities::task::TaskStatus;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{activity, service, service_template, task};
use agency_hub::ids::{ClientId, OrderItemId, ServiceId, UserId};
use agency_hub::provisioning::{self, Origin};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::fixtures;
use crate::harness::{TestApp, spawn_app, spawn_app_without_background_work};

#[tokio::test]
async fn provisioning_a_five_task_template_makes_five_tasks_due_on_the_right_days() {
    let app = spawn_app().await;
    let template = fixtures::template(
        &app.db,
        "Brand Identity",
        &[
            ("Workshop", Some(0), true),
            ("Moodboard", Some(1), true),
            ("Palette", Some(7), true),
            ("Internal review", None, false),
            ("Guide", Some(30), true),
        ],
    )
    .await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let now = Utc::now();

    let svc = provisioning::provision_service(
        &app.db,
        &Actor::System,
        &template,
        acme.id,
        Origin::Manual,
        now,
    )
    .await
    .unwrap();

    assert_eq!(svc.name, "Brand Identity");
    assert_eq!(svc.status, ServiceStatus::ToDo);
    assert_eq!(svc.origin, ServiceOrigin::Manual);
    assert_five_tasks_due_on_their_days(&app, svc.id, now).await;
    assert_its_creation_logged_by_the_system(&app, &svc, acme.id).await;
    a_purchased_unit_is_provisioned_once(&app, &template, acme.id, now).await;
}

/// A service's tasks, in their order.
async fn tasks_of(app: &TestApp, service: ServiceId) -> Vec<task::Model> {
    task::Entity::find()
        .filter(task::Column::ServiceId.eq(service))
        .order_by_asc(task::Column::Position)
        .all(&app.db)
        .await
        .unwrap()
}

async fn assert_five_tasks_due_on_their_days(app: &TestApp, svc: ServiceId, now: DateTime<Utc>) {
    let tasks = tasks_of(app, svc).await;
    assert_eq!(tasks.len(), 5);
    let day = |n: i64| Some((now + Duration::days(n)).date_naive());
    let got: Vec<_> = tasks
        .iter()
        .map(|t| (t.name.as_str(), t.due_on, t.client_visible, t.status))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Workshop", day(0), true, TaskStatus::ToDo),
            ("Moodboard", day(1), true, TaskStatus::ToDo),
            ("Palette", day(7), true, TaskStatus::ToDo),
            ("Internal review", None, false, TaskStatus::ToDo),
            ("Guide", day(30), true, TaskStatus::ToDo),
        ]
    );
}

async fn assert_its_creation_logged_by_the_system(
    app: &TestApp,
    svc: &service::Model,
    client: ClientId,
) {
    let logged = activity::Entity::find()
        .filter(activity::Column::Action.eq("service.created"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            logged.entity_id,
            logged.client_id,
            logged.actor_name.as_str()
        ),
        (svc.id.get(), Some(client), "System")
    );
    assert_eq!(logged.details["tasks"], 5);
}

/// A purchase records which unit of which order item it is; the same unit twice is refused.
async fn a_purchased_unit_is_provisioned_once(
    app: &TestApp,
    template: &service_template::Model,
    client: ClientId,
    now: DateTime<Utc>,
) {
    let bought = provisioning::provision_service(
        &app.db,
        &Actor::System,
        template,
        client,
        Origin::Purchase {
            order_item_id: OrderItemId(7),
            unit: 1,
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        (bought.origin, bought.order_item_id, bought.unit),
        (ServiceOrigin::Purchase, Some(OrderItemId(7)), Some(1))
    );
    let again = provisioning::provision_service(
        &app.db,
        &Actor::System,
        template,
        client,
        Origin::Purchase {
            order_item_id: OrderItemId(7),
            unit: 1,
        },
        now,
    )
    .await;
    assert_eq!(again.unwrap_err().status, 409);
}

#[tokio::test]
async fn a_manager_assigns_a_service_from_a_template() {
    let app = spawn_app().await;
    let manager = app.signed_in_as(Role::Manager).await;
    let template = fixtures::template(
        &app.db,
        "SEO Audit",
        &[("Crawl", Some(5), false), ("Report", Some(10), true)],
    )
    .await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;

    let res = app
        .post_form(
            "/services",
            &[
                ("client_id", &acme.id.to_string()),
                ("template_id", &template.id.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let html = app.page(&location).await;
    assert!(html.contains("SEO Audit was assigned."));
    assert!(html.contains("Crawl") && html.contains("Report"));
    let svc = service::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(svc.created_by, Some(manager.id));

    // A missing client is a 400 naming it, and nothing is made.
    let res = app
        .post_form(
            "/services",
            &[("client_id", ""), ("template_id", &template.id.to_string())],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Choose a client."));
    assert_eq!(service::Entity::find().count(&app.db).await.unwrap(), 1);
}

#[tokio::test]
async fn a_client_sees_only_their_companys_services_and_only_client_visible_tasks() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Client).await; // of Acme Corp
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let globex = fixtures::company(&app.db, "Globex Inc").await;
    let logo = fixtures::template(
        &app.db,
        "Logo Design",
        &[
            ("Kickoff call", Some(1), true),
            ("Internal review", Some(2), false),
        ],
    )
    .await;
    let seo = fixtures::template(&app.db, "SEO Audit", &[("Crawl", Some(1), true)]).await;
    let ours = fixtures::service(&app.db, &logo, &acme).await;
    let theirs = fixtures::service(&app.db, &seo, &globex).await;

    let html = app.page("/my/services").await;
    assert!(html.contains("Logo Design"), "{html}");
    assert!(
        !html.contains("SEO Audit"),
        "another company's service is not listed"
    );
    assert!(
        html.contains("0 of 1 steps done"),
        "progress counts visible tasks only: {html}"
    );

    let html = app.page(&format!("/my/services/{}", ours.id)).await;
    assert!(html.contains("Kickoff call"));
    assert!(
        !html.contains("Internal review"),
        "staff-only tasks stay hidden"
    );

    let res = app.get(&format!("/my/services/{}", theirs.id)).await;
    assert_eq!(
        res.status(),
        404,
        "another company's service is not found, not forbidden"
    );
    assert_eq!(app.get("/my/services/999999").await.status(), 404);

    // The staff pages are closed to clients.
    assert_eq!(app.get("/services").await.status(), 403);
    assert_eq!(
        app.get(&format!("/services/{}", ours.id)).await.status(),
        403
    );

    let html = app.page("/dashboard").await;
    assert!(html.contains("Logo Design") && !html.contains("SEO Audit"));
}

#[tokio::test]
async fn status_changes_are_logged_with_their_actor() {
    let app = spawn_app().await;
    let manager = app.signed_in_as(Role::Manager).await;
    let template = fixtures::template(
        &app.db,
        "Landing Page",
        &[("Build", Some(3), true), ("Launch", Some(7), true)],
    )
    .await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let svc = fixtures::service(&app.db, &template, &acme).await;
    let tasks = tasks_of(&app, svc.id).await;

    start_the_task_then_finish_the_service(&app, svc.id, tasks[0].id).await;
    assert_the_changes_logged_with_their_actor(&app, svc.id, manager.id).await;
    let html = app.page(&format!("/services/{}", svc.id)).await;
    // The log in words, not codes.
    assert!(
        html.contains("Manager user</strong> moved the service from In progress to Done"),
        "{html}"
    );
    assert!(html.contains("marked task “Build” In progress"), "{html}");
    assert!(!html.contains("service.status_changed"));

    a_forbidden_move_or_an_unknown_status_changes_nothing(&app, svc.id).await;
}

async fn start_the_task_then_finish_the_service(app: &TestApp, svc: ServiceId, first: i64) {
    let res = app
        .post_form(
            &format!("/services/{svc}/tasks/{first}/status"),
            &[("status", "IN_PROGRESS")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(&format!("/services/{svc}/status"), &[("status", "DONE")])
        .await;
    assert_eq!(res.status(), 303);

    let task = task::Entity::find_by_id(first)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.status, TaskStatus::InProgress);
    assert_eq!(status_of(app, svc).await, ServiceStatus::Done);
}

async fn status_of(app: &TestApp, svc: ServiceId) -> ServiceStatus {
    service::Entity::find_by_id(svc)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .status
}

/// The task started, the service started with it, then done: each logged with its actor.
async fn assert_the_changes_logged_with_their_actor(app: &TestApp, svc: ServiceId, actor: UserId) {
    let log = activity::Entity::find()
        .filter(activity::Column::EntityType.eq("service"))
        .filter(activity::Column::EntityId.eq(svc))
        .filter(activity::Column::Action.ne("service.created"))
        .order_by_asc(activity::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    let got: Vec<_> = log
        .iter()
        .map(|a| {
            (
                a.action.as_str(),
                a.actor_user_id,
                a.details["to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("task.status_changed", Some(actor), "IN_PROGRESS"),
            // Starting a task starts the service.
            ("service.status_changed", Some(actor), "IN_PROGRESS"),
            ("service.status_changed", Some(actor), "DONE"),
        ]
    );
}

/// A move the workflow forbids, or an unknown status, is a 400 and changes nothing.
async fn a_forbidden_move_or_an_unknown_status_changes_nothing(app: &TestApp, svc: ServiceId) {
    let status = format!("/services/{svc}/status");
    app.post_form(&status, &[("status", "CANCELLED")]).await;
    let res = app.post_form(&status, &[("status", "IN_PROGRESS")]).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("reopen it as To do first")
    );
    let res = app.post_form(&status, &[("status", "SLEEPING")]).await;
    assert_eq!(res.status(), 400);
    assert_eq!(status_of(app, svc).await, ServiceStatus::Cancelled);
    assert_eq!(
        activity::Entity::find()
            .filter(activity::Column::EntityType.eq("service"))
            .filter(activity::Column::EntityId.eq(svc))
            .count(&app.db)
            .await
            .unwrap(),
        5
    );
}

#[tokio::test]
async fn staff_add_a_task_by_hand() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    let template = fixtures::template(&app.db, "Logo", &[("Sketch", Some(2), true)]).await;
    let svc = fixtures::service(
        &app.db,
        &template,
        &fixtures::company(&app.db, "Acme Corp").await,
    )
    .await;

    let path = format!("/services/{}/tasks", svc.id);
    let res = app
        .post_form(
            &path,
            &[
                ("name", "Extra round"),
                ("due_on", "2026-12-31"),
                ("client_visible", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(&path, &[("name", "Bad date"), ("due_on", "31/12/2026")])
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("is not a date"));
    let res = app.post_form(&path, &[("name", "  ")]).await;
    assert_eq!(res.status(), 400);

    let tasks = task::Entity::find()
        .filter(task::Column::ServiceId.eq(svc.id))
        .order_by_asc(task::Column::Position)
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[1].name, "Extra round");
    assert_eq!(tasks[1].position, 1);
    assert_eq!(
        tasks[1].due_on,
        chrono::NaiveDate::from_ymd_opt(2026, 12, 31)
    );
}

#[tokio::test]
async fn list_pages_run_the_same_number_of_queries_for_2_or_12_rows() {
    let mut app = spawn_app_without_background_work().await;
    app.signed_in_as(Role::Admin).await;
    let template = fixtures::template(
        &app.db,
        "Logo",
        &[("Sketch", Some(2), true), ("Final", Some(9), true)],
    )
    .await;
    let pages = [
        "/services",
        "/admin/clients",
        "/admin/users",
        "/admin/templates",
        "/admin/activity",
        "/dashboard",
    ];

    let add = |n: usize| {
        let db = app.db.clone();
        let template = template.clone();
        async move {
            for i in 0..n {
                let company = fixtures::company(&db, &format!("Company {n}-{i}")).await;
                fixtures::service(&db, &template, &company).await;
                agency_hub::auth::insert_user(
                    &db,
                    agency_hub::auth::NewUser {
                        email: agency_hub::auth::Email::parse(&format!("u{n}-{i}@example.com"))
                            .unwrap(),
                        name: format!("User {i}"),
                        role: Role::Client,
                        client_id: Some(company.id),
                        password_hash: "x".into(),
                    },
                )
                .await
                .unwrap();
            }
        }
    };
    add(2).await;
    let mut few = Vec::new();
    for p in pages {
        few.push(app.queries_for(p).await);
    }
    add(10).await;
    let mut many = Vec::new();
    for p in pages {
        many.push(app.queries_for(p).await);
    }
    assert_eq!(few, many, "queries per page for {pages:?}");

    // The client's list too.
    let admin = app.switch_browser(crate::harness::browser());
    let _ = admin;
    app.signed_in_as(Role::Client).await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    fixtures::service(&app.db, &template, &acme).await;
    let one = app.queries_for("/my/services").await;
    for _ in 0..5 {
        fixtures::service(&app.db, &template, &acme).await;
    }
    assert_eq!(app.queries_for("/my/services").await, one);
}
