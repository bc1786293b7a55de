//! Services: the staff's list, assignment and service page; the client's "My services".

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::auth::CurrentUser;
use crate::catalog::When;
use crate::conversations::{self, Reader};
use crate::db::entities::service::ServiceStatus;
use crate::db::entities::task::TaskStatus;
use crate::db::entities::{
    activity as activity_entity, deliverable_event, file, message, service, service_template, task,
    user,
};
use crate::engagement::reviews;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::files;
use crate::ids::{ClientId, FileId, MessageId, ServiceId, TemplateId, UserId};
use crate::notify::inapp;
use crate::provisioning;
use crate::services::{self, Audience, Filter, NewTask, ServiceRow, StaffDetail};
use crate::web::api::Pagination;
use crate::web::auth::{RequireClient, RequireStaff};
use crate::web::extract::{Form, PageParams, Path, Query, Submitted, optional_id};
use crate::web::form::{QuestionField, question_fields, settle};
use crate::web::layout::{FlashKind, PageCtx, flash};
use crate::{catalog, clients};

const PER_PAGE: u64 = 25;

#[derive(Debug, Default, Deserialize)]
pub struct FilterQuery {
    #[serde(default)]
    client: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    template: String,
}

impl FilterQuery {
    pub fn parse(&self) -> AppResult<Filter> {
        let status = match self.status.trim() {
            "" => None,
            raw => Some(ServiceStatus::parse(raw).ok_or_else(|| {
                AppError::invalid(
                    "status",
                    format!("Unknown status '{raw}': use TO_DO, IN_PROGRESS, DONE or CANCELLED."),
                )
            })?),
        };
        Ok(Filter {
            client_id: optional_id("client", &self.client)?,
            status,
            template_id: optional_id("template", &self.template)?,
            before: None,
        })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "services/list.html")]
pub struct ServicesPage {
    ctx: PageCtx,
    rows: Vec<ServiceRow>,
    clients: Vec<(ClientId, String)>,
    templates: Vec<(TemplateId, String)>,
    statuses: [ServiceStatus; 4],
    filter_client: Option<ClientId>,
    filter_status: String,
    filter_template: Option<TemplateId>,
    pagination: Pagination,
    pager_base: String,
    /// Unread new messages per service of the page, for the reader.
    unread: HashMap<ServiceId, i64>,
}

impl ServicesPage {
    fn unread_of(&self, row: &ServiceRow) -> i64 {
        self.unread.get(&row.service.id).copied().unwrap_or(0)
    }
}

pub async fn list(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    ctx: PageCtx,
    Query(q): Query<FilterQuery>,
    Query(paging): Query<PageParams>,
) -> AppResult<ServicesPage> {
    let filter = q.parse()?;
    let page = paging.page()?;
    let (rows, total) = services::list(&state.db, &filter, Audience::Staff, page, PER_PAGE).await?;
    let unread =
        inapp::unread_messages_by_service(&state.db, user.id, rows.iter().map(|r| r.service.id))
            .await?;
    let templates = catalog::list(&state.db, false)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let query = serde_urlencoded::to_string([
        ("client", q.client.trim()),
        ("status", q.status.trim()),
        ("template", q.template.trim()),
    ])
    .unwrap_or_default();
    Ok(ServicesPage {
        ctx,
        rows,
        clients: clients::names(&state.db).await?,
        templates,
        statuses: ServiceStatus::ALL,
        filter_client: filter.client_id,
        filter_status: filter
            .status
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        filter_template: filter.template_id,
        pagination: Pagination::new(page, PER_PAGE, total),
        pager_base: format!("/services?{query}&"),
        unread,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "services/assign.html")]
pub struct AssignPage {
    ctx: PageCtx,
    clients: Vec<(ClientId, String)>,
    templates: Vec<service_template::Model>,
    client_id: Option<ClientId>,
    template_id: Option<TemplateId>,
    error: Option<AppError>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AssignQuery {
    client: Option<ClientId>,
    template: Option<TemplateId>,
}

async fn assign_page(
    state: &AppState,
    ctx: PageCtx,
    client_id: Option<ClientId>,
    template_id: Option<TemplateId>,
    error: Option<AppError>,
) -> AppResult<AssignPage> {
    // A bundle is assigned as its services, one by one.
    let bundles = catalog::bundles::Bundles::load(&state.db, None).await?;
    let mut templates = catalog::list(&state.db, false).await?;
    templates.retain(|t| !bundles.is_bundle(t.id));
    Ok(AssignPage {
        ctx,
        clients: clients::names(&state.db).await?,
        templates,
        client_id,
        template_id,
        error,
    })
}

pub async fn show_assign(
    State(state): State<AppState>,
    RequireStaff(_): RequireStaff,
    ctx: PageCtx,
    Query(q): Query<AssignQuery>,
) -> AppResult<AssignPage> {
    assign_page(&state, ctx, q.client, q.template, None).await
}

#[derive(Debug, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    template_id: String,
}

fn required_id<T: std::str::FromStr>(field: &str, raw: &str, missing: &str) -> AppResult<T> {
    optional_id(field, raw)?.ok_or_else(|| AppError::invalid(field, missing))
}

pub async fn assign(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    ctx: PageCtx,
    Form(form): Form<AssignForm>,
) -> AppResult<Response> {
    let actor = Actor::from(&user);
    let assigned = async {
        let client_id = required_id("client_id", &form.client_id, "Choose a client.")?;
        let template_id = required_id(
            "template_id",
            &form.template_id,
            "Choose a service template.",
        )?;
        state
            .db
            .in_transaction(async |txn| {
                provisioning::assign(txn, &actor, client_id, template_id, Utc::now()).await
            })
            .await
    }
    .await;
    settle(
        assigned,
        async |service| {
            tracing::info!(
                service.id = service.id.get(),
                user.id = user.id.get(),
                "service assigned"
            );
            let message = format!("{} was assigned.", service.name);
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to(&format!("/services/{}", service.id)).into_response())
        },
        async |e| {
            let (client_id, template_id) =
                (form.client_id.parse().ok(), form.template_id.parse().ok());
            assign_page(&state, ctx, client_id, template_id, Some(e)).await
        },
    )
    .await
}

