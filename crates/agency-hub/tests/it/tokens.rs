//! API tokens and the staff API: scopes, a client's token kept to its company, revoked and
//! expired tokens, the per-token limit, and the staff's work done through the API (each step in
//! the activity log with the token's owner).

use agency_hub::db::entities::{activity, api_token, user::Role};
use agency_hub::ids::UserId;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::harness::{TestApp, browser, spawn_app, spawn_app_with};
use crate::orders::as_admin;
use crate::purchase::paid_order;

/// Makes a token on the signed-in person's API tokens page; `scopes` are (area, read|write).
pub async fn make_token(app: &TestApp, scopes: &[(&str, &str)]) -> String {
    let mut form: Vec<(String, String)> = vec![
        ("name".into(), "Test script".into()),
        ("expires_in_days".into(), "30".into()),
    ];
    for (area, access) in scopes {
        form.push((format!("scope_{area}"), access.to_string()));
    }
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = app.post_form("/account/tokens", &fields).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let start = html
        .find("id=\"new-token\">")
        .expect("the new token is shown")
        + 15;
    let token = &html[start..start + html[start..].find('<').unwrap()];
    assert!(token.starts_with("ah_"), "{token}");
    token.to_string()
}

/// A request with the token and no cookie, no `Origin`.
fn with_token(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> reqwest::RequestBuilder {
    browser()
        .request(method, app.url(path))
        .header("Authorization", format!("Bearer {token}"))
}

#[tokio::test]
async fn a_token_with_orders_read_lists_orders_and_gets_403_on_a_refund() {
    let mut app = spawn_app().await;
    let order = paid_order(&app).await;
    as_admin(&mut app).await;
    let read = make_token(&app, &[("orders", "read")]).await;

    let res = with_token(&app, reqwest::Method::GET, "/api/orders", &read)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"][0]["orderNumber"], order.order_number.as_str());
    assert_eq!(body["pagination"]["totalItems"], 1);

    let res = with_token(
        &app,
        reqwest::Method::POST,
        &format!("/api/orders/{}/refund", order.id),
        &read,
    )
    .json(&json!({"amountMinor": 1000, "reason": "requested_by_customer"}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_scope");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("orders:write")
    );
    let reloaded = crate::orders::reload(&app, order.id).await;
    assert_eq!(reloaded.refunded_minor, 0, "nothing was refunded");

    // A write with a token needs no Origin: the note is added and logged with its author.
    let write = make_token(&app, &[("orders", "write")]).await;
    let res = with_token(
        &app,
        reqwest::Method::POST,
        &format!("/api/orders/{}/notes", order.id),
        &write,
    )
    .json(&json!({"body": "Synced to accounting."}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["notes"][0]["body"], "Synced to accounting.");
    assert_eq!(body["notes"][0]["author"], "Admin user");

    // A token's scopes do not reach other areas.
    let res = with_token(&app, reqwest::Method::GET, "/api/templates", &write)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Its last use is recorded.
    let used = api_token::Entity::find()
        .filter(api_token::Column::Prefix.eq(&read[..11]))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(used.last_used_at.is_some());
    assert_ne!(used.token_hash, read, "the token is stored hashed");
}

#[tokio::test]
async fn a_clients_token_sees_only_its_company() {
    let app = spawn_app().await;
    paid_order(&app).await; // Acme's three services; the client is signed in.
    let globex = app
        .create_user(Role::Client, "client@globex.example", Some("Globex Inc"))
        .await;
    let template = crate::fixtures::for_sale(&app.db, "Audit", "Marketing", "100", "USD", 1).await;
    let theirs = agency_hub::provisioning::assign(
        &app.db,
        &agency_hub::activity::Actor::System,
        globex.client_id.unwrap(),
        template.id,
        chrono::Utc::now(),
    )
    .await
    .unwrap();

    // A client cannot give a token a staff scope.
    let res = app
        .post_form(
            "/account/tokens",
            &[
                ("name", "Sync"),
                ("scope_clients", "read"),
                ("expires_in_days", "30"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);

    let token = make_token(&app, &[("services", "read"), ("orders", "read")]).await;
    let res = with_token(&app, reqwest::Method::GET, "/api/services", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let clients: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["clientName"].as_str().unwrap())
        .collect();
    assert_eq!(clients, ["Acme Corp"; 3]);
    // Two a page: by page number and by cursor, the third service is on the second page.
    let get = |path: String| {
        let req = with_token(&app, reqwest::Method::GET, &path, &token);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let first = get("/api/services?perPage=2".into()).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let by_page = get("/api/services?perPage=2&page=2".into()).await;
    let by_cursor = get(format!("/api/services?perPage=2&cursor={cursor}")).await;
    for rest in [&by_page, &by_cursor] {
        assert_eq!(rest["data"].as_array().unwrap().len(), 1, "{rest}");
        assert!(rest["pagination"]["nextCursor"].is_null(), "{rest}");
    }
    assert_eq!(by_page["data"][0]["id"], by_cursor["data"][0]["id"]);

    let res = with_token(
        &app,
        reqwest::Method::GET,
        &format!("/api/services/{}", theirs.id),
        &token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 404, "another company's service is not found");
    let res = with_token(&app, reqwest::Method::GET, "/api/orders", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        403,
        "the staff's order list is not a client's"
    );
    let res = with_token(&app, reqwest::Method::GET, "/api/store/orders", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["pagination"]["totalItems"], 1);
}

#[tokio::test]
async fn a_revoked_or_expired_token_is_401() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Manager).await;
    let revoked = make_token(&app, &[("services", "read")]).await;
    let expired = make_token(&app, &[("services", "read")]).await;
    let ok = |t: &str| {
        let req = with_token(&app, reqwest::Method::GET, "/api/services", t);
        async move { req.send().await.unwrap() }
    };
    assert_eq!(ok(&revoked).await.status(), 200);

    let row = api_token::Entity::find()
        .filter(api_token::Column::Prefix.eq(&revoked[..11]))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let res = app
        .post_form(&format!("/account/tokens/{}/revoke", row.id), &[])
        .await;
    assert_eq!(res.status(), 303);
    let res = ok(&revoked).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );

    api_token::Entity::update_many()
        .col_expr(
            api_token::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .filter(api_token::Column::Prefix.eq(&expired[..11]))
        .exec(&app.db)
        .await
        .unwrap();
    let res = ok(&expired).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    let res = ok("ah_not-a-token").await;
    assert_eq!(res.status(), 401);
    // A token cannot sign in or out.
    let res = with_token(&app, reqwest::Method::DELETE, "/api/session", &expired)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_token_past_its_limit_waits_with_retry_after() {
    let app = spawn_app_with(&[("API_TOKEN_RATE_LIMIT", "3")]).await;
    app.signed_in_as(Role::Manager).await;
    let token = make_token(&app, &[("services", "read")]).await;
    for _ in 0..3 {
        let res = with_token(&app, reqwest::Method::GET, "/api/services", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = with_token(&app, reqwest::Method::GET, "/api/services", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // The person's own session is not limited by their token.
    assert_eq!(app.get("/api/services").await.status(), 200);
}

#[tokio::test]
async fn the_staff_api_makes_a_template_assigns_it_and_completes_its_tasks() {
    let app = spawn_app().await;
    let admin = app.signed_in_as(Role::Admin).await;
    let acme = agency_hub::clients::find_or_create(&app.db, "Acme Corp")
        .await
        .unwrap();
    let token = make_token(&app, &[("templates", "write"), ("services", "write")]).await;
    let send = |method: reqwest::Method, path: &str, body: Value| {
        with_token(&app, method, path, &token).json(&body).send()
    };

    // Every mistake of the form, by field.
    let res = send(
        reqwest::Method::POST,
        "/api/templates",
        json!({"name": "", "tasks": [{"name": "Plan", "dueInDays": -2}]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_input");
    let fields = body["error"]["fields"].as_object().unwrap();
    assert!(fields.contains_key("name"), "{fields:?}");
    assert!(fields.contains_key("task-0-due"), "{fields:?}");

    let res = send(
        reqwest::Method::POST,
        "/api/templates",
        json!({
            "name": "Brand workshop", "category": "Design", "description": "A half day on your brand.",
            "tasks": [{"name": "Plan the workshop", "dueInDays": 3}, {"name": "Hold it", "clientVisible": true}],
            "store": {"purchasable": true, "priceMinor": 120000, "currency": "USD"}
        }),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let template: Value = res.json().await.unwrap();
    assert_eq!(template["price"]["formatted"], "$1,200.00");
    assert_eq!(template["tasks"][0]["dueInDays"], 3);

    let res = send(
        reqwest::Method::POST,
        "/api/services",
        json!({"clientId": acme.id, "templateId": template["id"]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let service: Value = res.json().await.unwrap();
    assert_eq!(service["name"], "Brand workshop");
    let tasks = service["tasks"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 2);

    for task in &tasks {
        let res = send(
            reqwest::Method::PATCH,
            &format!("/api/services/{}/tasks/{}", service["id"], task["id"]),
            json!({"status": "DONE", "assigneeId": admin.id.get()}),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 200);
        let done: Value = res.json().await.unwrap();
        assert_eq!(done["status"], "DONE");
        assert_eq!(done["assigneeId"], admin.id.get());
    }
    let res = send(
        reqwest::Method::PATCH,
        &format!("/api/services/{}", service["id"]),
        json!({"status": "DONE"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);

    // Each step is in the activity log, by the token's owner.
    let logged: Vec<String> = activity::Entity::find()
        .filter(activity::Column::ActorUserId.eq(UserId(admin.id.get())))
        .order_by_asc(activity::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    for action in [
        "template.created",
        "service.created",
        "task.status_changed",
        "service.status_changed",
    ] {
        assert!(
            logged.iter().any(|a| a == action),
            "{action} not in {logged:?}"
        );
    }
    assert_eq!(
        logged
            .iter()
            .filter(|a| *a == "task.status_changed")
            .count(),
        2
    );
    let page = app.page("/admin/activity").await;
    assert!(
        page.contains("created template “Brand workshop”"),
        "the log reads it"
    );
}

#[tokio::test]
async fn the_staff_api_adds_and_deactivates_people_archives_templates_and_deletes_tasks() {
    let app = spawn_app().await;
    app.signed_in_as(Role::Admin).await;
    let acme = crate::fixtures::company(&app.db, "Acme Corp").await;
    let template = crate::fixtures::template(
        &app.db,
        "Brand audit",
        &[("Interview", None, true), ("Report", None, true)],
    )
    .await;
    let service = crate::fixtures::service(&app.db, &template, &acme).await;
    // People (staff included) are operations: a clients token cannot make an admin.
    let clients_only = make_token(&app, &[("clients", "write")]).await;
    let res = with_token(&app, reqwest::Method::POST, "/api/users", &clients_only)
        .json(&json!({"email": "eve@example.com", "name": "Eve", "role": "admin", "password": "a-good-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let token = make_token(
        &app,
        &[
            ("operations", "write"),
            ("templates", "write"),
            ("services", "write"),
        ],
    )
    .await;
    let send = |method: reqwest::Method, path: &str, body: Value| {
        with_token(&app, method, path, &token).json(&body).send()
    };

    // A person, checked as the form checks them, welcomed by email.
    let res = send(
        reqwest::Method::POST,
        "/api/users",
        json!({"email": "not-an-email", "name": "", "role": "owner"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let fields = body["error"]["fields"].as_object().unwrap();
    for field in ["email", "name", "role"] {
        assert!(fields.contains_key(field), "{field} in {fields:?}");
    }
    let res = send(
        reqwest::Method::POST,
        "/api/users",
        json!({"email": "dana@acme.example", "name": "Dana Scully", "role": "client", "clientId": acme.id}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let dana: Value = res.json().await.unwrap();
    assert_eq!(dana["clientName"], "Acme Corp");
    assert_eq!(dana["role"], "CLIENT");
    let welcome = crate::orders::emails_of_kind(&app, "welcome").await;
    assert!(welcome.iter().any(|e| e.to_address == "dana@acme.example"));
    let res = send(
        reqwest::Method::POST,
        "/api/users",
        json!({"email": "DANA@acme.example", "name": "Dana again", "role": "client", "clientId": acme.id}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 409);

    let res = send(
        reqwest::Method::PATCH,
        &format!("/api/users/{}", dana["id"]),
        json!({"active": false}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["active"], false);
    let res = send(reqwest::Method::GET, "/api/users", json!({}))
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    let listed = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "dana@acme.example")
        .unwrap()
        .clone();
    assert_eq!(listed["active"], false);

    // The people read by cursor, by name, unmoved by someone added before them.
    let page = |query: String| {
        let path = format!("/api/users{query}");
        let req = with_token(&app, reqwest::Method::GET, &path, &token);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let names = |p: &Value| -> Vec<String> {
        p["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_string())
            .collect()
    };
    let first = page("?perPage=1".into()).await;
    let cursor = first["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let res = send(
        reqwest::Method::POST,
        "/api/users",
        json!({"email": "aaron@example.com", "name": "Aaron Aardvark", "role": "manager"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let second = page(format!("?perPage=1&cursor={cursor}")).await;
    let everyone = names(&page("?perPage=50".into()).await);
    let at = everyone
        .iter()
        .position(|n| *n == names(&first)[0])
        .unwrap();
    assert_eq!(names(&second)[0], everyone[at + 1], "{everyone:?}");

    // A task deleted, a template archived.
    let tasks =
        agency_hub::services::tasks(&app.db, service.id, agency_hub::services::Audience::Staff)
            .await
            .unwrap();
    let res = send(
        reqwest::Method::DELETE,
        &format!("/api/services/{}/tasks/{}", service.id, tasks[0].id),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 204);
    let left =
        agency_hub::services::tasks(&app.db, service.id, agency_hub::services::Audience::Staff)
            .await
            .unwrap();
    assert_eq!(left.len(), tasks.len() - 1);
    let res = send(
        reqwest::Method::DELETE,
        &format!("/api/services/{}/tasks/{}", service.id, tasks[0].id),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 404);
    let res = send(
        reqwest::Method::POST,
        &format!("/api/templates/{}/archive", template.id),
        json!({"archived": true}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["archived"], true);

    let logged: Vec<String> = activity::Entity::find()
        .order_by_asc(activity::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    for action in [
        "user.created",
        "user.deactivated",
        "task.deleted",
        "template.archived",
    ] {
        assert!(logged.iter().any(|a| a == action), "{action} in {logged:?}");
    }
}
