//! The staff's subscriptions: the list (status, client, template, search) and a subscription's
//! page with its invoices, periods and activity; admins cancel (at the period's end or now,
//! confirmed first), resume, and pause or resume collection.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::db::entities::{activity as activity_entity, subscription, subscription_invoice};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, SubscriptionId, TemplateId};
use crate::money::{Currency, Money};
use crate::notify::inapp;
use crate::subscriptions::{self, actions::Change, listing};
use crate::web::api::Pagination;
use crate::web::auth::{RequireAdmin, RequireStaff};
use crate::web::extract::{Form, PageParams, Path, Query};
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    q: String,
}

impl ListQuery {
    /// The list's filter (the page's and the API's).
    pub fn filter(&self) -> AppResult<listing::Filter> {
        listing::Filter::parse(&self.status, &self.client, &self.template, &self.q)
    }

    fn encoded(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("status", &self.status),
            ("client", &self.client),
            ("template", &self.template),
            ("q", &self.q),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.trim()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/subscriptions.html")]
pub struct ListPage {
    ctx: PageCtx,
    q: ListQuery,
    rows: Vec<listing::Row>,
    clients: Vec<(ClientId, String)>,
    templates: Vec<(TemplateId, String)>,
    statuses: [&'static str; 6],
    pagination: Pagination,
    pager_base: String,
}

impl ListPage {
    fn terms(&self, sub: &subscription::Model) -> String {
        subscriptions::terms(sub)
    }

    fn status(&self, sub: &subscription::Model) -> String {
        subscriptions::status_label(sub)
    }
}

pub async fn list(
    State(state): State<AppState>,
    RequireStaff(_): RequireStaff,
    ctx: PageCtx,
    Query(q): Query<ListQuery>,
    Query(paging): Query<PageParams>,
) -> AppResult<ListPage> {
    let filter = q.filter()?;
    let page = paging.page()?;
    let (rows, total) = listing::page(&state.db, &filter, page).await?;
    let templates = listing::recurring_templates(&state.db).await?;
    let encoded = q.encoded();
    Ok(ListPage {
        ctx,
        rows,
        clients: crate::clients::names(&state.db).await?,
        templates,
        statuses: listing::STATUSES,
        pagination: Pagination::new(page, listing::PER_PAGE, total),
        pager_base: if encoded.is_empty() {
            "/admin/subscriptions?".into()
        } else {
            format!("/admin/subscriptions?{encoded}&")
        },
        q,
    })
}

/// A change waiting for the admin's yes.
pub struct Confirm {
    pub action: &'static str,
    pub question: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/subscription.html")]
pub struct ShowPage {
    ctx: PageCtx,
    sub: subscription::Model,
    name: String,
    client_name: String,
    terms: String,
    status: String,
    invoices: Vec<subscription_invoice::Model>,
    activity: Vec<activity_entity::Model>,
    is_admin: bool,
    confirm: Option<Confirm>,
    error: Option<AppError>,
}

impl ShowPage {
    fn money(&self, minor: &i64) -> String {
        Money::new(
            *minor,
            Currency::parse(&self.sub.currency).unwrap_or_default(),
        )
        .display()
    }
}

async fn show_page(
    state: &AppState,
    ctx: PageCtx,
    id: SubscriptionId,
    confirm: Option<Confirm>,
    error: Option<AppError>,
) -> AppResult<ShowPage> {
    let sub = subscriptions::actions::get(&state.db, id).await?;
    let client_name = crate::clients::get(&state.db, sub.client_id).await?.name;
    Ok(ShowPage {
        is_admin: ctx
            .user
            .as_ref()
            .is_some_and(|u| u.role == crate::db::entities::user::Role::Admin),
        ctx,
        name: subscriptions::name_of(&state.db, &sub).await?,
        terms: subscriptions::terms(&sub),
        status: subscriptions::status_label(&sub),
        invoices: subscriptions::invoices_of(&state.db, id).await?,
        activity: crate::activity::for_entity(&state.db, "subscription", id.get(), 50).await?,
        client_name,
        sub,
        confirm,
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    ctx: PageCtx,
    Path(id): Path<SubscriptionId>,
) -> AppResult<ShowPage> {
    let mut page = show_page(&state, ctx, id, None, None).await?;
    // Its news leads here: seen.
    let link = format!("/admin/subscriptions/{id}");
    page.ctx
        .seen(inapp::read_link(&state.db, user.id, &link).await?);
    Ok(page)
}

#[derive(Debug, Default, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    confirm: String,
}

/// `cancel` (at the period's end), `cancel-now` (asked first), `resume`, `pause` (collection:
/// its invoices voided) or `resume-collection`.
pub async fn act(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    ctx: PageCtx,
    session: Session,
    Path((id, action)): Path<(SubscriptionId, String)>,
    Form(form): Form<ActForm>,
) -> AppResult<Response> {
    let change = match action.as_str() {
        "cancel" => Change::CancelAtPeriodEnd,
        "cancel-now" => Change::CancelNow,
        "resume" => Change::Resume,
        "pause" => Change::Collection(Some("void")),
        "resume-collection" => Change::Collection(None),
        _ => return Err(AppError::not_found()),
    };
    let sub = subscriptions::actions::get(&state.db, id).await?;
    if change == Change::CancelNow && form.confirm != "yes" {
        let name = subscriptions::name_of(&state.db, &sub).await?;
        let confirm = Confirm {
            action: "cancel-now",
            question: format!(
                "End {name} now? Nothing more is charged; its service ends today (done if work started, cancelled if not)."
            ),
        };
        let checked = subscriptions::actions::check_change(&state.db, &sub, change).await;
        let error = checked.err();
        let confirm = error.is_none().then_some(confirm);
        return Ok(show_page(&state, ctx, id, confirm, error)
            .await?
            .into_response());
    }
    let done = subscriptions::actions::change(
        &state.db,
        &state.stripe,
        &Actor::from(&admin),
        &sub,
        change,
    )
    .await;
    settle(
        done,
        async |_| {
            let message = match change {
                Change::CancelAtPeriodEnd => "It will end with its period.",
                Change::CancelNow => "Cancelled: it has ended.",
                Change::Resume => "It will renew as before.",
                Change::Collection(Some(_)) => "Collection paused: its invoices are voided.",
                Change::Collection(None) => "Collection resumed.",
                Change::Seats(_) => "Done.",
            };
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to(&format!("/admin/subscriptions/{id}")).into_response())
        },
        async |e| show_page(&state, ctx, id, None, Some(e)).await,
    )
    .await
}