#[derive(Template, WebTemplate)]
#[template(path = "services/show.html")]
pub struct ServicePage {
    ctx: PageCtx,
    service: service::Model,
    client_name: String,
    template_name: String,
    tasks: Vec<task::Model>,
    activity: Vec<activity_entity::Model>,
    statuses: [ServiceStatus; 4],
    task_statuses: [TaskStatus; 3],
    error: Option<AppError>,
    subscription: Option<crate::db::entities::subscription::Model>,
    /// The agency's staff (the tasks' assignees' names).
    staff: Vec<user::Model>,
    /// Every task is done and the service still open: ask to complete it.
    ready_to_complete: bool,
    conversation: Conversation,
    /// The staff who follow the service, and whether the reader is one of them.
    followers: Vec<(UserId, String)>,
    following: bool,
    /// The order that bought it: its id and number.
    order: Option<(crate::ids::OrderId, String)>,
}

impl ServicePage {
    fn file_limit(&self) -> String {
        files::size_label(self.ctx.max_file_bytes)
    }

    fn assignee_name(&self, t: &task::Model) -> Option<&str> {
        let id = t.assignee_id?;
        self.staff
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.as_str())
    }

    fn subscription_terms(&self) -> String {
        self.subscription
            .as_ref()
            .map(crate::subscriptions::terms)
            .unwrap_or_default()
    }

    fn subscription_status(&self) -> String {
        self.subscription
            .as_ref()
            .map(crate::subscriptions::status_label)
            .unwrap_or_default()
    }
}

