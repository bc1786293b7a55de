//! Intake questions: built on the template form without JavaScript, answered per cart line
//! before payment (checkout waits for the required ones, in the page and the API), copied to
//! the order item and the service, answered on the service after payment, shown to staff.

use agency_hub::catalog::{Answer, When};
use agency_hub::db::entities::order::OrderStatus;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{
    activity, email, job, order, order_item, service, service_template,
};
use agency_hub::ids::TemplateId;
use agency_hub::jobs::Job;
use agency_hub::services::intake::Remind;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::harness::{TestApp, browser, spawn_app};
use crate::purchase::{pay, start_checkout, wait_for_order};

/// The template form's fields for "Logo Design" on sale at $499 with three questions: the name
/// on the logo (short text, required, before payment), colours (several choices, before), and
/// the brand's story (long text, required, after payment).
fn logo_form(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut f = vec![
        ("name", "Logo Design"),
        ("category", "Design"),
        ("purchasable", "on"),
        ("price", "499"),
        ("currency", "USD"),
        ("max_quantity", "3"),
        ("task-0-name", "Discovery questionnaire"),
        ("task-0-visible", "on"),
        ("question-0-label", "Name on the logo"),
        ("question-0-kind", "short_text"),
        ("question-0-when", "before_payment"),
        ("question-0-required", "on"),
        ("question-1-label", "Colours you like"),
        ("question-1-kind", "multiple_choice"),
        ("question-1-when", "before_payment"),
        ("question-1-choices", "Blue\nGreen\nRed"),
        ("question-2-label", "Tell us about your brand"),
        (
            "question-2-help",
            "Your audience, your voice, brands you admire.",
        ),
        ("question-2-kind", "long_text"),
        ("question-2-when", "after_payment"),
        ("question-2-required", "on"),
    ];
    f.extend_from_slice(extra);
    f
}

