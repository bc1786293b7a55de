//! The service workflow: lists, the service and its tasks, status changes, tasks added by hand.
//! Every read a client can reach is scoped to the client's id.

pub mod intake;
pub mod tasks;

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    FromQueryResult, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use serde_json::json;

use crate::activity::{self, Actor, Subject};
use crate::db::entities::notification::NoticeKind;
use crate::db::entities::service::ServiceStatus;
use crate::db::entities::task::TaskStatus;
use crate::db::entities::{
    activity as activity_entity, client, order, order_item, service, service_template, task,
};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, OrderId, OrderItemId, ServiceId, TemplateId};
use crate::notify::inapp::{self, Notice};

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub client_id: Option<ClientId>,
    pub status: Option<ServiceStatus>,
    pub template_id: Option<TemplateId>,
    /// The API's cursor: only services older than this one, newest first by id.
    pub before: Option<ServiceId>,
}

/// A service in a list, with its client's and template's names and its progress.
#[derive(Clone, Debug)]
pub struct ServiceRow {
    pub service: service::Model,
    pub client_name: String,
    pub template_name: String,
    pub tasks_done: i64,
    pub tasks_total: i64,
    /// The order that bought it (its id and number), which tells apart two services of one
    /// template.
    pub order: Option<(OrderId, String)>,
}

impl ServiceRow {
    /// Done tasks as a whole percentage (0 with no task).
    pub fn progress(&self) -> i64 {
        if self.tasks_total == 0 {
            0
        } else {
            self.tasks_done * 100 / self.tasks_total
        }
    }
}

/// Which tasks count: all of them (staff) or the client-visible ones (the client's view).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Staff,
    Client,
}

/// One page of services, newest first, and the total. Five queries whatever the page size:
/// count, page, client names, template names, task counts.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter,
    audience: Audience,
    page: u64,
    per_page: u64,
) -> Result<(Vec<ServiceRow>, u64), DbErr> {
    let mut q = service::Entity::find();
    q = match filter.before {
        Some(id) => q
            .filter(service::Column::Id.lt(id))
            .order_by_desc(service::Column::Id),
        None => q
            .order_by_desc(service::Column::CreatedAt)
            .order_by_desc(service::Column::Id),
    };
    if let Some(c) = filter.client_id {
        q = q.filter(service::Column::ClientId.eq(c));
    }
    if let Some(s) = filter.status {
        q = q.filter(service::Column::Status.eq(s));
    }
    if let Some(t) = filter.template_id {
        q = q.filter(service::Column::TemplateId.eq(t));
    }
    let pages = q.paginate(conn, per_page);
    let total = pages.num_items().await?;
    let services = pages.fetch_page(page.saturating_sub(1)).await?;
    Ok((rows(conn, services, audience).await?, total))
}

/// The orders (id and number) that bought `services`, by order item: one query.
pub async fn orders_of<C: ConnectionTrait>(
    conn: &C,
    services: &[service::Model],
) -> Result<HashMap<OrderItemId, (OrderId, String)>, DbErr> {
    let items: Vec<OrderItemId> = services.iter().filter_map(|s| s.order_item_id).collect();
    if items.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(order_item::Entity::find()
        .select_only()
        .column(order_item::Column::Id)
        .column(order_item::Column::OrderId)
        .column(order::Column::OrderNumber)
        .join(JoinType::InnerJoin, order_item::Relation::Order.def())
        .filter(order_item::Column::Id.is_in(items))
        .into_tuple::<(OrderItemId, OrderId, String)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(item, id, number)| (item, (id, number)))
        .collect())
}

