//! Users (ADMIN): list, create, reset a password, deactivate or reactivate.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::auth::password;
use crate::auth::users::{self, UserForm, UserRow};
use crate::clients;
use crate::db::entities::user;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::ids::{ClientId, UserId};
use crate::web::api::Pagination;
use crate::web::auth::RequireAdmin;
use crate::web::extract::{Form, PageParams, Path, Query, bool_field};
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

const PER_PAGE: u64 = 50;

#[derive(Template, WebTemplate)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    ctx: PageCtx,
    rows: Vec<UserRow>,
    pagination: Pagination,
    pager_base: String,
}

pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
    Query(paging): Query<PageParams>,
) -> AppResult<UsersPage> {
    let page = paging.page()?;
    let (rows, total) = users::list(&state.db, None, page, PER_PAGE).await?;
    Ok(UsersPage {
        ctx,
        rows,
        pagination: Pagination::new(page, PER_PAGE, total),
        pager_base: "/admin/users?".into(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/user_new.html")]
pub struct NewUserPage {
    ctx: PageCtx,
    form: UserForm,
    clients: Vec<(ClientId, String)>,
    errors: FieldErrors,
}

pub async fn show_new(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
) -> AppResult<NewUserPage> {
    Ok(NewUserPage {
        ctx,
        form: UserForm {
            role: "CLIENT".into(),
            ..Default::default()
        },
        clients: clients::names(&state.db).await?,
        errors: FieldErrors::default(),
    })
}

#[derive(Debug, Deserialize)]
pub struct UserFields {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    password: String,
}

pub async fn create(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<UserFields>,
) -> AppResult<Response> {
    let form = UserForm {
        email: f.email,
        name: f.name,
        role: f.role,
        client_id: f.client_id,
        password: f.password,
    };
    let created = async {
        let valid = form.validate()?;
        // Without a password from the admin, an unusable random one until the user sets
        // theirs through the welcome email's link.
        let hash = match valid.password.clone() {
            Some(chosen) => password::hash(chosen).await?,
            None => password::unusable_hash().await?,
        };
        state
            .db
            .in_transaction(async |txn| {
                users::create_and_welcome(txn, &Actor::from(&admin), valid, hash).await
            })
            .await
    }
    .await;
    settle(
        created,
        async |user| {
            let message = format!("{} can now sign in as {}.", user.name, user.email);
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to(&format!("/admin/users/{}", user.id)).into_response())
        },
        async |e| {
            Ok(NewUserPage {
                ctx,
                form: UserForm {
                    password: String::new(),
                    ..form
                },
                clients: clients::names(&state.db).await?,
                errors: FieldErrors::of(&e, "email"),
            })
        },
    )
    .await
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/user_show.html")]
pub struct UserPage {
    ctx: PageCtx,
    user: user::Model,
    client_name: Option<String>,
    is_me: bool,
    error: Option<AppError>,
}

async fn user_page(
    state: &AppState,
    ctx: PageCtx,
    me: UserId,
    id: UserId,
    error: Option<AppError>,
) -> AppResult<UserPage> {
    let user = users::get(&state.db, id).await?;
    let client_name = match user.client_id {
        Some(c) => Some(clients::get(&state.db, c).await?.name),
        None => None,
    };
    Ok(UserPage {
        ctx,
        is_me: user.id == me,
        user,
        client_name,
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    ctx: PageCtx,
    Path(id): Path<UserId>,
) -> AppResult<UserPage> {
    user_page(&state, ctx, admin.id, id, None).await
}

#[derive(Debug, Deserialize)]
pub struct PasswordFields {
    #[serde(default)]
    password: String,
}

pub async fn reset_password(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<UserId>,
    Form(f): Form<PasswordFields>,
) -> AppResult<Response> {
    users::get(&state.db, id).await?;
    let reset = async {
        password::validate(&f.password)
            .map_err(|m| AppError::invalid("password", format!("New password: {m}")))?;
        let hash = password::hash(f.password).await?;
        state
            .db
            .in_transaction(async |txn| {
                users::reset_password(txn, &Actor::from(&admin), id, hash).await
            })
            .await
    }
    .await;
    settle(
        reset,
        async |user| {
            let message = format!(
                "{}'s password was changed; their sessions were ended.",
                user.name
            );
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
        },
        async |e| user_page(&state, ctx, admin.id, id, Some(e)).await,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct ActiveFields {
    #[serde(default)]
    active: String,
}

pub async fn set_active(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<UserId>,
    Form(f): Form<ActiveFields>,
) -> AppResult<Response> {
    let active = bool_field("active", &f.active)?;
    let changed = state
        .db
        .in_transaction(async |txn| users::set_active(txn, &Actor::from(&admin), id, active).await)
        .await;
    settle(
        changed,
        async |user| {
            let message = if active {
                format!("{} can sign in again.", user.name)
            } else {
                format!("{} is deactivated and signed out everywhere.", user.name)
            };
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
        },
        async |e| user_page(&state, ctx, admin.id, id, Some(e)).await,
    )
    .await
}
