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
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

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
    // A link that expired or was used shows the page with why, in place of the form.
    let (email, error) = match users::token_user(&state.db, &q.token).await {
        Ok(user) => (Some(user.email), None),
        Err(e) if e.is_correctable() => (None, Some(e)),
        Err(e) => return Err(e),
    };
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
    let page = SetPasswordPage {
        ctx,
        token: if email.is_some() {
            q.token
        } else {
            String::new()
        },
        email,
        error,
    };
    Ok((status, page).into_response())
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
    let set = async {
        users::token_user(&state.db, &f.token).await?;
        if f.new_password != f.confirm_password {
            return Err(AppError::invalid(
                "confirm_password",
                "The two passwords differ.",
            ));
        }
        password::validate(&f.new_password).map_err(|m| AppError::invalid("new_password", m))?;
        let hash = password::hash(f.new_password.clone()).await?;
        state
            .db
            .in_transaction(async |txn| users::set_password_with_token(txn, &f.token, hash).await)
            .await
    }
    .await;
    settle(
        set,
        async |user| {
            let message = format!("Your password is set. Sign in as {}.", user.email);
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to("/login").into_response())
        },
        async |e| {
            // The address the link is for, while it still works.
            let email = users::token_user(&state.db, &f.token)
                .await
                .ok()
                .map(|u| u.email);
            Ok(SetPasswordPage {
                ctx,
                token: f.token.clone(),
                email,
                error: Some(e),
            })
        },
    )
    .await
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/forgot_password.html")]
pub struct ForgotPasswordPage {
    ctx: PageCtx,
    email: String,
    /// The address a link was asked for (the form answered).
    sent_to: Option<String>,
    error: Option<AppError>,
}

pub async fn show_forgot(ctx: PageCtx) -> ForgotPasswordPage {
    ForgotPasswordPage {
        ctx,
        email: String::new(),
        sent_to: None,
        error: None,
    }
}

#[derive(Debug, Deserialize)]
pub struct ForgotFields {
    #[serde(default)]
    email: String,
}

/// "Forgot password": the same answer whether or not an account has the address, so the form
/// tells no one who has an account.
pub async fn forgot(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(f): Form<ForgotFields>,
) -> AppResult<Response> {
    let email = f.email.trim().to_string();
    let asked = users::request_reset(&state.db, &email).await;
    let (status, page) = match asked {
        Ok(_) => (
            StatusCode::OK,
            ForgotPasswordPage {
                ctx,
                email: String::new(),
                sent_to: Some(email),
                error: None,
            },
        ),
        Err(e) if e.is_correctable() => (
            e.status,
            ForgotPasswordPage {
                ctx,
                email,
                sent_to: None,
                error: Some(e),
            },
        ),
        Err(e) => return Err(e),
    };
    Ok((status, page).into_response())
}
