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
use crate::db::entities::user::MessageEmail;
use crate::error::{AppError, AppResult};
use crate::web::extract::Form;
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "pages/account.html")]
pub struct AccountPage {
    ctx: PageCtx,
    user: CurrentUser,
    message_email: MessageEmail,
    choices: [MessageEmail; 3],
    error: Option<AppError>,
}

async fn page(
    state: &AppState,
    ctx: PageCtx,
    user: CurrentUser,
    error: Option<AppError>,
) -> AppResult<AccountPage> {
    let message_email = users::get(&state.db, user.id).await?.message_email;
    Ok(AccountPage {
        ctx,
        user,
        message_email,
        choices: MessageEmail::ALL,
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    ctx: PageCtx,
) -> AppResult<AccountPage> {
    page(&state, ctx, user, None).await
}

/// The page again with what was wrong.
async fn again(
    state: &AppState,
    ctx: PageCtx,
    user: CurrentUser,
    e: AppError,
) -> AppResult<AccountPage> {
    page(state, ctx, user, Some(e)).await
}

#[derive(Debug, Deserialize)]
pub struct MessageEmailFields {
    #[serde(default)]
    message_email: String,
}

/// How the person wants emails about new messages.
pub async fn set_message_email(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<MessageEmailFields>,
) -> AppResult<Response> {
    let saved = match MessageEmail::parse(&f.message_email) {
        None => Err(AppError::invalid(
            "message_email",
            format!(
                "Unknown choice '{}': use every, digest or off.",
                f.message_email
            ),
        )),
        Some(choice) => users::set_message_email(&state.db, user.id, choice)
            .await
            .map(|()| choice),
    };
    settle(
        saved,
        async |choice| {
            let message = format!("Saved: {}.", choice.label());
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to("/account").into_response())
        },
        async |e| again(&state, ctx, user, e).await,
    )
    .await
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
        async |e| again(&state, ctx, user, e).await,
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
        async |e| again(&state, ctx, user, e).await,
    )
    .await
}
