//! The admin's Integrations pages: every live API token, the webhook endpoints (add, edit, turn
//! off, roll the secret, delete), each endpoint's delivery log with "resend", and the setting
//! that lets webhooks reach private networks.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::auth::tokens;
use crate::db::entities::{webhook_delivery, webhook_endpoint};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::integrations::webhooks::{self, EVENT_TYPES, EndpointForm};
use crate::web::api::Pagination;
use crate::web::auth::RequireAdmin;
use crate::web::extract::{Form, PageParams, Path, Query};
use crate::web::layout::{FlashKind, PageCtx, flash};
use crate::web::pages::tokens::TokenRow;

#[derive(Template, WebTemplate)]
#[template(path = "admin/integrations.html")]
pub struct IntegrationsPage {
    ctx: PageCtx,
    tokens: Vec<TokenRow>,
    endpoints: Vec<webhook_endpoint::Model>,
    private_networks: bool,
}

/// Every live token with its owner, the webhook endpoints, the private-networks setting.
pub async fn show(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
) -> AppResult<IntegrationsPage> {
    let tokens = tokens::all_live(&state.db)
        .await?
        .into_iter()
        .map(|(t, owner)| TokenRow::new(t, owner))
        .collect();
    Ok(IntegrationsPage {
        ctx,
        tokens,
        endpoints: webhooks::list(&state.db).await?,
        private_networks: crate::agency::webhooks_private_networks(&state.db).await?,
    })
}

