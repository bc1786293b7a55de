//! Setting a password through the one-time link of a welcome email.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{password, users};
use crate::error::{AppError, AppResult};
use crate::web::extract::{Form, Query};
use crate::web::layout::{PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "pages/set_password.html")]
pub struct SetPasswordPage {
    ctx: PageCtx,
    token: String,
    email: Option<String>,
    error: Option<AppError>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<TokenQuery>,
) -> AppResult<Response> {
    match users::token_user(&state.db, &q.token).await {
        Ok(user) => Ok(SetPasswordPage {
            ctx,
            token: q.token,
            email: Some(user.email),
            error: None,
        }
        .into_response()),
        Err(e) if e.status.is_client_error() => {
            let status = e.status;
            Ok((
                status,
                SetPasswordPage {
                    ctx,
                    token: String::new(),
                    email: None,
                    error: Some(e),
                },
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct SetPasswordFields {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

pub async fn set(
    State(state): State<AppState>,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<SetPasswordFields>,
) -> AppResult<Response> {
    let refuse = |ctx, email, e: AppError| {
        let status: StatusCode = e.status;
        Ok((
            status,
            SetPasswordPage {
                ctx,
                token: f.token.clone(),
                email,
                error: Some(e),
            },
        )
            .into_response())
    };
    let user = match users::token_user(&state.db, &f.token).await {
        Ok(u) => u,
        Err(e) if e.status.is_client_error() => return refuse(ctx, None, e),
        Err(e) => return Err(e),
    };
    if f.new_password != f.confirm_password {
        return refuse(
            ctx,
            Some(user.email),
            AppError::invalid("confirm_password", "The two passwords differ."),
        );
    }
    if let Err(m) = password::validate(&f.new_password) {
        return refuse(ctx, Some(user.email), AppError::invalid("new_password", m));
    }
    let hash = password::hash(f.new_password.clone()).await?;
    let user = state
        .db
        .in_transaction(async |txn| users::set_password_with_token(txn, &f.token, hash).await)
        .await?;
    flash(
        &session,
        "success",
        format!("Your password is set. Sign in as {}.", user.email),
    )
    .await?;
    Ok(Redirect::to("/login").into_response())
}
