//! Client companies (ADMIN): list, create, edit.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::clients::{self, ClientForm, ClientRow};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::ids::ClientId;
use crate::money::Currency;
use crate::web::auth::RequireAdmin;
use crate::web::extract::{Form, Path};
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "admin/clients.html")]
pub struct ClientsPage {
    ctx: PageCtx,
    rows: Vec<ClientRow>,
}

pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
) -> AppResult<ClientsPage> {
    Ok(ClientsPage {
        ctx,
        rows: clients::list(&state.db).await?,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/client_form.html")]
pub struct ClientFormPage {
    ctx: PageCtx,
    currencies: Vec<Currency>,
    /// None for a new client.
    id: Option<ClientId>,
    form: ClientForm,
    errors: FieldErrors,
    /// An existing client's whole picture, above its details' form.
    picture: Option<Picture>,
}

/// Everything about a client company in one place: its people, services, orders and what it
/// spent, its subscriptions and the latest messages on its services.
pub struct Picture {
    pub id: ClientId,
    pub name: String,
    pub people: Vec<crate::db::entities::user::Model>,
    pub services: Vec<crate::services::ServiceRow>,
    pub services_total: u64,
    pub orders: Vec<crate::orders::listing::OrderRow>,
    pub orders_total: u64,
    /// Paid less refunded, per currency ("$1,199.00 · €20.00"), or none yet.
    pub spent: String,
    pub subscriptions: Vec<crate::db::entities::subscription::Model>,
    pub messages: Vec<(crate::db::entities::message::Model, String)>,
}

impl Picture {
    /// Nine queries, whatever the company's size: the lists show their latest rows and count
    /// the rest.
    async fn of(state: &AppState, id: ClientId) -> AppResult<Self> {
        use crate::db::entities::{message, service, subscription};
        use sea_orm::sea_query::Query;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        let db = &state.db;
        let client = clients::get(db, id).await?;
        let people = crate::auth::users::people_of(db, id).await?;
        let filter = crate::services::Filter {
            client_id: Some(id),
            ..Default::default()
        };
        let (services, services_total) =
            crate::services::list(db, &filter, crate::services::Audience::Staff, 1, 10).await?;
        let (orders, orders_total) =
            crate::orders::listing::client_page(db, id, false, 1, 10).await?;
        let order_filter = crate::orders::listing::Filter {
            client_id: Some(id),
            ..Default::default()
        };
        let spent: crate::analytics::dashboard::PerCurrency =
            crate::orders::listing::totals(db, &order_filter)
                .await?
                .into_iter()
                .filter(|t| t.paid_minor > 0)
                .map(|t| (t.currency, t.paid_minor - t.refunded_minor))
                .collect();
        let subscriptions = subscription::Entity::find()
            .filter(subscription::Column::ClientId.eq(id))
            .order_by_desc(subscription::Column::Id)
            .limit(10)
            .all(db)
            .await?;
        // The latest messages on its services, staff's internal notes left out.
        let latest = message::Entity::find()
            .filter(
                message::Column::ServiceId.in_subquery(
                    Query::select()
                        .column(service::Column::Id)
                        .from(service::Entity)
                        .and_where(service::Column::ClientId.eq(id))
                        .to_owned(),
                ),
            )
            .filter(message::Column::Internal.eq(false))
            .order_by_desc(message::Column::Id)
            .limit(5)
            .all(db)
            .await?;
        let names: std::collections::HashMap<_, _> = service::Entity::find()
            .filter(service::Column::Id.is_in(latest.iter().map(|m| m.service_id)))
            .all(db)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let messages = latest
            .into_iter()
            .map(|m| {
                let name = names.get(&m.service_id).cloned().unwrap_or_default();
                (m, name)
            })
            .collect();
        Ok(Self {
            id,
            name: client.name,
            people,
            services,
            services_total,
            orders,
            orders_total,
            spent: if spent.is_empty() {
                "nothing yet".into()
            } else {
                crate::analytics::dashboard::show(&spent)
            },
            subscriptions,
            messages,
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct ClientFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    billing_email: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    billing_currency: String,
}

impl From<ClientFields> for ClientForm {
    fn from(f: ClientFields) -> Self {
        Self {
            name: f.name,
            billing_email: f.billing_email,
            notes: f.notes,
            billing_currency: f.billing_currency,
        }
    }
}

pub async fn show_new(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
) -> AppResult<ClientFormPage> {
    // A new company pays in the agency's default currency unless chosen otherwise.
    let currency = crate::agency::default_currency(&state.db).await?;
    Ok(ClientFormPage {
        ctx,
        currencies: Currency::all().collect(),
        id: None,
        form: ClientForm {
            billing_currency: currency.code().to_string(),
            ..ClientForm::default()
        },
        errors: FieldErrors::default(),
        picture: None,
    })
}

pub async fn show_edit(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
    Path(id): Path<ClientId>,
) -> AppResult<ClientFormPage> {
    let client = clients::get(&state.db, id).await?;
    Ok(ClientFormPage {
        ctx,
        currencies: Currency::all().collect(),
        id: Some(id),
        form: ClientForm::from_model(&client),
        errors: FieldErrors::default(),
        picture: Some(Picture::of(&state, id).await?),
    })
}

/// Saves a new client (`id` None) or changes one; bad input shows the form again, 400.
async fn save(
    state: &AppState,
    admin: &crate::auth::CurrentUser,
    session: &Session,
    ctx: PageCtx,
    id: Option<ClientId>,
    form: ClientForm,
) -> AppResult<Response> {
    let actor = Actor::from(admin);
    let saved = match form.validate() {
        Err(errors) => Err(errors.into()),
        Ok(valid) => {
            state
                .db
                .in_transaction(async |txn| match id {
                    None => clients::create(txn, &actor, valid).await,
                    Some(id) => clients::update(txn, &actor, id, valid).await,
                })
                .await
        }
    };
    settle(
        saved,
        async |client| {
            // Its people see prices in its currency from their next page.
            state.billing_currencies.remove(&client.id);
            let message = format!("{} was saved.", client.name);
            flash(session, FlashKind::Success, message).await?;
            Ok(Redirect::to("/admin/clients").into_response())
        },
        async |e| {
            let picture = match id {
                Some(id) => Some(Picture::of(state, id).await?),
                None => None,
            };
            Ok(ClientFormPage {
                ctx,
                currencies: Currency::all().collect(),
                id,
                errors: FieldErrors::of(&e, "name"),
                form,
                picture,
            })
        },
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    Form(mut fields): Form<ClientFields>,
) -> AppResult<Response> {
    // Not chosen: the agency's default.
    if fields.billing_currency.trim().is_empty() {
        let c = crate::agency::default_currency(&state.db).await?;
        fields.billing_currency = c.code().to_string();
    }
    save(&state, &admin, &session, ctx, None, fields.into()).await
}

pub async fn update(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<ClientId>,
    Form(mut fields): Form<ClientFields>,
) -> AppResult<Response> {
    let current = clients::get(&state.db, id).await?;
    // Not sent: kept.
    if fields.billing_currency.trim().is_empty() {
        fields.billing_currency = current.billing_currency.code().to_string();
    }
    save(&state, &admin, &session, ctx, Some(id), fields.into()).await
}

/// The company's data as a ZIP download (see `integrations::export`), logged.
pub async fn export(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<ClientId>,
) -> AppResult<Response> {
    use crate::integrations::export;
    use axum::http::header;
    use std::io::Seek;
    let company = clients::get(&state.db, id).await?;
    let file = export::temp_file().await.map_err(AppError::internal)?;
    let made = export::export(&state.db, &state.config, &state.storage, id, file)
        .await
        .map_err(AppError::internal)?;
    let actor = Actor::from(&admin);
    state
        .db
        .in_transaction(async |txn| {
            export::record(txn, &actor, &company, made.size)
                .await
                .map_err(AppError::from)
        })
        .await?;
    let mut file = made.file;
    let file = tokio::task::spawn_blocking(move || file.rewind().map(|()| file))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(
        tokio::fs::File::from_std(file),
    ));
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_LENGTH, made.size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", made.file_name),
            ),
        ],
        body,
    )
        .into_response())
}
