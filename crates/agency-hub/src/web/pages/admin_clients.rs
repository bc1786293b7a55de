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
use crate::error::{AppResult, FieldErrors};
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
            Ok(ClientFormPage {
                ctx,
                currencies: Currency::all().collect(),
                id,
                errors: FieldErrors::of(&e, "name"),
                form,
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