async fn service_page(
    state: &AppState,
    mut ctx: PageCtx,
    id: ServiceId,
    error: Option<AppError>,
    draft: Draft,
) -> AppResult<ServicePage> {
    let me = ctx.user.clone().ok_or_else(AppError::unauthorized)?;
    let StaffDetail {
        service,
        client_name,
        template_name,
        tasks,
        activity,
        subscription,
    } = services::staff_detail(&state.db, id).await?;
    let conversation = Conversation::load(state, &mut ctx, &me, &service, draft).await?;
    let followers = inapp::followers(&state.db, service.id).await?;
    let order = services::orders_of(&state.db, std::slice::from_ref(&service))
        .await?
        .into_values()
        .next();
    Ok(ServicePage {
        order,
        following: followers.iter().any(|(u, _)| *u == me.id),
        followers,
        conversation,
        staff: services::tasks::staff(&state.db, false).await?,
        ready_to_complete: services::tasks::ready_to_complete(&service, &tasks),
        subscription,
        ctx,
        tasks,
        activity,
        service,
        client_name,
        template_name,
        statuses: ServiceStatus::ALL,
        task_statuses: TaskStatus::ALL,
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    RequireStaff(_): RequireStaff,
    ctx: PageCtx,
    Path(id): Path<ServiceId>,
) -> AppResult<ServicePage> {
    service_page(&state, ctx, id, None, Draft::default()).await
}

/// Runs a change to a service in a transaction: on success a flash message and back to the
/// service page; on bad input the page again with the error, and nothing changed.
async fn change_service<F>(
    state: &AppState,
    session: &Session,
    ctx: PageCtx,
    id: ServiceId,
    change: F,
) -> AppResult<Response>
where
    F: AsyncFnOnce(&crate::db::Txn, service::Model) -> AppResult<String>,
{
    let service = services::get(&state.db, id).await?;
    let changed = state
        .db
        .in_transaction(async |txn| change(txn, service).await)
        .await;
    settle(
        changed,
        async |message| {
            flash(session, FlashKind::Success, message).await?;
            Ok(Redirect::to(&format!("/services/{id}")).into_response())
        },
        async |e| service_page(state, ctx, id, Some(e), Draft::default()).await,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
}

fn parse_service_status(raw: &str) -> AppResult<ServiceStatus> {
    ServiceStatus::parse(raw)
        .ok_or_else(|| AppError::invalid("status", format!("Unknown status '{raw}'.")))
}

pub async fn set_status(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<ServiceId>,
    Form(form): Form<StatusForm>,
) -> AppResult<Response> {
    let actor = Actor::from(&user);
    change_service(&state, &session, ctx, id, async |txn, service| {
        let to = parse_service_status(&form.status)?;
        services::set_status(txn, &actor, service, to).await?;
        Ok(format!("The service is now {}.", to.label()))
    })
    .await
}

/// A manager decides to go on with a service its order's refund flagged.
pub async fn keep(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<ServiceId>,
) -> AppResult<Response> {
    let actor = Actor::from(&user);
    change_service(&state, &session, ctx, id, async |txn, service| {
        services::keep_after_refund(txn, &actor, service).await?;
        Ok("Decided: the work goes on.".to_string())
    })
    .await
}

pub async fn set_task_status(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    ctx: PageCtx,
    Path((id, task_id)): Path<(ServiceId, i64)>,
    Form(form): Form<StatusForm>,
) -> AppResult<Response> {
    let actor = Actor::from(&user);
    change_service(&state, &session, ctx, id, async |txn, service| {
        let to = TaskStatus::parse(&form.status).ok_or_else(|| {
            AppError::invalid("status", format!("Unknown task status '{}'.", form.status))
        })?;
        let task = services::set_task_status(txn, &actor, service, task_id, to).await?;
        Ok(format!("{} is now {}.", task.name, to.label()))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct NewTaskForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    due_on: String,
    client_visible: Option<String>,
}

pub async fn add_task(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<ServiceId>,
    Form(form): Form<NewTaskForm>,
) -> AppResult<Response> {
    let actor = Actor::from(&user);
    change_service(&state, &session, ctx, id, async |txn, service| {
        let new = NewTask::parse(
            &form.name,
            &form.description,
            &form.due_on,
            form.client_visible.is_some(),
        )?;
        let task = services::add_task(txn, &actor, &service, new).await?;
        Ok(format!("Task {} was added.", task.name))
    })
    .await
}

#[derive(Template, WebTemplate)]
#[template(path = "services/task_edit.html")]
pub struct TaskEditPage {
    ctx: PageCtx,
    service: service::Model,
    task: task::Model,
    form: TaskEditForm,
    staff: Vec<user::Model>,
    error: Option<AppError>,
}

impl TaskEditPage {
    /// The field the error names, if any.
    fn field(&self) -> &str {
        self.error
            .as_ref()
            .and_then(|e| e.field.as_deref())
            .unwrap_or_default()
    }
}

/// The task edit form, as typed.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TaskEditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    due_on: String,
    client_visible: Option<String>,
    #[serde(default)]
    assignee: String,
}

impl TaskEditForm {
    fn of(t: &task::Model) -> Self {
        Self {
            name: t.name.clone(),
            description: t.description.clone(),
            due_on: t
                .due_on
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            client_visible: t.client_visible.then(|| "on".into()),
            assignee: t.assignee_id.map(|u| u.to_string()).unwrap_or_default(),
        }
    }
}

async fn task_edit_page(
    state: &AppState,
    ctx: PageCtx,
    id: ServiceId,
    task_id: i64,
    typed: Option<(TaskEditForm, AppError)>,
) -> AppResult<TaskEditPage> {
    let service = services::get(&state.db, id).await?;
    let task = services::tasks::get(&state.db, &service, task_id).await?;
    let (form, error) = match typed {
        Some((form, e)) => (form, Some(e)),
        None => (TaskEditForm::of(&task), None),
    };
    Ok(TaskEditPage {
        ctx,
        service,
        task,
        form,
        staff: services::tasks::staff(&state.db, true).await?,
        error,
    })
}

pub async fn edit_task(
    State(state): State<AppState>,
    RequireStaff(_): RequireStaff,
    ctx: PageCtx,
    Path((id, task_id)): Path<(ServiceId, i64)>,
) -> AppResult<TaskEditPage> {
    task_edit_page(&state, ctx, id, task_id, None).await
}

pub async fn update_task(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    ctx: PageCtx,
    Path((id, task_id)): Path<(ServiceId, i64)>,
    Form(form): Form<TaskEditForm>,
) -> AppResult<Response> {
    let actor = Actor::from(&user);
    let service = services::get(&state.db, id).await?;
    let result = state
        .db
        .in_transaction(async |txn| {
            let edit = NewTask::parse(
                &form.name,
                &form.description,
                &form.due_on,
                form.client_visible.is_some(),
            )?;
            let assignee = services::tasks::assignee(txn, &form.assignee).await?;
            services::tasks::update(txn, &actor, &service, task_id, edit, assignee).await
        })
        .await;
    settle(
        result,
        async |task| {
            flash(
                &session,
                FlashKind::Success,
                format!("Task {} was saved.", task.name),
            )
            .await?;
            Ok(Redirect::to(&format!("/services/{id}")).into_response())
        },
        async |e| task_edit_page(&state, ctx, id, task_id, Some((form.clone(), e))).await,
    )
    .await
}

pub async fn delete_task(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    ctx: PageCtx,
    Path((id, task_id)): Path<(ServiceId, i64)>,
) -> AppResult<Response> {
    let actor = Actor::from(&user);
    change_service(&state, &session, ctx, id, async |txn, service| {
        let task = services::tasks::delete(txn, &actor, &service, task_id).await?;
        Ok(format!("Task {} was deleted.", task.name))
    })
    .await
}

#[derive(Template, WebTemplate)]
#[template(path = "services/my_tasks.html")]
pub struct MyTasksPage {
    ctx: PageCtx,
    rows: Vec<services::tasks::MyTask>,
    today: chrono::NaiveDate,
    pagination: Pagination,
    pager_base: String,
}

/// The signed-in staff member's open tasks across services, soonest due first.
pub async fn my_tasks(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    ctx: PageCtx,
    Query(paging): Query<PageParams>,
) -> AppResult<MyTasksPage> {
    let page = paging.page()?;
    let (rows, total) = services::tasks::mine(&state.db, user.id, page, PER_PAGE).await?;
    Ok(MyTasksPage {
        ctx,
        rows,
        today: Utc::now().date_naive(),
        pagination: Pagination::new(page, PER_PAGE, total),
        pager_base: "/tasks?".into(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "services/mine.html")]
pub struct MyServicesPage {
    ctx: PageCtx,
    rows: Vec<ServiceRow>,
    pagination: Pagination,
    pager_base: String,
    unread: HashMap<ServiceId, i64>,
}

impl MyServicesPage {
    fn unread_of(&self, row: &ServiceRow) -> i64 {
        self.unread.get(&row.service.id).copied().unwrap_or(0)
    }
}

pub async fn mine(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    ctx: PageCtx,
    Query(paging): Query<PageParams>,
) -> AppResult<MyServicesPage> {
    let page = paging.page()?;
    let filter = Filter {
        client_id: Some(client_id),
        ..Default::default()
    };
    let (rows, total) =
        services::list(&state.db, &filter, Audience::Client, page, PER_PAGE).await?;
    let unread =
        inapp::unread_messages_by_service(&state.db, user.id, rows.iter().map(|r| r.service.id))
            .await?;
    Ok(MyServicesPage {
        ctx,
        unread,
        rows,
        pagination: Pagination::new(page, PER_PAGE, total),
        pager_base: "/my/services?".into(),
    })
}

impl MyServicePage {
    fn file_limit(&self) -> String {
        files::size_label(self.ctx.max_file_bytes)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "services/my_service.html")]
pub struct MyServicePage {
    ctx: PageCtx,
    service: service::Model,
    tasks: Vec<task::Model>,
    done: usize,
    /// The after-payment questions' fields (as typed when they came back with mistakes).
    fields: Vec<QuestionField>,
    /// Required questions still unanswered.
    unanswered: usize,
    /// Work has started: answers given can no longer change.
    started: bool,
    error: Option<AppError>,
    conversation: Conversation,
    /// Once the service is done: the company's review of its kind of service.
    review: Option<ReviewBox>,
    /// The order that bought it: its id and number.
    order: Option<(crate::ids::OrderId, String)>,
}

/// The review form of a done service: the company's review if it wrote one, and the form as
/// typed with its mistakes.
pub struct ReviewBox {
    existing: Option<crate::db::entities::review::Model>,
    form: reviews::ReviewForm,
    errors: FieldErrors,
}

impl ReviewBox {
    fn checked(&self, n: &i32) -> bool {
        self.form.rating.trim() == n.to_string()
    }
}

async fn my_service_page(
    state: &AppState,
    ctx: PageCtx,
    client_id: ClientId,
    id: ServiceId,
    typed: Option<(Vec<(String, String)>, AppError)>,
    draft: Draft,
) -> AppResult<MyServicePage> {
    my_service_page_with(state, ctx, client_id, id, typed, draft, None).await
}

async fn my_service_page_with(
    state: &AppState,
    mut ctx: PageCtx,
    client_id: ClientId,
    id: ServiceId,
    typed: Option<(Vec<(String, String)>, AppError)>,
    draft: Draft,
    review_typed: Option<(reviews::ReviewForm, AppError)>,
) -> AppResult<MyServicePage> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    let review = if service.status == ServiceStatus::Done {
        let existing = reviews::of_company(&state.db, client_id, service.template_id).await?;
        Some(match review_typed {
            Some((form, e)) => ReviewBox {
                existing,
                form,
                errors: FieldErrors::of(&e, "body"),
            },
            None => ReviewBox {
                form: existing
                    .as_ref()
                    .map(|r| reviews::ReviewForm {
                        rating: r.rating.to_string(),
                        body: r.body.clone(),
                    })
                    .unwrap_or_default(),
                existing,
                errors: FieldErrors::default(),
            },
        })
    } else {
        None
    };
    let me = ctx.user.clone().ok_or_else(AppError::unauthorized)?;
    let conversation = Conversation::load(state, &mut ctx, &me, &service, draft).await?;
    let tasks = services::tasks(&state.db, service.id, Audience::Client).await?;
    let done = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Done)
        .count();
    let intake = service.intake();
    let questions = services::intake::questions(&intake);
    let started = !questions.is_empty() && services::work_started(&state.db, service.id).await?;
    let (fields, error) = match typed {
        Some((pairs, e)) => (
            question_fields(
                &questions,
                &intake.answers(),
                Some(&pairs),
                &FieldErrors::of(&e, "answers"),
            ),
            Some(e),
        ),
        None => (
            question_fields(&questions, &intake.answers(), None, &FieldErrors::default()),
            None,
        ),
    };
    let order = services::orders_of(&state.db, std::slice::from_ref(&service))
        .await?
        .into_values()
        .next();
    Ok(MyServicePage {
        order,
        ctx,
        conversation,
        unanswered: intake.missing(When::AfterPayment).len(),
        service,
        tasks,
        done,
        fields,
        started,
        error,
        review,
    })
}

#[derive(Debug, Deserialize)]
pub struct ReviewFields {
    #[serde(default)]
    rating: String,
    #[serde(default)]
    body: String,
}

/// The client reviews the kind of service this one is, once it is done.
pub async fn review(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<ServiceId>,
    Form(f): Form<ReviewFields>,
) -> AppResult<Response> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    let form = reviews::ReviewForm {
        rating: f.rating,
        body: f.body,
    };
    let written = match form.validate() {
        Err(errors) => Err(errors.into()),
        Ok(valid) => {
            state
                .db
                .in_transaction(async |txn| {
                    reviews::write(txn, user.id, client_id, service.template_id, valid).await
                })
                .await
        }
    };
    settle(
        written,
        async |(_, new)| {
            let message = if new {
                "Thank you: your review is with the agency, who publish it in the store once they have read it."
            } else {
                "Your review is updated: the agency read it again before it shows in the store."
            };
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to(&format!("/my/services/{id}#review")).into_response())
        },
        async |e| {
            my_service_page_with(
                &state,
                ctx,
                client_id,
                id,
                None,
                Draft::default(),
                Some((form.clone(), e)),
            )
            .await
        },
    )
    .await
}

pub async fn my_service(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    ctx: PageCtx,
    Path(id): Path<ServiceId>,
) -> AppResult<MyServicePage> {
    my_service_page(&state, ctx, client_id, id, None, Draft::default()).await
}

/// The client's answers to the service's questions: kept when each reads (and, once work has
/// started, changes none given before), else the page again with each mistake in place. A file
/// question is answered by the file sent for it (kept as one of the service's files, its name
/// the answer); one sent nothing keeps the answer it has.
pub async fn answer(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<ServiceId>,
    mut form: Submitted,
) -> AppResult<Response> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    let refused = form.refused.take();
    let kept = service.intake().answers();
    let file_questions: Vec<u32> = services::intake::questions(&service.intake())
        .iter()
        .filter(|q| q.kind == catalog::questions::Kind::File)
        .map(|q| q.id)
        .collect();
    let is_file_field = |k: &str| {
        file_questions
            .iter()
            .any(|q| catalog::questions::field(*q) == k)
    };
    // A file question is answered by a file only: typed values for it are dropped. The page
    // shown again after a mistake shows the answers kept for them (a file sent with a form
    // that came back was not kept, and is chosen again).
    let pairs: Vec<(String, String)> = form
        .fields
        .iter()
        .filter(|(k, _)| !is_file_field(k))
        .cloned()
        .collect();
    let mut shown = pairs.clone();
    let mut uploads: Vec<(u32, files::Upload)> = Vec::new();
    for &qid in &file_questions {
        let field = catalog::questions::field(qid);
        if let Some(a) = kept.get(&qid) {
            shown.push((field.clone(), a.display()));
        }
        if let Some(i) = form.files.iter().position(|u| u.field == field) {
            uploads.push((qid, form.files.swap_remove(i)));
        }
    }
    let result = match refused {
        Some(e) => Err(e),
        None => {
            let (db, settings, storage) = (&state.db, &state.config.files, &state.storage);
            services::intake::answer_with_files(
                db,
                settings,
                storage,
                &user,
                service,
                uploads,
                |questions| catalog::questions::read_form(questions, &pairs).map_err(FieldErrors),
            )
            .await
        }
    };
    settle(
        result,
        async |(service, changed)| {
            let left = service.intake().missing(When::AfterPayment).len();
            let message = match (changed.is_empty(), left) {
                (true, _) => "Nothing changed in your answers.".to_string(),
                (false, 0) => "Your answers are saved. Thank you!".to_string(),
                (false, n) => format!(
                    "Your answers are saved; {n} required question{} still to answer.",
                    if n == 1 { " is" } else { "s are" }
                ),
            };
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to(&format!("/my/services/{id}")).into_response())
        },
        async |e| {
            my_service_page(
                &state,
                ctx,
                client_id,
                id,
                Some((shown, e)),
                Draft::default(),
            )
            .await
        },
    )
    .await
}