pub async fn set_private_networks(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Redirect> {
    let allow = match field(&fields, "allow").as_deref() {
        Some("on") => true,
        Some("off") => false,
        _ => return Err(AppError::invalid("allow", "Choose on or off.")),
    };
    let actor = Actor::from(&admin);
    let said = if allow {
        "Webhooks may now go to private and loopback addresses."
    } else {
        "Webhooks go to public addresses only."
    };
    change_then(
        &state,
        &session,
        async |txn| {
            crate::agency::set_webhooks_private_networks(txn, &state.config, &actor, allow)
                .await
                .map_err(AppError::from)
        },
        said,
        "/admin/integrations",
    )
    .await
}

fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// The endpoint form as typed: `events` once per box ticked.
fn read_form(fields: &[(String, String)]) -> EndpointForm {
    EndpointForm {
        url: field(fields, "url").unwrap_or_default(),
        description: field(fields, "description").unwrap_or_default(),
        events: fields
            .iter()
            .filter(|(k, _)| k == "events")
            .map(|(_, v)| v.clone())
            .collect(),
        enabled: field(fields, "enabled").as_deref() == Some("on"),
    }
}

/// An event type's box on the form.
pub struct EventChoice {
    pub name: &'static str,
    pub meaning: &'static str,
    pub checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/webhook.html")]
pub struct EndpointPage {
    ctx: PageCtx,
    /// None on the "new endpoint" page.
    endpoint: Option<webhook_endpoint::Model>,
    form: EndpointForm,
    choices: Vec<EventChoice>,
    errors: FieldErrors,
    deliveries: Vec<webhook_delivery::Model>,
    pagination: Pagination,
    pager_base: String,
}

impl EndpointPage {
    fn new(ctx: PageCtx, endpoint: Option<webhook_endpoint::Model>, form: EndpointForm) -> Self {
        let choices = EVENT_TYPES
            .iter()
            .map(|(name, meaning)| EventChoice {
                name,
                meaning,
                checked: form.events.iter().any(|e| e == name),
            })
            .collect();
        let pager_base = endpoint
            .as_ref()
            .map(|e| format!("/admin/webhooks/{}?", e.id))
            .unwrap_or_default();
        Self {
            ctx,
            endpoint,
            form,
            choices,
            errors: FieldErrors::default(),
            deliveries: Vec::new(),
            pagination: Pagination::new(1, 1, 0),
            pager_base,
        }
    }

    /// Whether the rotation's previous secret still signs.
    pub fn overlap_until(&self) -> Option<String> {
        let e = self.endpoint.as_ref()?;
        e.previous_secret_expires_at
            .filter(|at| *at > chrono::Utc::now())
            .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
    }
}

pub async fn new(RequireAdmin(_): RequireAdmin, ctx: PageCtx) -> EndpointPage {
    EndpointPage::new(
        ctx,
        None,
        EndpointForm {
            enabled: true,
            ..Default::default()
        },
    )
}

pub async fn create(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    ctx: PageCtx,
    session: Session,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = EndpointForm {
        // The new form has no switch: an endpoint starts on.
        enabled: true,
        ..read_form(&fields)
    };
    let policy = webhooks::policy(&state.db, &state.config).await?;
    let valid = match form.validate(policy, &state.config).await {
        Ok(v) => v,
        Err(errors) => {
            let mut page = EndpointPage::new(ctx, None, form);
            page.errors = errors;
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let actor = Actor::from(&admin);
    let made = state
        .db
        .in_transaction(async |txn| webhooks::create(txn, &actor, valid).await)
        .await?;
    flash(
        &session,
        FlashKind::Success,
        "Endpoint added. Give its signing secret (below) to the receiver to check each delivery.",
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/webhooks/{}", made.id)).into_response())
}

async fn with_log(
    state: &AppState,
    mut page: EndpointPage,
    id: i64,
    paging: &PageParams,
) -> AppResult<EndpointPage> {
    let (number, per_page) = (paging.page()?, paging.per_page(25, 100)?);
    let (rows, total) = webhooks::deliveries(&state.db, id, None, number, per_page).await?;
    page.deliveries = rows;
    page.pagination = Pagination::new(number, per_page, total);
    Ok(page)
}

pub async fn show_endpoint(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
    Path(id): Path<i64>,
    Query(paging): Query<PageParams>,
) -> AppResult<EndpointPage> {
    let endpoint = webhooks::get(&state.db, id).await?;
    let form = EndpointForm::of(&endpoint);
    with_log(
        &state,
        EndpointPage::new(ctx, Some(endpoint), form),
        id,
        &paging,
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    ctx: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let endpoint = webhooks::get(&state.db, id).await?;
    let form = read_form(&fields);
    let policy = webhooks::policy(&state.db, &state.config).await?;
    let valid = match form.validate(policy, &state.config).await {
        Ok(v) => v,
        Err(errors) => {
            let mut page = EndpointPage::new(ctx, Some(endpoint), form);
            page.errors = errors;
            let page = with_log(&state, page, id, &PageParams::default()).await?;
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let actor = Actor::from(&admin);
    Ok(change_then(
        &state,
        &session,
        async |txn| webhooks::update(txn, &actor, id, valid).await,
        "Endpoint saved.",
        &format!("/admin/webhooks/{id}"),
    )
    .await?
    .into_response())
}

/// Makes one change to an endpoint, says so, and goes to `to`.
async fn change_then<T>(
    state: &AppState,
    session: &Session,
    change: impl AsyncFnOnce(&crate::db::Txn) -> AppResult<T>,
    said: &str,
    to: &str,
) -> AppResult<Redirect> {
    state.db.in_transaction(change).await?;
    flash(session, FlashKind::Success, said).await?;
    Ok(Redirect::to(to))
}

pub async fn roll_secret(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    let actor = Actor::from(&admin);
    change_then(
        &state,
        &session,
        async |txn| webhooks::roll_secret(txn, &actor, id).await,
        "New signing secret made. Deliveries carry a signature under the old one too for 24 hours: update the receiver before then.",
        &format!("/admin/webhooks/{id}"),
    )
    .await
}

pub async fn delete(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    let actor = Actor::from(&admin);
    change_then(
        &state,
        &session,
        async |txn| webhooks::delete(txn, &actor, id).await,
        "Endpoint deleted, with its log.",
        "/admin/integrations",
    )
    .await
}

pub async fn resend(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> AppResult<Redirect> {
    let actor = Actor::from(&admin);
    let queued = state
        .db
        .in_transaction(async |txn| webhooks::resend(txn, &actor, id, delivery_id).await)
        .await;
    match queued {
        Ok(d) => {
            let said = format!("Event {} is on its way again.", d.event_id);
            flash(&session, FlashKind::Success, said).await?;
        }
        // Turned off: said on the page, where the switch is.
        Err(e) if e.status == StatusCode::CONFLICT => {
            flash(&session, FlashKind::Error, e.message).await?;
        }
        Err(e) => return Err(e),
    }
    Ok(Redirect::to(&format!("/admin/webhooks/{id}")))
}
