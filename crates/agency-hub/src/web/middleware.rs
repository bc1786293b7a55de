//! Middleware of our own: error pages for HTML routes, the store's feature flag. (CSRF guards
//! live in `auth::csrf`.)

use askama::Template;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::AppState;
use crate::error::{AppError, ErrorBody};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    css_href: String,
}

/// Outside `/api`, an error answers with a page instead of the JSON envelope.
pub async fn html_errors(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    if is_api {
        return response;
    }
    let Some(body) = response.extensions().get::<ErrorBody>().cloned() else {
        return response;
    };
    let status = response.status();
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        message: &body.message,
        css_href: super::assets::href("app.css"),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page");
            response
        }
    }
}

/// The store's routes exist only while `STORE_ENABLED` is on.
pub async fn store_enabled(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.config.store_enabled {
        next.run(req).await
    } else {
        AppError::not_found().into_response()
    }
}
