//! Every user's own account: their name and password.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::auth::{CurrentUser, parse_name, users};
use crate::error::{AppError, AppResult};
use crate::web::extract::Form;
use crate::web::layout::{PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "pages/account.html")]
pub struct AccountPage {
    ctx: PageCtx,
    user: CurrentUser,
    error: Option<AppError>,
}

pub async fn show(user: CurrentUser, ctx: PageCtx) -> AccountPage {
    AccountPage {
        ctx,
        user,
        error: None,
    }
}

fn refuse(ctx: PageCtx, user: CurrentUser, e: AppError) -> Response {
    (
        e.status,
        AccountPage {
            ctx,
            user,
            error: Some(e),
        },
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct NameFields {
    #[serde(default)]
    name: String,
}

pub async fn rename(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<NameFields>,
) -> AppResult<Response> {
    let name = match parse_name(&f.name) {
        Ok(n) => n,
        Err(m) => return Ok(refuse(ctx, user, AppError::invalid("name", m))),
    };
    state
        .db
        .in_transaction(async |txn| users::rename(txn, &Actor::from(&user), user.id, name).await)
        .await?;
    flash(&session, "success", "Your name was saved.").await?;
    Ok(Redirect::to("/account").into_response())
}

#[derive(Debug, Deserialize)]
pub struct PasswordFields {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<PasswordFields>,
) -> AppResult<Response> {
    if f.new_password != f.confirm_password {
        return Ok(refuse(
            ctx,
            user,
            AppError::invalid("confirm_password", "The two new passwords differ."),
        ));
    }
    match users::change_password(
        &state.db,
        &Actor::from(&user),
        user.id,
        &f.current_password,
        &f.new_password,
    )
    .await
    {
        Ok(()) => {
            flash(&session, "success", "Your password was changed.").await?;
            Ok(Redirect::to("/account").into_response())
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => Ok(refuse(ctx, user, e)),
        Err(e) => Err(e),
    }
}