/// A message as the conversation shows it.
pub struct MessageView {
    pub m: message::Model,
    /// Its Markdown-lite, as safe HTML.
    pub html: String,
    /// The reader wrote it and may still edit it.
    pub editable: bool,
    /// The files sent with it.
    pub files: Vec<file::Model>,
}

/// A deliverable and what happened to it.
pub struct DeliverableView {
    pub file: file::Model,
    pub history: Vec<deliverable_event::Model>,
}

/// What was typed in the message form, shown again when it came back with a mistake.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    pub body: String,
    pub internal: bool,
    /// The message being edited, when the mistake was in an edit.
    pub editing: Option<MessageId>,
}

impl Draft {
    /// The mistake was in an edit of `m`.
    fn edits(&self, m: &message::Model) -> bool {
        self.editing == Some(m.id)
    }
}

/// A service's conversation on its page (the staff's or the client's).
pub struct Conversation {
    pub messages: Vec<MessageView>,
    /// Where the form posts: `…/messages`, and `…/messages/{id}` to edit one.
    pub action: String,
    pub staff: bool,
    pub draft: Draft,
    /// The files staff shared for the client to approve, newest first.
    pub deliverables: Vec<DeliverableView>,
    /// Where a deliverable's decision posts (`…/deliverables/{id}`).
    pub deliverables_action: String,
    /// The files sent as answers, oldest first.
    pub answer_files: Vec<file::Model>,
}