/// Names, task counts and orders for a set of services, in four queries.
async fn rows<C: ConnectionTrait>(
    conn: &C,
    services: Vec<service::Model>,
    audience: Audience,
) -> Result<Vec<ServiceRow>, DbErr> {
    if services.is_empty() {
        return Ok(Vec::new());
    }
    let template_ids: Vec<TemplateId> = services.iter().map(|s| s.template_id).collect();
    let service_ids: Vec<ServiceId> = services.iter().map(|s| s.id).collect();
    let clients = crate::clients::names_of(conn, services.iter().map(|s| s.client_id)).await?;
    let templates: HashMap<TemplateId, String> = service_template::Entity::find()
        .select_only()
        .column(service_template::Column::Id)
        .column(service_template::Column::Name)
        .filter(service_template::Column::Id.is_in(template_ids))
        .into_tuple::<(TemplateId, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let counts = task_counts(conn, service_ids, audience).await?;
    let orders = orders_of(conn, &services).await?;
    Ok(services
        .into_iter()
        .map(|s| {
            let (tasks_done, tasks_total) = counts.get(&s.id).copied().unwrap_or((0, 0));
            ServiceRow {
                order: s.order_item_id.and_then(|i| orders.get(&i).cloned()),
                client_name: clients.get(&s.client_id).cloned().unwrap_or_default(),
                template_name: templates.get(&s.template_id).cloned().unwrap_or_default(),
                tasks_done,
                tasks_total,
                service: s,
            }
        })
        .collect())
}

/// (done, total) tasks per service, in one grouped query.
async fn task_counts<C: ConnectionTrait>(
    conn: &C,
    service_ids: Vec<ServiceId>,
    audience: Audience,
) -> Result<HashMap<ServiceId, (i64, i64)>, DbErr> {
    let mut q = task::Entity::find()
        .select_only()
        .column(task::Column::ServiceId)
        .column_as(
            Expr::cust("SUM(CASE WHEN \"status\" = 'DONE' THEN 1 ELSE 0 END)"),
            "done",
        )
        .column_as(task::Column::Id.count(), "total")
        .filter(task::Column::ServiceId.is_in(service_ids))
        .group_by(task::Column::ServiceId);
    if audience == Audience::Client {
        q = q.filter(task::Column::ClientVisible.eq(true));
    }
    Ok(q.into_tuple::<(ServiceId, i64, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(id, done, total)| (id, (done, total)))
        .collect())
}

/// A service, for staff.
pub async fn get<C: ConnectionTrait>(conn: &C, id: ServiceId) -> AppResult<service::Model> {
    service::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// A service of this client; another client's service is simply not found.
/// A service as the staff's page shows it: its client's and template's names, its tasks (all of
/// them) and its activity (the latest 50).
#[derive(Clone, Debug)]
pub struct StaffDetail {
    pub service: service::Model,
    pub client_name: String,
    pub template_name: String,
    pub tasks: Vec<task::Model>,
    pub activity: Vec<activity_entity::Model>,
    /// The subscription the service runs for, if it was bought as one.
    pub subscription: Option<crate::db::entities::subscription::Model>,
}

pub async fn staff_detail<C: ConnectionTrait>(conn: &C, id: ServiceId) -> AppResult<StaffDetail> {
    let service = get(conn, id).await?;
    let client_name = client::Entity::find_by_id(service.client_id)
        .one(conn)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    let template_name = service_template::Entity::find_by_id(service.template_id)
        .one(conn)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let subscription = crate::db::entities::subscription::Entity::find()
        .filter(crate::db::entities::subscription::Column::ServiceId.eq(service.id))
        .one(conn)
        .await?;
    Ok(StaffDetail {
        subscription,
        tasks: tasks(conn, service.id, Audience::Staff).await?,
        activity: activity::for_entity(conn, "service", service.id.get(), 50).await?,
        service,
        client_name,
        template_name,
    })
}

pub async fn get_for_client<C: ConnectionTrait>(
    conn: &C,
    id: ServiceId,
    client_id: ClientId,
) -> AppResult<service::Model> {
    service::Entity::find_by_id(id)
        .filter(service::Column::ClientId.eq(client_id))
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// Whether work on the service has started: a task of it has left TO_DO.
pub async fn work_started<C: ConnectionTrait>(conn: &C, id: ServiceId) -> Result<bool, DbErr> {
    Ok(task::Entity::find()
        .filter(task::Column::ServiceId.eq(id))
        .filter(task::Column::Status.ne(TaskStatus::ToDo))
        .one(conn)
        .await?
        .is_some())
}

/// The service's tasks in order; for a client, the client-visible ones only.
pub async fn tasks<C: ConnectionTrait>(
    conn: &C,
    service_id: ServiceId,
    audience: Audience,
) -> Result<Vec<task::Model>, DbErr> {
    let mut q = task::Entity::find()
        .filter(task::Column::ServiceId.eq(service_id))
        .order_by_asc(task::Column::Position)
        .order_by_asc(task::Column::Id);
    if audience == Audience::Client {
        q = q.filter(task::Column::ClientVisible.eq(true));
    }
    q.all(conn).await
}

fn subject(s: &service::Model) -> Subject<'static> {
    Subject {
        entity_type: "service",
        entity_id: s.id.get(),
        client_id: Some(s.client_id),
    }
}

/// Moves a service to another status, as the workflow allows, and records it.
pub async fn set_status<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    service: service::Model,
    to: ServiceStatus,
) -> AppResult<service::Model> {
    let from = service.status;
    if from == to {
        return Err(AppError::invalid(
            "status",
            format!("The service is already {}.", to.label()),
        ));
    }
    if !from.can_move_to(to) {
        return Err(AppError::invalid(
            "status",
            format!(
                "A {} service cannot become {}: reopen it as To do first.",
                from.label(),
                to.label()
            ),
        ));
    }
    let subject = subject(&service);
    let mut active: service::ActiveModel = service.into();
    active.status = Set(to);
    // Moving it is the decision a refund's flag asked for.
    active.review_reason = Set(None);
    active.updated_at = Set(Utc::now());
    let service = active.update(conn).await?;
    activity::record(
        conn,
        actor,
        "service.status_changed",
        subject,
        json!({"from": from, "to": to}),
    )
    .await?;
    let notice = Notice::service(
        NoticeKind::ServiceStatus,
        service.id,
        format!("{} is now {}", service.name, to.label()),
        format!("It was {}.", from.label()),
    );
    inapp::tell_service(conn, &service, &notice, false, actor.user_id()).await?;
    Ok(service)
}

/// Clears the flag a refund left: the service goes on as it is.
pub async fn keep_after_refund<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    service: service::Model,
) -> AppResult<()> {
    let Some(reason) = service.review_reason.clone() else {
        return Err(AppError::conflict(
            "This service is not waiting for a decision.",
        ));
    };
    let subject = subject(&service);
    let mut active: service::ActiveModel = service.into();
    active.review_reason = Set(None);
    active.updated_at = Set(Utc::now());
    active.update(conn).await?;
    activity::record(
        conn,
        actor,
        "service.kept_after_refund",
        subject,
        json!({"reason": reason}),
    )
    .await?;
    Ok(())
}

