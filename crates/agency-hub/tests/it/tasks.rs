//! Staff's tasks: assigned, edited and deleted (each logged), "My tasks" across services by
//! due date, and the prompt to complete a service once every task is done.

use agency_hub::db::entities::service::ServiceStatus;
use agency_hub::db::entities::task::TaskStatus;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{activity, service, task};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::fixtures;
use crate::harness::{PASSWORD, browser, spawn_app};

#[tokio::test]
async fn staff_assign_edit_and_delete_tasks_see_theirs_by_due_date_and_are_asked_to_complete() {
    let mut app = spawn_app().await;
    let template = fixtures::template(
        &app.db,
        "Logo Design",
        &[
            ("Questionnaire", Some(2), true),
            ("Concepts", Some(7), true),
            ("Internal review", None, false),
        ],
    )
    .await;
    let acme = fixtures::company(&app.db, "Acme Corp").await;
    let logo = fixtures::service(&app.db, &template, &acme).await;
    let other = fixtures::service(&app.db, &template, &acme).await;
    let db = app.db.clone();
    let tasks = |id| {
        let db = db.clone();
        async move {
            task::Entity::find()
                .filter(task::Column::ServiceId.eq(id))
                .order_by_asc(task::Column::Position)
                .all(&db)
                .await
                .unwrap()
        }
    };
    let t = tasks(logo.id).await;
    let manager = app
        .create_user(Role::Manager, "max@example.com", None)
        .await;
    let client = app
        .create_user(Role::Client, "ana@acme.example", Some("Acme Corp"))
        .await;
    app.signed_in_as(Role::Admin).await;

    let page = app.page(&format!("/services/{}", logo.id)).await;
    assert!(page.contains("Unassigned"));
    let edit = format!("/services/{}/tasks/{}", logo.id, t[1].id);
    assert!(page.contains(&format!("href=\"{edit}\"")));
    let form = app.page(&edit).await;
    assert!(form.contains("value=\"Concepts\""));
    assert!(form.contains(&format!(
        "<option value=\"{}\">Manager user</option>",
        manager.id
    )));

    // Bad input: the form again with the reason, nothing changed.
    let client_id = client.id.to_string();
    for (fields, message) in [
        (
            vec![("name", "Concepts"), ("due_on", "next week")],
            "&#39;next week&#39; is not a date",
        ),
        (
            vec![("name", "Concepts"), ("assignee", &client_id)],
            "Choose someone of the agency&#39;s staff.",
        ),
        (vec![("name", "  ")], "Give the task a name."),
    ] {
        let res = app.post_form(&edit, &fields).await;
        assert_eq!(res.status(), 400);
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{message}: {html}");
    }
    assert_eq!(tasks(logo.id).await[1], t[1]);
    // Another service's task is not this service's.
    assert_eq!(
        app.get(&format!("/services/{}/tasks/{}", other.id, t[1].id))
            .await
            .status(),
        404
    );

    // Assigned, renamed, hidden from the client, due later: saved and logged.
    let max = manager.id.to_string();
    let res = app
        .post_form(
            &edit,
            &[
                ("name", "Three concepts"),
                ("description", "Sketches first"),
                ("due_on", "2027-01-20"),
                ("assignee", &max),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let saved = &tasks(logo.id).await[1];
    assert_eq!(saved.name, "Three concepts");
    assert_eq!(saved.assignee_id, Some(manager.id));
    assert!(!saved.client_visible);
    assert_eq!(saved.due_on.unwrap().to_string(), "2027-01-20");
    let logged = activity::Entity::find()
        .filter(activity::Column::Action.eq("task.updated"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let changed = logged.details["changed"].to_string();
    assert!(
        changed.contains("name") && changed.contains("assignee") && changed.contains("due date")
    );
    let page = app.page(&format!("/services/{}", logo.id)).await;
    assert!(page.contains("Manager user"));

    // Two more for Max: one due sooner on the other service, one with no due date.
    let o = tasks(other.id).await;
    for (task, due) in [(&o[0], "2027-01-05"), (&t[2], "")] {
        let res = app
            .post_form(
                &format!("/services/{}/tasks/{}", task.service_id, task.id),
                &[("name", &task.name), ("due_on", due), ("assignee", &max)],
            )
            .await;
        assert_eq!(res.status(), 303);
    }

    // Max's tasks, soonest due first, none due last; a done one leaves the list.
    let admin = app.switch_browser(browser());
    assert_eq!(app.sign_in("max@example.com", PASSWORD).await.status(), 303);
    let mine = app.page("/tasks").await;
    let at = |s: &str| mine.find(s).unwrap_or_else(|| panic!("{s} in {mine}"));
    assert!(at("Questionnaire") < at("Three concepts"));
    assert!(at("Three concepts") < at("Internal review"));
    assert!(mine.contains("Acme Corp") && mine.contains("no due date"));
    let res = app
        .post_form(
            &format!("/services/{}/tasks/{}/status", other.id, o[0].id),
            &[("status", "DONE")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        !app.page("/tasks")
            .await
            .contains("<strong>Questionnaire</strong>")
    );

    // Deleted: gone from the service, logged.
    app.switch_browser(admin);
    let res = app
        .post_form(
            &format!("/services/{}/tasks/{}/delete", logo.id, t[2].id),
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(tasks(logo.id).await.len(), 2);
    let deleted = activity::Entity::find()
        .filter(activity::Column::Action.eq("task.deleted"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.details["task"], "Internal review");

    // Every task done: staff are asked to complete the service, and doing so completes it.
    let page = app.page(&format!("/services/{}", logo.id)).await;
    assert!(!page.contains("Every task is done."));
    for task in tasks(logo.id).await {
        app.post_form(
            &format!("/services/{}/tasks/{}/status", logo.id, task.id),
            &[("status", "DONE")],
        )
        .await;
    }
    assert!(
        tasks(logo.id)
            .await
            .iter()
            .all(|t| t.status == TaskStatus::Done)
    );
    let page = app.page(&format!("/services/{}", logo.id)).await;
    assert!(page.contains("Every task is done."));
    let res = app
        .post_form(
            &format!("/services/{}/status", logo.id),
            &[("status", "DONE")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let done = service::Entity::find_by_id(logo.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, ServiceStatus::Done);
    assert!(
        !app.page(&format!("/services/{}", logo.id))
            .await
            .contains("Every task is done.")
    );

    // Clients reach none of it.
    app.switch_browser(browser());
    assert_eq!(
        app.sign_in("ana@acme.example", PASSWORD).await.status(),
        303
    );
    assert_eq!(app.get("/tasks").await.status(), 403);
    assert_eq!(app.get(&edit).await.status(), 403);
}