async fn the_template(app: &TestApp) -> service_template::Model {
    service_template::Entity::find()
        .filter(service_template::Column::Name.eq("Logo Design"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn questions_are_built_reordered_and_checked_on_the_template_form() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;

    // The buttons rearrange the rows and save nothing.
    let res = app
        .post_form(
            "/admin/templates",
            &logo_form(&[("intent", "question-up:1")]),
        )
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let colours = html.find("value=\"Colours you like\"").unwrap();
    let name = html.find("value=\"Name on the logo\"").unwrap();
    assert!(colours < name, "moved up");
    assert_eq!(
        service_template::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
    let html = app
        .post_form(
            "/admin/templates",
            &logo_form(&[("intent", "question-remove:0")]),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("value=\"Name on the logo\""));
    assert!(html.contains("value=\"Colours you like\""));

    // Mistakes are shown beside their question and nothing is saved.
    let res = app
        .post_form(
            "/admin/templates",
            &[
                ("name", "Logo Design"),
                ("category", "Design"),
                ("question-0-label", "Favourite colour"),
                ("question-0-kind", "single_choice"),
                ("question-0-when", "before_payment"),
                ("question-0-choices", "Blue"),
                ("question-1-label", ""),
                ("question-1-help", "A question with no question"),
                ("question-1-kind", "telepathy"),
                ("question-1-when", "after_payment"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("Give at least two choices, one a line."));
    assert!(html.contains("Write the question."));
    assert!(html.contains("Choose what kind of answer it takes."));
    assert_eq!(
        service_template::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );

    // Saved: numbered in order; an edit keeps the ids and numbers a new question after them.
    let res = app.post_form("/admin/templates", &logo_form(&[])).await;
    assert_eq!(res.status(), 303);
    let t = the_template(&app).await;
    let q = t.questions();
    assert_eq!(
        q.iter()
            .map(|q| (q.id, q.label.as_str(), q.when))
            .collect::<Vec<_>>(),
        [
            (1, "Name on the logo", When::BeforePayment),
            (2, "Colours you like", When::BeforePayment),
            (3, "Tell us about your brand", When::AfterPayment),
        ]
    );
    assert_eq!(q[1].choices, ["Blue", "Green", "Red"]);
    assert!(q[0].required && !q[1].required);
    let edit = app.page(&format!("/admin/templates/{}", t.id)).await;
    assert!(edit.contains("name=\"question-2-id\" value=\"3\""));
    let mut fields = logo_form(&[
        ("question-0-id", "1"),
        ("question-1-id", "2"),
        ("question-2-id", "3"),
        ("question-3-label", "Your website"),
        ("question-3-kind", "url"),
        ("question-3-when", "before_payment"),
    ]);
    // The first question swapped with the second, as its button would.
    for (k, _) in fields.iter_mut() {
        *k = match *k {
            "question-0-label" => "question-1-label",
            "question-1-label" => "question-0-label",
            "question-0-kind" => "question-1-kind",
            "question-1-kind" => "question-0-kind",
            "question-0-when" => "question-1-when",
            "question-1-when" => "question-0-when",
            "question-0-required" => "question-1-required",
            "question-1-choices" => "question-0-choices",
            "question-0-id" => "question-1-id",
            "question-1-id" => "question-0-id",
            other => other,
        };
    }
    let res = app
        .post_form(&format!("/admin/templates/{}", t.id), &fields)
        .await;
    assert_eq!(res.status(), 303);
    let q = the_template(&app).await.questions();
    assert_eq!(
        q.iter()
            .map(|q| (q.id, q.label.as_str()))
            .collect::<Vec<_>>(),
        [
            (2, "Colours you like"),
            (1, "Name on the logo"),
            (3, "Tell us about your brand"),
            (4, "Your website"),
        ]
    );
    assert!(q[1].required, "the required box moved with its question");
}

async fn cart(app: &TestApp) -> Value {
    app.get("/api/cart").await.json().await.unwrap()
}

async fn put_answers(app: &TestApp, id: TemplateId, answers: Value) -> reqwest::Response {
    app.api(
        reqwest::Method::PUT,
        &format!("/api/cart/items/{id}/answers"),
    )
    .json(&json!({ "answers": answers }))
    .send()
    .await
    .unwrap()
}

async fn delete_line(app: &TestApp, id: TemplateId) -> u16 {
    app.api(reqwest::Method::DELETE, &format!("/api/cart/items/{id}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn answers_before_payment_hold_checkout_then_travel_to_the_service_and_more_are_asked_on_it()
{
    let mut app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    assert_eq!(
        app.post_form("/admin/templates", &logo_form(&[]))
            .await
            .status(),
        303
    );
    let logo = the_template(&app).await.id;
    let staff = app.switch_browser(browser());
    app.signed_in_as(Role::Client).await;
    assert_eq!(
        app.post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": logo, "quantity": 1})
        )
        .await
        .status(),
        201
    );

    // Unanswered: the cart says which, checkout is disabled and refused.
    let c = cart(&app).await;
    assert_eq!(c["canCheckout"], false);
    assert_eq!(c["items"][0]["missingAnswers"], json!([1]));
    assert_eq!(c["items"][0]["questions"].as_array().unwrap().len(), 2);
    let page = app.page("/store/cart").await;
    assert!(page.contains("Questions for Logo Design"));
    assert!(page.contains("1 required to answer"));
    assert!(page.contains("type=\"submit\" disabled>Checkout"));
    let res = app.post_json("/api/store/checkout", &json!({})).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "answers");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Logo Design (Name on the logo)")
    );
    assert_eq!(order::Entity::find().count(&app.db).await.unwrap(), 0);

    // Bad answers: each mistake beside its field, what was typed kept, nothing stored.
    let long = "x".repeat(201);
    let res = app
        .post_form(
            &format!("/store/cart/items/{logo}/answers"),
            &[("q1", &long), ("q2", "Blue"), ("q2", "Pink")],
        )
        .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("Use at most 200 characters (this has 201)."));
    assert!(
        page.contains("&#39;Pink&#39; is not one of the choices.")
            || page.contains("'Pink' is not one of the choices.")
    );
    assert!(
        page.contains(&format!("value=\"{long}\"")),
        "typed text kept"
    );
    let res = put_answers(&app, logo, json!({"1": "Acme", "9": "?"})).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "q9");
    assert_eq!(cart(&app).await["items"][0]["missingAnswers"], json!([1]));
    // A line whose service asks nothing before payment has nothing to answer.
    let seo = crate::fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 1).await;
    app.state.store.changed().await;
    assert_eq!(
        app.post_json(
            "/api/cart/items",
            &json!({"serviceTemplateId": seo.id, "quantity": 1})
        )
        .await
        .status(),
        201
    );
    let res = put_answers(&app, seo.id, json!({"1": "x"})).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "answers");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("asks no questions")
    );
    assert_eq!(delete_line(&app, seo.id).await, 200);

    // Answered by form: saved, checkout allowed; the API reads the same answers.
    let res = app
        .post_form(
            &format!("/store/cart/items/{logo}/answers"),
            &[("q1", "Acme & Sons"), ("q2", "Red"), ("q2", "Blue")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let c = cart(&app).await;
    assert_eq!(c["canCheckout"], true);
    assert_eq!(c["items"][0]["missingAnswers"], json!([]));
    assert_eq!(c["items"][0]["questions"][0]["answer"], "Acme & Sons");
    assert_eq!(
        c["items"][0]["questions"][1]["answer"],
        json!(["Blue", "Red"])
    );
    // Cleared by the API, then given again.
    let res = put_answers(&app, logo, json!({"2": ["Green"]})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["canCheckout"], false);
    let res = put_answers(
        &app,
        logo,
        json!({"1": "Acme & Sons", "2": ["Blue", "Red"]}),
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["canCheckout"], true);

    // Paid: the order item and the service keep the questions and answers.
    let (order_id, url) = start_checkout(&app).await;
    assert_eq!(pay(&url, "4242 4242 4242 4242").await.status(), 303);
    wait_for_order(&app, order_id, OrderStatus::Completed).await;
    let item = order_item::Entity::find()
        .filter(order_item::Column::OrderId.eq(order_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let intake = item.intake();
    assert_eq!(intake.0.len(), 3);
    assert_eq!(
        intake.answers().get(&1),
        Some(&Answer::Text("Acme & Sons".into()))
    );
    let service = service::Entity::find()
        .filter(service::Column::OrderItemId.eq(item.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(service.intake(), intake);
    let emails = email::Entity::find()
        .filter(email::Column::Kind.eq("new_service"))
        .all(&app.db)
        .await
        .unwrap();
    assert!(!emails.is_empty());
    assert!(emails[0].payload.to_string().contains("Acme & Sons"));

    // On the service: one question to answer.
    let path = format!("/my/services/{}", service.id);
    let page = app.page(&path).await;
    assert!(page.contains("Action needed: answer 1 question"));
    assert!(page.contains("Your audience, your voice, brands you admire."));
    // Reminders are queued for 2 and 7 days on; one run while unanswered emails the client.
    let reminders = job::Entity::find()
        .filter(job::Column::Kind.eq("services.intake_reminder"))
        .all(&app.db)
        .await
        .unwrap();
    let mut days: Vec<i64> = reminders
        .iter()
        .map(|j| (j.run_at - service.created_at).num_days())
        .collect();
    days.sort();
    assert_eq!(days, [2, 7]);
    let remind = |days| Remind {
        service_id: service.id,
        days,
    };
    remind(2).run(&app.db, 1).await.unwrap();
    let asked = || async {
        email::Entity::find()
            .filter(email::Column::Kind.eq("answers_needed"))
            .all(&app.db)
            .await
            .unwrap()
    };
    let sent = asked().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to_address, "client@acme.example");
    assert!(
        sent[0]
            .payload
            .to_string()
            .contains("Tell us about your brand")
    );

    let answers = format!("{path}/answers");
    let res = app
        .post_form(&answers, &[("q3", &"y".repeat(10_001))])
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Use at most 10000 characters")
    );
    let res = app.post_form(&answers, &[("q3", "We make anvils.")]).await;
    assert_eq!(res.status(), 303);
    let page = app.page(&path).await;
    assert!(!page.contains("Action needed"));
    assert!(page.contains("We make anvils."));
    assert!(page.contains("You can change them until work starts."));
    // Answered: the second reminder sends nothing.
    remind(7).run(&app.db, 1).await.unwrap();
    assert_eq!(asked().await.len(), 1);
    let logged = activity::Entity::find()
        .filter(activity::Column::Action.eq("service.answers_changed"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(logged.len(), 1);
    assert!(
        logged[0]
            .details
            .to_string()
            .contains("Tell us about your brand")
    );

    // Another company's client cannot reach it.
    let acme = app.switch_browser(browser());
    app.create_user(Role::Client, "gus@globex.example", Some("Globex"))
        .await;
    assert_eq!(
        app.sign_in("gus@globex.example", crate::harness::PASSWORD)
            .await
            .status(),
        303
    );
    assert_eq!(app.get(&path).await.status(), 404);
    assert_eq!(
        app.post_form(&answers, &[("q3", "Not ours")])
            .await
            .status(),
        404
    );

    // Staff see every answer; once a task starts, an answer given stays.
    app.switch_browser(staff);
    let page = app.page(&format!("/services/{}", service.id)).await;
    assert!(page.contains("The client's answers"));
    assert!(page.contains("Acme &#38; Sons"));
    assert!(page.contains("Blue, Red"));
    assert!(page.contains("We make anvils."));
    let csv = app
        .get("/admin/orders/export.csv")
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",answers"), "{csv}");
    assert!(
        csv.contains("Logo Design: Name on the logo = Acme & Sons; Colours you like = Blue, Red; Tell us about your brand = We make anvils."),
        "{csv}"
    );
    let task = agency_hub::db::entities::task::Entity::find()
        .filter(agency_hub::db::entities::task::Column::ServiceId.eq(service.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let res = app
        .post_form(
            &format!("/services/{}/tasks/{}/status", service.id, task.id),
            &[("status", "IN_PROGRESS")],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.switch_browser(acme);
    let res = app
        .post_form(&answers, &[("q3", "We make rockets now.")])
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Work has started"));
    let kept = service::Entity::find_by_id(service.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .intake();
    assert_eq!(
        kept.answers().get(&3),
        Some(&Answer::Text("We make anvils.".into()))
    );
    assert!(kept.missing(When::AfterPayment).is_empty());

    // The order's JSON has both: the line's answers from the cart, the service's since.
    let order: Value = app
        .get(&format!("/api/store/orders/{order_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["lines"][0]["questions"][0]["answer"], "Acme & Sons");
    assert_eq!(
        order["services"][0]["questions"][2]["answer"],
        "We make anvils."
    );
    assert_eq!(
        order["services"][0]["questions"][2]["asked"],
        "after_payment"
    );
}