/// Moves one of the service's tasks to another status. Starting or finishing a task of a
/// service still TO_DO puts the service IN_PROGRESS.
pub async fn set_task_status<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    service: service::Model,
    task_id: i64,
    to: TaskStatus,
) -> AppResult<task::Model> {
    let task = task::Entity::find_by_id(task_id)
        .filter(task::Column::ServiceId.eq(service.id))
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)?;
    let from = task.status;
    if from == to {
        return Err(AppError::invalid(
            "status",
            format!("The task is already {}.", to.label()),
        ));
    }
    if service.status == ServiceStatus::Cancelled {
        return Err(AppError::invalid(
            "status",
            "The service is cancelled: reopen it to work on its tasks.",
        ));
    }
    let mut active: task::ActiveModel = task.into();
    active.status = Set(to);
    active.updated_at = Set(Utc::now());
    let task = active.update(conn).await?;
    activity::record(
        conn,
        actor,
        "task.status_changed",
        subject(&service),
        json!({"task_id": task.id, "task": task.name, "from": from, "to": to}),
    )
    .await?;
    if to == TaskStatus::Done {
        let notice = Notice::service(
            NoticeKind::TaskDone,
            service.id,
            format!("Done: {} ({})", task.name, service.name),
            String::new(),
        );
        // A task the client does not see is news for the staff only.
        inapp::tell_service(
            conn,
            &service,
            &notice,
            !task.client_visible,
            actor.user_id(),
        )
        .await?;
    }
    if service.status == ServiceStatus::ToDo && to != TaskStatus::ToDo {
        set_status(conn, actor, service, ServiceStatus::InProgress).await?;
    }
    Ok(task)
}

/// A task added by hand.
#[derive(Clone, Debug)]
pub struct NewTask {
    pub name: String,
    pub description: String,
    pub due_on: Option<NaiveDate>,
    pub client_visible: bool,
}

