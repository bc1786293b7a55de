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
}

impl From<ClientFields> for ClientForm {
    fn from(f: ClientFields) -> Self {
        Self {
            name: f.name,
            billing_email: f.billing_email,
            notes: f.notes,
        }
    }
}

pub async fn show_new(RequireAdmin(_): RequireAdmin, ctx: PageCtx) -> ClientFormPage {
    ClientFormPage {
        ctx,
        id: None,
        form: ClientForm::default(),
        errors: FieldErrors::default(),
    }
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
            let message = format!("{} was saved.", client.name);
            flash(session, FlashKind::Success, message).await?;
            Ok(Redirect::to("/admin/clients").into_response())
        },
        async |e| {
            Ok(ClientFormPage {
                ctx,
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
    Form(fields): Form<ClientFields>,
) -> AppResult<Response> {
    save(&state, &admin, &session, ctx, None, fields.into()).await
}

pub async fn update(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<ClientId>,
    Form(fields): Form<ClientFields>,
) -> AppResult<Response> {
    clients::get(&state.db, id).await?;
    save(&state, &admin, &session, ctx, Some(id), fields.into()).await
}
