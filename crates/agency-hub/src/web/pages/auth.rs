//! The sign-in page and signing out.

use std::net::SocketAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth;
use crate::error::{AppError, AppResult};
use crate::web::auth::start_session;
use crate::web::extract::{Form, Query};
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "pages/login.html")]
pub struct LoginPage {
    ctx: PageCtx,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only a path of this site may follow sign-in; anything else goes to the dashboard.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_string()
        }
        _ => "/dashboard".to_string(),
    }
}

pub async fn show_login(ctx: PageCtx, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if ctx.user.is_some() {
        return Redirect::to(&next).into_response();
    }
    LoginPage {
        ctx,
        email: String::new(),
        next,
        error: None,
    }
    .into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ctx: PageCtx,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let next = safe_next(form.next.as_deref());
    let signed_in = if form.email.trim().is_empty() || form.password.is_empty() {
        Err(AppError::invalid("email", "Enter your email and password."))
    } else {
        let ip = addr.ip().to_string();
        auth::sign_in(&state.db, &form.email, &form.password, &ip)
            .await
            .map_err(AppError::from)
    };
    settle(
        signed_in,
        async |user| {
            start_session(&session, user.id).await?;
            tracing::info!(user.id = user.id.get(), "signed in");
            Ok(Redirect::to(&next).into_response())
        },
        async |e| {
            Ok(LoginPage {
                ctx,
                email: form.email.trim().to_string(),
                next: next.clone(),
                error: Some(e.message),
            })
        },
    )
    .await
}

pub async fn logout(session: Session) -> AppResult<Redirect> {
    session.flush().await?;
    flash(&session, FlashKind::Success, "You have signed out.").await?;
    Ok(Redirect::to("/login"))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_follow_sign_in() {
        assert_eq!(safe_next(Some("/admin/jobs?x=1")), "/admin/jobs?x=1");
        assert_eq!(safe_next(Some("//evil.example")), "/dashboard");
        assert_eq!(safe_next(Some("/\\evil.example")), "/dashboard");
        assert_eq!(safe_next(Some("https://evil.example")), "/dashboard");
        assert_eq!(safe_next(None), "/dashboard");
    }
}
