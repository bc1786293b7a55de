//! Services and their tasks (`/api/services`, `/api/services/{id}/tasks`): staff list, assign,
//! move and edit them; a client reads its company's. The same domain functions as the pages.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::CursorParam;
use super::{ErrorResponse, Paginated, Pagination};
use crate::AppState;
use crate::activity::Actor;
use crate::auth::CurrentUser;
use crate::db::entities::service::ServiceStatus;
use crate::db::entities::task::{self, TaskStatus};
use crate::db::entities::user::Role;
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, ServiceId, TemplateId};
use crate::services::{self, Audience, NewTask, ServiceRow};
use crate::web::auth::RequireStaff;
use crate::web::extract::{Json, PageParams, Path, Query};
use crate::web::pages::services::FilterQuery;

/// A service in a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceBody {
    pub id: i64,
    pub name: String,
    /// TO_DO, IN_PROGRESS, DONE or CANCELLED.
    pub status: String,
    pub client_id: i64,
    pub client_name: String,
    pub template_id: i64,
    pub tasks_done: i64,
    pub tasks_total: i64,
    pub created_at: DateTime<Utc>,
}

impl From<&ServiceRow> for ServiceBody {
    fn from(r: &ServiceRow) -> Self {
        Self {
            id: r.service.id.get(),
            name: r.service.name.clone(),
            status: r.service.status.as_str().into(),
            client_id: r.service.client_id.get(),
            client_name: r.client_name.clone(),
            template_id: r.service.template_id.get(),
            tasks_done: r.tasks_done,
            tasks_total: r.tasks_total,
            created_at: r.service.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskBody {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// TO_DO, IN_PROGRESS or DONE.
    pub status: String,
    pub due_on: Option<NaiveDate>,
    pub client_visible: bool,
    pub assignee_id: Option<i64>,
}

impl From<&task::Model> for TaskBody {
    fn from(t: &task::Model) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            description: t.description.clone(),
            status: t.status.as_str().into(),
            due_on: t.due_on,
            client_visible: t.client_visible,
            assignee_id: t.assignee_id.map(|u| u.get()),
        }
    }
}

/// A service with its tasks (a client sees the tasks shown to clients).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDetailBody {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub status: String,
    pub client_id: i64,
    pub template_id: i64,
    pub created_at: DateTime<Utc>,
    pub tasks: Vec<TaskBody>,
}

#[utoipa::path(
    get,
    path = "/api/services",
    tag = "staff",
    summary = "Services, newest first",
    description = "Staff see every client's (filtered as on the Services page); a client sees its company's. 25 a page, or by `cursor`. Token scope: `services:read`.",
    params(
        ("client" = Option<i64>, Query, description = "A client company's id (staff)"),
        ("status" = Option<String>, Query, description = "TO_DO, IN_PROGRESS, DONE or CANCELLED"),
        ("template" = Option<i64>, Query, description = "A template's id"),
        ("page" = Option<u64>, Query, description = "1-based page number"),
        ("perPage" = Option<u64>, Query, description = "Page size, 1 to 200 (default 25)"),
        ("cursor" = Option<String>, Query, description = "Go on after this `nextCursor`"),
    ),
    responses(
        (status = 200, description = "One page of services", body = Paginated<ServiceBody>,
            example = json!({"data": [{"id": 31, "name": "SEO Audit", "status": "IN_PROGRESS", "clientId": 1, "clientName": "Acme Corp", "templateId": 4, "tasksDone": 1, "tasksTotal": 3, "createdAt": "2026-12-02T10:00:00Z"}], "pagination": {"page": 1, "perPage": 25, "totalItems": 1, "totalPages": 1}})),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<FilterQuery>,
    Query(paging): Query<PageParams>,
    Query(cursor): Query<CursorParam>,
) -> AppResult<axum::Json<Paginated<ServiceBody>>> {
    let mut filter = query.parse()?;
    let audience = match (user.role, user.client_id) {
        (Role::Client, Some(own)) => {
            filter.client_id = Some(own);
            Audience::Client
        }
        (Role::Client, None) => return Err(AppError::forbidden("Your account has no company.")),
        _ => Audience::Staff,
    };
    let (page, per_page, after) = cursor.window(&paging, 25, 200)?;
    filter.before = after.map(ServiceId);
    // The total counts what the filter (and the cursor) leaves: more follows past this page.
    let (rows, total) = services::list(&state.db, &filter, audience, page, per_page).await?;
    let last = rows.last().map(|r| r.service.id.get());
    Ok(axum::Json(Paginated {
        data: rows.iter().map(ServiceBody::from).collect(),
        pagination: Pagination::with_next(page, per_page, total, last),
    }))
}

/// The service, if `user` may see it: staff any, a client its company's.
async fn visible(
    state: &AppState,
    user: &CurrentUser,
    id: ServiceId,
) -> AppResult<(crate::db::entities::service::Model, Audience)> {
    match (user.role, user.client_id) {
        (Role::Client, Some(own)) => Ok((
            services::get_for_client(&state.db, id, own).await?,
            Audience::Client,
        )),
        (Role::Client, None) => Err(AppError::not_found()),
        _ => Ok((services::get(&state.db, id).await?, Audience::Staff)),
    }
}