impl Conversation {
    /// The latest file sent as the answer to question `id`.
    pub fn answer_file(&self, id: &u32) -> Option<&file::Model> {
        let id = i32::try_from(*id).ok()?;
        self.answer_files
            .iter()
            .rev()
            .find(|f| f.question_id == Some(id))
    }
}

impl Conversation {
    /// The reader's view of the service's messages. Opening the page reads the service's
    /// notifications (the navigation's counts are lowered to match).
    async fn load(
        state: &AppState,
        ctx: &mut PageCtx,
        me: &CurrentUser,
        service: &service::Model,
        draft: Draft,
    ) -> AppResult<Self> {
        let reader = Reader::of(me);
        let seen = inapp::read_service(&state.db, me.id, service.id).await?;
        ctx.seen(seen);
        let now = Utc::now();
        let mut all_files = files::of_service(&state.db, service.id).await?;
        let mut history = files::history(&state.db, service.id).await?;
        let messages = conversations::list(&state.db, service.id, reader)
            .await?
            .into_iter()
            .map(|m| MessageView {
                html: conversations::markup::to_html(&m.body),
                editable: conversations::editable(&m, me.id, now),
                files: all_files
                    .extract_if(.., |f| f.message_id == Some(m.id))
                    .collect(),
                m,
            })
            .collect();
        let answer_files = all_files
            .extract_if(.., |f| f.question_id.is_some())
            .collect();
        let mut deliverables: Vec<DeliverableView> = all_files
            .into_iter()
            .filter(|f| f.deliverable_state.is_some())
            .map(|file| DeliverableView {
                history: history.extract_if(.., |e| e.file_id == file.id).collect(),
                file,
            })
            .collect();
        deliverables.reverse();
        let base = match reader {
            Reader::Staff => format!("/services/{}", service.id),
            Reader::Client => format!("/my/services/{}", service.id),
        };
        Ok(Self {
            messages,
            action: format!("{base}/messages"),
            deliverables_action: format!("{base}/deliverables"),
            staff: reader == Reader::Staff,
            draft,
            deliverables,
            answer_files,
        })
    }
}

