//! Every user's own account: their name and password.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::auth::{CurrentUser, parse_name, users};
use crate::error::{AppError, AppResult};
use crate::web::extract::Form;
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

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

/// The page again with what was wrong.
fn again(ctx: PageCtx, user: CurrentUser, e: AppError) -> AccountPage {
    AccountPage {
        ctx,
        user,
        error: Some(e),
    }
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
    let actor = Actor::from(&user);
    let renamed = match parse_name(&f.name) {
        Err(m) => Err(AppError::invalid("name", m)),
        Ok(name) => {
            state
                .db
                .in_transaction(async |txn| users::rename(txn, &actor, user.id, name).await)
                .await
        }
    };
    state.users.remove(&user.id);
    settle(
        renamed,
        async |_| {
            flash(&session, FlashKind::Success, "Your name was saved.").await?;
            Ok(Redirect::to("/account").into_response())
        },
        async |e| Ok(again(ctx, user, e)),
    )
    .await
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
    let changed = if f.new_password != f.confirm_password {
        Err(AppError::invalid(
            "confirm_password",
            "The two new passwords differ.",
        ))
    } else {
        let this_session = session.id().map(|id| id.to_string());
        users::change_password(
            &state.db,
            &Actor::from(&user),
            user.id,
            this_session.as_deref(),
            &f.current_password,
            &f.new_password,
        )
        .await
    };
    settle(
        changed,
        async |()| {
            flash(&session, FlashKind::Success, "Your password was changed.").await?;
            Ok(Redirect::to("/account").into_response())
        },
        async |e| Ok(again(ctx, user, e)),
    )
    .await
}