async fn detail(
    state: &AppState,
    user: &CurrentUser,
    id: ServiceId,
) -> AppResult<ServiceDetailBody> {
    let (s, audience) = visible(state, user, id).await?;
    let tasks = services::tasks(&state.db, s.id, audience).await?;
    Ok(ServiceDetailBody {
        id: s.id.get(),
        name: s.name,
        description: s.description,
        status: s.status.as_str().into(),
        client_id: s.client_id.get(),
        template_id: s.template_id.get(),
        created_at: s.created_at,
        tasks: tasks.iter().map(TaskBody::from).collect(),
    })
}

#[utoipa::path(
    get,
    path = "/api/services/{id}",
    tag = "staff",
    summary = "One service, with its tasks",
    description = "Token scope: `services:read`.",
    params(("id" = i64, Path, description = "The service's id")),
    responses(
        (status = 200, description = "The service", body = ServiceDetailBody),
        (status = 404, description = "No such service (of this company)", body = ErrorResponse),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<ServiceId>,
) -> AppResult<axum::Json<ServiceDetailBody>> {
    Ok(axum::Json(detail(&state, &user, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"clientId": 1, "templateId": 4}))]
pub struct AssignInput {
    pub client_id: Option<i64>,
    pub template_id: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/services",
    tag = "staff",
    summary = "Assigns a service from a template to a client",
    description = "With the template's tasks, as on the Services page. Staff only. Token scope: `services:write`.",
    request_body = AssignInput,
    responses(
        (status = 201, description = "The new service", body = ServiceDetailBody),
        (status = 403, description = "Not staff", body = ErrorResponse),
        (status = 409, description = "The change conflicts with the record's state", body = ErrorResponse),
    ),
)]
pub async fn assign(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    Json(input): Json<AssignInput>,
) -> AppResult<(StatusCode, axum::Json<ServiceDetailBody>)> {
    let client_id = ClientId(
        input
            .client_id
            .ok_or_else(|| AppError::invalid("clientId", "Choose a client."))?,
    );
    let template_id = TemplateId(
        input
            .template_id
            .ok_or_else(|| AppError::invalid("templateId", "Choose a service template."))?,
    );
    crate::clients::get(&state.db, client_id)
        .await
        .map_err(|_| AppError::invalid("clientId", "There is no such client."))?;
    let actor = Actor::from(&user);
    let service = state
        .db
        .in_transaction(async |txn| {
            crate::provisioning::assign(txn, &actor, client_id, template_id, Utc::now()).await
        })
        .await
        .map_err(|mut e| {
            if e.field.as_deref() == Some("template_id") {
                e.field = Some("templateId".into());
            }
            e
        })?;
    Ok((
        StatusCode::CREATED,
        axum::Json(detail(&state, &user, service.id).await?),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"status": "IN_PROGRESS"}))]
pub struct ServiceStatusInput {
    /// TO_DO, IN_PROGRESS, DONE or CANCELLED, as the workflow allows.
    #[serde(default)]
    pub status: String,
}

#[utoipa::path(
    patch,
    path = "/api/services/{id}",
    tag = "staff",
    summary = "Moves a service to another status",
    description = "As the workflow allows (a cancelled service stays cancelled). Staff only. Token scope: `services:write`.",
    params(("id" = i64, Path, description = "The service's id")),
    request_body = ServiceStatusInput,
    responses(
        (status = 200, description = "The service", body = ServiceDetailBody),
        (status = 403, description = "Not staff", body = ErrorResponse),
        (status = 404, description = "No such service", body = ErrorResponse),
        (status = 409, description = "The workflow does not allow that move", body = ErrorResponse),
    ),
)]
pub async fn set_status(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    Path(id): Path<ServiceId>,
    Json(input): Json<ServiceStatusInput>,
) -> AppResult<axum::Json<ServiceDetailBody>> {
    let to = ServiceStatus::parse(input.status.trim()).ok_or_else(|| {
        AppError::invalid(
            "status",
            format!(
                "Unknown status '{}': use TO_DO, IN_PROGRESS, DONE or CANCELLED.",
                input.status
            ),
        )
    })?;
    let actor = Actor::from(&user);
    state
        .db
        .in_transaction(async |txn| {
            let service = services::get(txn, id).await?;
            services::set_status(txn, &actor, service, to).await
        })
        .await?;
    Ok(axum::Json(detail(&state, &user, id).await?))
}