/// Sends (or, editing one, saves) a message with its files: then back to the conversation, or
/// the page again (`again`) with the mistake and what was typed. Files are checked and stored
/// before the message's transaction, and removed again if it fails.
#[allow(clippy::too_many_arguments)]
async fn write_message<P: IntoResponse>(
    state: &AppState,
    session: &Session,
    user: &CurrentUser,
    service: service::Model,
    mut form: Submitted,
    editing: Option<MessageId>,
    page: String,
    again: impl AsyncFnOnce(AppError, Draft) -> AppResult<P>,
) -> AppResult<Response> {
    let body = form.get("body").unwrap_or_default().to_string();
    let internal = form.get("internal").is_some();
    let refused = form.refused.take();
    let written = match refused {
        Some(e) => Err(e),
        None => {
            let (db, settings, storage) = (&state.db, &state.config.files, &state.storage);
            conversations::write(
                db, settings, storage, user, &service, &body, internal, form.files, editing,
            )
            .await
            .map(|(m, _)| m)
        }
    };
    settle(
        written,
        async |m| {
            let what = match (editing, m.internal) {
                (Some(_), _) => "Message saved.",
                (None, true) => "Internal note saved.",
                (None, false) => "Message sent.",
            };
            flash(session, FlashKind::Success, what).await?;
            Ok(Redirect::to(&format!("{page}#messages")).into_response())
        },
        async |e| {
            let draft = Draft {
                body: body.clone(),
                internal,
                editing,
            };
            again(e, draft).await
        },
    )
    .await
}