impl NewTask {
    /// Reads the "add a task" form: name required, due date as YYYY-MM-DD.
    pub fn parse(
        name: &str,
        description: &str,
        due_on: &str,
        client_visible: bool,
    ) -> AppResult<Self> {
        let name = name.trim();
        if name.is_empty() {
            return Err(AppError::invalid("name", "Give the task a name."));
        }
        if name.chars().count() > 200 {
            return Err(AppError::invalid("name", "Use at most 200 characters."));
        }
        if description.chars().count() > 10_000 {
            return Err(AppError::invalid(
                "description",
                "Use at most 10000 characters.",
            ));
        }
        let due_on = match due_on.trim() {
            "" => None,
            raw => Some(NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
                AppError::invalid(
                    "due_on",
                    format!("'{raw}' is not a date (example: 2026-12-31)."),
                )
            })?),
        };
        Ok(Self {
            name: name.to_string(),
            description: description.trim().to_string(),
            due_on,
            client_visible,
        })
    }
}

pub async fn add_task<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    service: &service::Model,
    new: NewTask,
) -> AppResult<task::Model> {
    let last: Option<i32> = task::Entity::find()
        .select_only()
        .column_as(task::Column::Position.max(), "p")
        .filter(task::Column::ServiceId.eq(service.id))
        .into_tuple::<Option<i32>>()
        .one(conn)
        .await?
        .flatten();
    let now = Utc::now();
    let task = task::Entity::insert(task::ActiveModel {
        service_id: Set(service.id),
        position: Set(last.map_or(0, |p| p + 1)),
        name: Set(new.name),
        description: Set(new.description),
        due_on: Set(new.due_on),
        client_visible: Set(new.client_visible),
        status: Set(TaskStatus::ToDo),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(conn)
    .await?;
    activity::record(
        conn,
        actor,
        "task.added",
        subject(service),
        json!({"task_id": task.id, "task": task.name}),
    )
    .await?;
    Ok(task)
}

/// How many services are in each status (of one client, or all).
pub async fn count_by_status<C: ConnectionTrait>(
    conn: &C,
    client_id: Option<ClientId>,
) -> Result<Vec<(ServiceStatus, i64)>, DbErr> {
    let mut q = service::Entity::find()
        .select_only()
        .column(service::Column::Status)
        .column_as(service::Column::Id.count(), "n")
        .group_by(service::Column::Status);
    if let Some(c) = client_id {
        q = q.filter(service::Column::ClientId.eq(c));
    }
    let counts: HashMap<ServiceStatus, i64> = q
        .into_tuple::<(ServiceStatus, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    Ok(ServiceStatus::ALL
        .into_iter()
        .map(|s| (s, counts.get(&s).copied().unwrap_or(0)))
        .collect())
}

/// Open tasks of open services due before `today`.
pub async fn overdue_count<C: ConnectionTrait>(conn: &C, today: NaiveDate) -> Result<u64, DbErr> {
    task::Entity::find()
        .join(JoinType::InnerJoin, task::Relation::Service.def())
        .filter(task::Column::DueOn.lt(today))
        .filter(task::Column::Status.ne(TaskStatus::Done))
        .filter(service::Column::Status.is_in([ServiceStatus::ToDo, ServiceStatus::InProgress]))
        .count(conn)
        .await
}

/// An open task due soon, with its service and client.
#[derive(Clone, Debug, FromQueryResult)]
pub struct DueTask {
    pub task_id: i64,
    pub task_name: String,
    pub due_on: NaiveDate,
    pub service_id: ServiceId,
    pub service_name: String,
    pub client_name: String,
}

/// Unfinished tasks of active services due from `from` to `until` (inclusive), soonest
/// first, in one query.
pub async fn tasks_due<C: ConnectionTrait>(
    conn: &C,
    from: NaiveDate,
    until: NaiveDate,
    limit: u64,
) -> Result<Vec<DueTask>, DbErr> {
    task::Entity::find()
        .select_only()
        .column_as(task::Column::Id, "task_id")
        .column_as(task::Column::Name, "task_name")
        .column(task::Column::DueOn)
        .column(task::Column::ServiceId)
        .column_as(service::Column::Name, "service_name")
        .column_as(client::Column::Name, "client_name")
        .join(JoinType::InnerJoin, task::Relation::Service.def())
        .join(JoinType::InnerJoin, service::Relation::Client.def())
        .filter(task::Column::DueOn.between(from, until))
        .filter(task::Column::Status.ne(TaskStatus::Done))
        .filter(service::Column::Status.is_in([ServiceStatus::ToDo, ServiceStatus::InProgress]))
        .order_by_asc(task::Column::DueOn)
        .order_by_asc(task::Column::Id)
        .limit(limit)
        .into_model::<DueTask>()
        .all(conn)
        .await
}
