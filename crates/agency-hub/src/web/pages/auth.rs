//! The sign-in page and signing out.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;
use url::Url;

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

/// Only a path of this site may follow sign-in; anything else goes to the dashboard. A browser
/// reads a tab, a newline or a backslash in a path in ways of its own (`/\t/evil.example` is
/// `//evil.example` to it), so any of them refuses the path outright; what is left must resolve,
/// against the app's own address, to the same origin.
fn safe_next(app_url: &Url, next: Option<&str>) -> String {
    const HOME: &str = "/dashboard";
    let Some(next) = next else {
        return HOME.into();
    };
    if !next.starts_with('/') || next.chars().any(|c| c.is_control() || c == '\\') {
        return HOME.into();
    }
    match app_url.join(next) {
        Ok(url) if url.origin() == app_url.origin() && !next.starts_with("//") => {
            let mut path = url.path().to_string();
            if let Some(q) = url.query() {
                path.push('?');
                path.push_str(q);
            }
            path
        }
        _ => HOME.into(),
    }
}

pub async fn show_login(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(&state.config.app_url, q.next.as_deref());
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
    client: crate::web::proxy::ClientAddr,
    ctx: PageCtx,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let next = safe_next(&state.config.app_url, form.next.as_deref());
    let signed_in = if form.email.trim().is_empty() || form.password.is_empty() {
        Err(AppError::invalid("email", "Enter your email and password."))
    } else {
        let ip = client.ip.to_string();
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
        let app = url::Url::parse("https://portal.example.com").unwrap();
        let next = |n| safe_next(&app, Some(n));
        assert_eq!(next("/admin/jobs?x=1"), "/admin/jobs?x=1");
        assert_eq!(next("/store/orders/7"), "/store/orders/7");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/\t/evil.example",
            "/\t\t/evil.example",
            "/\n/evil.example",
            "/dashboard\r\nSet-Cookie: x=1",
            "///evil.example",
            "evil.example",
            "",
        ] {
            assert_eq!(next(bad), "/dashboard", "{bad:?} was followed");
        }
        assert_eq!(safe_next(&app, None), "/dashboard");
    }
}