/// Staff write on a service (a message to the client, or an internal note).
pub async fn post_message(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<ServiceId>,
    form: Submitted,
) -> AppResult<Response> {
    staff_writes(&state, &user, &session, ctx, id, form, None).await
}

/// Staff edit their own message within the edit window.
pub async fn edit_message(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    ctx: PageCtx,
    Path((id, message_id)): Path<(ServiceId, MessageId)>,
    form: Submitted,
) -> AppResult<Response> {
    staff_writes(&state, &user, &session, ctx, id, form, Some(message_id)).await
}

async fn staff_writes(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    ctx: PageCtx,
    id: ServiceId,
    form: Submitted,
    editing: Option<MessageId>,
) -> AppResult<Response> {
    let service = services::get(&state.db, id).await?;
    let page = format!("/services/{id}");
    write_message(
        state,
        session,
        user,
        service,
        form,
        editing,
        page,
        async |e, draft| service_page(state, ctx, id, Some(e), draft).await,
    )
    .await
}

/// The client's page again with a message's mistake.
async fn my_page_with(
    state: &AppState,
    ctx: PageCtx,
    client_id: ClientId,
    id: ServiceId,
    e: AppError,
    draft: Draft,
) -> AppResult<MyServicePage> {
    let mut page = my_service_page(state, ctx, client_id, id, None, draft).await?;
    page.error = Some(e);
    Ok(page)
}

