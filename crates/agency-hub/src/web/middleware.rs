//! Middleware of our own: every error in our envelope (and as a page outside `/api`), panics
//! answered as our 500, the store's feature flag. (CSRF guards live in `web::csrf`.)

use std::any::Any;

use askama::Template;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
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
    /// The request's id, for a failure of ours: what to quote to the agency.
    reference: Option<&'a str>,
    css_href: String,
}

/// Every error answers in our envelope, whoever made it (a rejection of axum's, a method not
/// allowed, the body limit); outside `/api` the envelope becomes a page.
pub async fn error_responses(req: Request, next: Next) -> Response {
    // The readiness probe is for machines too: its 503 stays JSON.
    let is_api = req.uri().path().starts_with("/api/") || req.uri().path() == "/readyz";
    let request_id = req.headers().get("x-request-id").cloned();
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (response, body) = match response.extensions().get::<ErrorBody>().cloned() {
        Some(body) => (response, body),
        // A page of ours that answers an error status (a form shown again with its problem).
        None if is_page(&response) => return response,
        None => envelope(response).await,
    };
    if is_api {
        return response;
    }
    let reference = request_id.as_ref().and_then(|v| v.to_str().ok());
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        message: &body.message,
        reference: reference.filter(|_| status.is_server_error()),
        css_href: super::assets::href("app.css"),
    };
    match page.render() {
        Ok(html) => {
            let mut page = (status, Html(html)).into_response();
            keep_allow(&response, &mut page);
            page
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page");
            response
        }
    }
}

fn is_page(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"))
}

/// An error response of someone else's, in our envelope: its status, a message for people (the
/// short plain-text reason it gave, when it gave one) and the `Allow` of a 405.
async fn envelope(response: Response) -> (Response, ErrorBody) {
    let status = response.status();
    let (parts, body) = response.into_parts();
    let is_text = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    let said = match is_text {
        true => to_bytes(body, 1024)
            .await
            .ok()
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .filter(|s| !s.is_empty()),
        false => None,
    };
    let error = AppError::for_status(status, said);
    let body = error.body();
    let mut ours = error.into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        ours.headers_mut().insert(header::ALLOW, allow.clone());
    }
    (ours, body)
}

fn keep_allow(from: &Response, to: &mut Response) {
    if let Some(allow) = from.headers().get(header::ALLOW) {
        let allow: HeaderValue = allow.clone();
        to.headers_mut().insert(header::ALLOW, allow);
    }
}

/// A handler that panicked answers our plain 500 (the panic hook has logged it).
pub fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    AppError::for_status(StatusCode::INTERNAL_SERVER_ERROR, None).into_response()
}

/// The store's routes exist only while `STORE_ENABLED` is on.
pub async fn store_enabled(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.config.store_enabled {
        next.run(req).await
    } else {
        AppError::not_found().into_response()
    }
}
