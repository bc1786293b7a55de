//! CSRF protection for HTML forms (a per-session token in a hidden field) and for cookie-
//! authenticated API writes (JSON or multipart content type and a same-origin `Origin`).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::AppState;
use crate::error::{AppError, AppResult};

/// The form field that carries the token.
pub const FIELD: &str = "_csrf";
/// The header that may carry it instead (for scripts).
pub const HEADER: &str = "x-csrf-token";
const SESSION_KEY: &str = "csrf";
/// Forms are small; a larger body is refused before it is read whole.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// This session's token, made on first use.
pub async fn token(session: &Session) -> AppResult<String> {
    if let Some(t) = session.get::<String>(SESSION_KEY).await? {
        return Ok(t);
    }
    renew(session).await
}

/// A new token, after signing in.
pub async fn renew(session: &Session) -> AppResult<String> {
    let t = uuid::Uuid::new_v4().simple().to_string();
    session.insert(SESSION_KEY, &t).await?;
    Ok(t)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn refused() -> Response {
    AppError::forbidden(
        "This form has expired or came from another site. Go back, reload the page and try again.",
    )
    .into_response()
}

/// Every state-changing request outside `/api` must carry the session's token, in the form
/// field or the header. The body is read here and handed on unchanged.
pub async fn guard_forms(session: Session, req: Request, next: Next) -> Response {
    if is_safe(req.method()) || req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let expected = match session.get::<String>(SESSION_KEY).await {
        Ok(Some(t)) => t,
        Ok(None) => return refused(),
        Err(e) => return AppError::from(e).into_response(),
    };
    let (parts, body) = req.into_parts();
    let header_token = parts
        .headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    // A form with files is as large as its files (the outer body limit bounds it).
    let multipart = content_type.starts_with("multipart/form-data");
    let limit = if multipart {
        usize::MAX
    } else {
        MAX_FORM_BYTES
    };
    let bytes = match to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return AppError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "The form is too large.",
            )
            .into_response();
        }
    };
    let sent = match header_token {
        Some(t) => Some(t),
        None if multipart => multipart_token(&content_type, bytes.clone()).await,
        None if content_type.starts_with("application/x-www-form-urlencoded") => {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .ok()
                .and_then(|fields| fields.into_iter().find(|(k, _)| k == FIELD))
                .map(|(_, v)| v)
        }
        None => None,
    };
    match sent {
        Some(sent) if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        _ => {
            tracing::warn!(path = %parts.uri.path(), "form refused: missing or wrong CSRF token");
            refused()
        }
    }
}

/// The token of a form with files: its first field, as our forms put it (the files after it
/// are not read here). `multer` reads the buffered body with no limit of its own: the outer
/// body limit has bounded it already.
async fn multipart_token(content_type: &str, bytes: axum::body::Bytes) -> Option<String> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let body = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes) });
    let mut form = multer::Multipart::new(body, boundary);
    let field = form.next_field().await.ok()??;
    if field.name() != Some(FIELD) {
        return None;
    }
    field.text().await.ok()
}

/// Cookie-authenticated API writes must show they come from our own pages: an `Origin` that is
/// ours, or, without one, a browser's `Sec-Fetch-Site: same-origin` (or `none`, typed by the
/// person). A browser on another site can forge neither, nor send JSON without a CORS preflight
/// (which we never grant); a write that shows neither is refused, so a client outside a browser
/// sends our `Origin`. The Stripe webhook is exempt; its signature authenticates it. So are
/// requests with an API token (`web::auth::bearer` checks it): a browser on another site cannot
/// send an `Authorization` header without a CORS preflight either.
pub async fn guard_api(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if is_safe(req.method()) || !path.starts_with("/api/") || path.starts_with("/api/webhooks/") {
        return next.run(req).await;
    }
    let headers = req.headers();
    let site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    let by_token = super::auth::bearer_token(headers).is_some();
    let ours = by_token
        || match headers.get(header::ORIGIN) {
            Some(origin) => origin.as_bytes() == state.config.app_origin().as_bytes(),
            None => matches!(site, Some(b"same-origin" | b"none")),
        };
    if !ours || (!by_token && site == Some(b"cross-site")) {
        return AppError::forbidden(format!(
            "Requests from another site are refused: a write needs this site's Origin ({}).",
            state.config.app_origin()
        ))
        .into_response();
    }
    // JSON, or files in a multipart form where a write takes files (a service's messages and
    // answers). A form from another site is refused above by its `Origin`.
    let needs_json = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    let takes_files = path.starts_with("/api/services/")
        && (path.ends_with("/messages") || path.ends_with("/answers"));
    let accepted = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/json")
                || (takes_files && ct.starts_with("multipart/form-data"))
        });
    if needs_json && !accepted {
        return AppError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON with Content-Type: application/json (or, with files, as multipart/form-data).",
        )
        .into_response();
    }
    next.run(req).await
}