/// A task's fields; on an edit, those absent stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "Send the report", "dueOn": "2026-12-31", "clientVisible": true}))]
pub struct TaskInput {
    pub name: Option<String>,
    pub description: Option<String>,
    /// YYYY-MM-DD; an empty string clears it.
    pub due_on: Option<String>,
    pub client_visible: Option<bool>,
    /// TO_DO, IN_PROGRESS or DONE.
    pub status: Option<String>,
    /// A staff member's id; 0 unassigns.
    pub assignee_id: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/services/{id}/tasks",
    tag = "staff",
    summary = "Adds a task to a service",
    description = "Staff only. Token scope: `services:write`.",
    params(("id" = i64, Path, description = "The service's id")),
    request_body = TaskInput,
    responses(
        (status = 201, description = "The new task", body = TaskBody),
        (status = 403, description = "Not staff", body = ErrorResponse),
        (status = 404, description = "No such service", body = ErrorResponse),
        (status = 409, description = "The change conflicts with the record's state", body = ErrorResponse),
    ),
)]
pub async fn add_task(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    Path(id): Path<ServiceId>,
    Json(input): Json<TaskInput>,
) -> AppResult<(StatusCode, axum::Json<TaskBody>)> {
    let new = NewTask::parse(
        input.name.as_deref().unwrap_or_default(),
        input.description.as_deref().unwrap_or_default(),
        input.due_on.as_deref().unwrap_or_default(),
        input.client_visible.unwrap_or(false),
    )
    .map_err(camel_due)?;
    let actor = Actor::from(&user);
    let task = state
        .db
        .in_transaction(async |txn| {
            let service = services::get(txn, id).await?;
            services::add_task(txn, &actor, &service, new).await
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(TaskBody::from(&task))))
}

/// The domain names the date field as its form does.
fn camel_due(mut e: AppError) -> AppError {
    if e.field.as_deref() == Some("due_on") {
        e.field = Some("dueOn".into());
    }
    e
}

#[utoipa::path(
    patch,
    path = "/api/services/{id}/tasks/{taskId}",
    tag = "staff",
    summary = "Edits, assigns or moves a task",
    description = "Fields left out stay as they are; `status` DONE completes it. Each change is in the activity log. Staff only. Token scope: `services:write`.",
    params(
        ("id" = i64, Path, description = "The service's id"),
        ("taskId" = i64, Path, description = "The task's id"),
    ),
    request_body = TaskInput,
    responses(
        (status = 200, description = "The task", body = TaskBody),
        (status = 403, description = "Not staff", body = ErrorResponse),
        (status = 404, description = "No such service or task", body = ErrorResponse),
        (status = 409, description = "The change conflicts with the record's state", body = ErrorResponse),
    ),
)]
pub async fn update_task(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    Path((id, task_id)): Path<(ServiceId, i64)>,
    Json(input): Json<TaskInput>,
) -> AppResult<axum::Json<TaskBody>> {
    let status = match input.status.as_deref().map(str::trim) {
        None => None,
        Some(raw) => Some(TaskStatus::parse(raw).ok_or_else(|| {
            AppError::invalid(
                "status",
                format!("Unknown task status '{raw}': use TO_DO, IN_PROGRESS or DONE."),
            )
        })?),
    };
    let actor = Actor::from(&user);
    let task = state
        .db
        .in_transaction(async |txn| {
            let service = services::get(txn, id).await?;
            let mut task = services::tasks::get(txn, &service, task_id).await?;
            let edits = input.name.is_some()
                || input.description.is_some()
                || input.due_on.is_some()
                || input.client_visible.is_some()
                || input.assignee_id.is_some();
            if edits {
                let due = match &input.due_on {
                    Some(d) => d.clone(),
                    None => task.due_on.map(|d| d.to_string()).unwrap_or_default(),
                };
                let edit = NewTask::parse(
                    input.name.as_deref().unwrap_or(&task.name),
                    input.description.as_deref().unwrap_or(&task.description),
                    &due,
                    input.client_visible.unwrap_or(task.client_visible),
                )
                .map_err(camel_due)?;
                let assignee = match input.assignee_id {
                    None => task.assignee_id,
                    Some(0) => None,
                    Some(raw) => services::tasks::assignee(txn, &raw.to_string())
                        .await
                        .map_err(|mut e| {
                            e.field = Some("assigneeId".into());
                            e
                        })?,
                };
                task =
                    services::tasks::update(txn, &actor, &service, task_id, edit, assignee).await?;
            }
            if let Some(to) = status.filter(|to| *to != task.status) {
                task = services::set_task_status(txn, &actor, service, task_id, to).await?;
            }
            Ok::<_, AppError>(task)
        })
        .await?;
    Ok(axum::Json(TaskBody::from(&task)))
}

#[utoipa::path(
    delete,
    path = "/api/services/{id}/tasks/{taskId}",
    tag = "staff",
    summary = "Deletes a task",
    description = "Logged in the activity log. Staff only. Token scope: `services:write`.",
    params(
        ("id" = i64, Path, description = "The service's id"),
        ("taskId" = i64, Path, description = "The task's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not staff", body = ErrorResponse),
        (status = 404, description = "No such service or task", body = ErrorResponse),
        (status = 409, description = "The change conflicts with the record's state", body = ErrorResponse),
    ),
)]
pub async fn delete_task(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    Path((id, task_id)): Path<(ServiceId, i64)>,
) -> AppResult<axum::http::StatusCode> {
    let actor = Actor::from(&user);
    state
        .db
        .in_transaction(async |txn| {
            let service = services::get(txn, id).await?;
            services::tasks::delete(txn, &actor, &service, task_id).await
        })
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