/// A client's person writes to the agency about their service.
pub async fn my_post_message(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<ServiceId>,
    form: Submitted,
) -> AppResult<Response> {
    client_writes(&state, &user, client_id, &session, ctx, id, form, None).await
}

/// A client's person edits their own message within the edit window.
pub async fn my_edit_message(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Path((id, message_id)): Path<(ServiceId, MessageId)>,
    form: Submitted,
) -> AppResult<Response> {
    let editing = Some(message_id);
    client_writes(&state, &user, client_id, &session, ctx, id, form, editing).await
}

#[allow(clippy::too_many_arguments)]
async fn client_writes(
    state: &AppState,
    user: &CurrentUser,
    client_id: ClientId,
    session: &Session,
    ctx: PageCtx,
    id: ServiceId,
    form: Submitted,
    editing: Option<MessageId>,
) -> AppResult<Response> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    let page = format!("/my/services/{id}");
    write_message(
        state,
        session,
        user,
        service,
        form,
        editing,
        page,
        async |e, draft| my_page_with(state, ctx, client_id, id, e, draft).await,
    )
    .await
}

/// A staff member follows a service (its notifications reach them) or stops.
pub async fn follow(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    Path(id): Path<ServiceId>,
) -> AppResult<Response> {
    let service = services::get(&state.db, id).await?;
    inapp::follow(&state.db, service.id, user.id).await?;
    let message = format!("You follow {}: its news reach you.", service.name);
    flash(&session, FlashKind::Success, message).await?;
    Ok(Redirect::to(&format!("/services/{id}")).into_response())
}

pub async fn unfollow(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    Path(id): Path<ServiceId>,
) -> AppResult<Response> {
    let service = services::get(&state.db, id).await?;
    inapp::unfollow(&state.db, service.id, user.id).await?;
    let message = format!("You no longer follow {}.", service.name);
    flash(&session, FlashKind::Success, message).await?;
    Ok(Redirect::to(&format!("/services/{id}")).into_response())
}

/// Staff share files with the client as deliverables, to approve or send back.
pub async fn share_deliverables(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<ServiceId>,
    mut form: Submitted,
) -> AppResult<Response> {
    let service = services::get(&state.db, id).await?;
    let refused = form.refused.take();
    let shared = async {
        if let Some(e) = refused {
            return Err(e);
        }
        if form.files.is_empty() {
            return Err(AppError::invalid(
                files::FIELD,
                "Choose the files to share with the client.",
            ));
        }
        let (db, settings, storage) = (&state.db, &state.config.files, &state.storage);
        let stored = files::accept(db, settings, storage, service.id, form.files, 0).await?;
        let recorded = state
            .db
            .in_transaction(async |txn| {
                files::record(txn, &user, &service, &stored, files::Attach::Deliverable).await
            })
            .await;
        if recorded.is_err() {
            files::remove(&state.storage, &stored).await;
        }
        recorded
    }
    .await;
    settle(
        shared,
        async |shared| {
            let names: Vec<&str> = shared.iter().map(|f| f.name.as_str()).collect();
            let message = format!("Shared with the client: {}.", names.join(", "));
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to(&format!("/services/{id}#deliverables")).into_response())
        },
        async |e| service_page(&state, ctx, id, Some(e), Draft::default()).await,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    comment: String,
}

/// The client approves a deliverable, or sends it back saying what to change.
pub async fn decide(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Path((id, file_id)): Path<(ServiceId, FileId)>,
    Form(form): Form<DecisionForm>,
) -> AppResult<Response> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    let decided = async {
        let approve = match form.decision.as_str() {
            "approve" => true,
            "changes" => false,
            other => {
                return Err(AppError::invalid(
                    "decision",
                    format!("Unknown decision '{other}': approve or changes."),
                ));
            }
        };
        state
            .db
            .in_transaction(async |txn| {
                files::decide(txn, &user, &service, file_id, approve, &form.comment).await
            })
            .await
    }
    .await;
    settle(
        decided,
        async |f| {
            let message = match f.deliverable_state {
                Some(file::DeliverableState::Approved) => {
                    format!("{} is approved. Thank you!", f.name)
                }
                _ => format!("Sent back to the agency with your comment: {}.", f.name),
            };
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to(&format!("/my/services/{id}#deliverables")).into_response())
        },
        async |e| my_page_with(&state, ctx, client_id, id, e, Draft::default()).await,
    )
    .await
}
