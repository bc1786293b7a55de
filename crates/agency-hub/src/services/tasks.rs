//! Staff's work on tasks: assigning, editing and deleting a task (each logged on its service),
//! "My tasks" (a person's open tasks across services, by due date), and whether a service's
//! tasks are all done (then staff are asked to complete it).

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use serde_json::json;

use super::{NewTask, subject};
use crate::activity::{self, Actor};
use crate::db::entities::service::ServiceStatus;
use crate::db::entities::task::TaskStatus;
use crate::db::entities::user::{self, Role};
use crate::db::entities::{client, service, task};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, ServiceId, UserId};

/// The agency's staff (admins and managers) by name: those a task can be assigned to (active),
/// or all, to name the assignees of tasks (one may have left since).
pub async fn staff<C: ConnectionTrait>(
    conn: &C,
    active_only: bool,
) -> Result<Vec<user::Model>, DbErr> {
    let mut q = user::Entity::find()
        .filter(user::Column::Role.is_in([Role::Admin.as_str(), Role::Manager.as_str()]))
        .order_by_asc(user::Column::Name);
    if active_only {
        q = q.filter(user::Column::Active.eq(true));
    }
    q.all(conn).await
}

/// Reads an assignee from a form: empty for none, else an active staff user's id.
pub async fn assignee<C: ConnectionTrait>(conn: &C, raw: &str) -> AppResult<Option<UserId>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let unknown = || AppError::invalid("assignee", "Choose someone of the agency's staff.");
    let id: i64 = raw.parse().map_err(|_| unknown())?;
    let person = user::Entity::find_by_id(UserId(id))
        .one(conn)
        .await?
        .ok_or_else(unknown)?;
    if !person.role.is_staff() || !person.active {
        return Err(unknown());
    }
    Ok(Some(person.id))
}

/// The service's task; not found when the service has no such task.
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    service: &service::Model,
    task_id: i64,
) -> AppResult<task::Model> {
    task::Entity::find_by_id(task_id)
        .filter(task::Column::ServiceId.eq(service.id))
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// Changes a task's name, description, due date, visibility and assignee; logs what changed.
pub async fn update<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    service: &service::Model,
    task_id: i64,
    edit: NewTask,
    assignee_id: Option<UserId>,
) -> AppResult<task::Model> {
    let task = get(conn, service, task_id).await?;
    let mut changed = Vec::new();
    if task.name != edit.name {
        changed.push("name");
    }
    if task.description != edit.description {
        changed.push("description");
    }
    if task.due_on != edit.due_on {
        changed.push("due date");
    }
    if task.client_visible != edit.client_visible {
        changed.push("client visibility");
    }
    if task.assignee_id != assignee_id {
        changed.push("assignee");
    }
    if changed.is_empty() {
        return Ok(task);
    }
    // Being given a task follows its service.
    if let Some(user) = assignee_id.filter(|u| task.assignee_id != Some(*u)) {
        crate::notify::inapp::follow(conn, service.id, user).await?;
    }
    let updated = task::Entity::update(task::ActiveModel {
        id: Set(task.id),
        name: Set(edit.name),
        description: Set(edit.description),
        due_on: Set(edit.due_on),
        client_visible: Set(edit.client_visible),
        assignee_id: Set(assignee_id),
        updated_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(conn)
    .await?;
    activity::record(
        conn,
        actor,
        "task.updated",
        subject(service),
        json!({"task_id": task.id, "task": updated.name, "changed": changed,
               "assignee_id": assignee_id}),
    )
    .await?;
    Ok(updated)
}

/// Deletes a task of the service and logs it.
pub async fn delete<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    service: &service::Model,
    task_id: i64,
) -> AppResult<task::Model> {
    let task = get(conn, service, task_id).await?;
    task::Entity::delete_by_id(task.id).exec(conn).await?;
    activity::record(
        conn,
        actor,
        "task.deleted",
        subject(service),
        json!({"task_id": task.id, "task": task.name, "status": task.status}),
    )
    .await?;
    Ok(task)
}

/// Whether staff should be asked to complete the service: it has tasks, every one done, and
/// it is still open.
pub fn ready_to_complete(service: &service::Model, tasks: &[task::Model]) -> bool {
    matches!(
        service.status,
        ServiceStatus::ToDo | ServiceStatus::InProgress
    ) && !tasks.is_empty()
        && tasks.iter().all(|t| t.status == TaskStatus::Done)
}

/// A task in "My tasks", with its service and client.
#[derive(Clone, Debug, FromQueryResult)]
pub struct MyTask {
    pub id: i64,
    pub name: String,
    pub status: TaskStatus,
    pub due_on: Option<NaiveDate>,
    pub service_id: ServiceId,
    pub service_name: String,
    pub client_id: ClientId,
    pub client_name: String,
}

impl MyTask {
    /// Due before today.
    pub fn overdue(&self, today: &NaiveDate) -> bool {
        self.due_on.is_some_and(|d| d < *today)
    }
}

/// A page of the person's tasks not done, on services not ended: soonest due first, those
/// without a due date last; and how many there are. One query for the page, one for the count.
pub async fn mine<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    page: u64,
    per_page: u64,
) -> Result<(Vec<MyTask>, u64), DbErr> {
    let q = task::Entity::find()
        .filter(task::Column::AssigneeId.eq(user_id))
        .filter(task::Column::Status.ne(TaskStatus::Done))
        .join(JoinType::InnerJoin, task::Relation::Service.def())
        .filter(service::Column::Status.is_in([
            ServiceStatus::ToDo.as_str(),
            ServiceStatus::InProgress.as_str(),
        ]));
    let total = q.clone().count(conn).await?;
    let rows = q
        .join(JoinType::InnerJoin, service::Relation::Client.def())
        .select_only()
        .column(task::Column::Id)
        .column(task::Column::Name)
        .column(task::Column::Status)
        .column(task::Column::DueOn)
        .column(task::Column::ServiceId)
        .column_as(service::Column::Name, "service_name")
        .column_as(service::Column::ClientId, "client_id")
        .column_as(client::Column::Name, "client_name")
        // Soonest first, no due date last (on both databases: NULLs sort first in SQLite).
        .order_by_asc(task::Column::DueOn.is_null())
        .order_by_asc(task::Column::DueOn)
        .order_by_asc(task::Column::Id)
        .offset(page.saturating_sub(1) * per_page)
        .limit(per_page)
        .into_model::<MyTask>()
        .all(conn)
        .await?;
    Ok((rows, total))
}
