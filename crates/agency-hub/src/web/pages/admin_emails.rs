//! The admin's Emails page: what was sent, stored or failed, each email's rendering, and
//! resending a failed one.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::db::entities::email::{self, EmailStatus};
use crate::error::AppResult;
use crate::notify;
use crate::web::api::Pagination;
use crate::web::auth::RequireAdmin;
use crate::web::extract::{PageParams, Path, Query};
use crate::web::layout::{FlashKind, PageCtx, flash};

const PER_PAGE: u64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct StatusQuery {
    #[serde(default)]
    status: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/emails.html")]
pub struct EmailsPage {
    ctx: PageCtx,
    emails: Vec<email::Model>,
    status: String,
    sends: bool,
    pagination: Pagination,
    pager_base: String,
}

pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
    Query(q): Query<StatusQuery>,
    Query(paging): Query<PageParams>,
) -> AppResult<EmailsPage> {
    let status = EmailStatus::filter(&q.status)?;
    let page = paging.page()?;
    let (emails, total) = notify::list(&state.db, status, None, page, PER_PAGE).await?;
    let status = status
        .map(EmailStatus::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(EmailsPage {
        ctx,
        emails,
        pager_base: format!("/admin/emails?status={status}&"),
        status,
        sends: state.mailer.sends(),
        pagination: Pagination::new(page, PER_PAGE, total),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/email_show.html")]
pub struct EmailPage {
    ctx: PageCtx,
    email: email::Model,
}

pub async fn show(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
    Path(id): Path<i64>,
) -> AppResult<EmailPage> {
    Ok(EmailPage {
        ctx,
        email: notify::get(&state.db, id).await?,
    })
}

/// The HTML part as the recipient's mail program would show it, in a sandbox: no script, no
/// form, nothing of the app's origin.
pub async fn html(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let email = notify::get(&state.db, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'",
            ),
        ],
        email.html,
    )
        .into_response())
}

pub async fn resend(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    session: Session,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    notify::get(&state.db, id).await?;
    if state
        .db
        .in_transaction(async |txn| notify::resend(txn, id).await)
        .await?
    {
        flash(
            &session,
            FlashKind::Success,
            format!("Email {id} is queued again."),
        )
        .await?;
    } else {
        flash(
            &session,
            FlashKind::Error,
            format!("Email {id} has not failed, so there is nothing to resend."),
        )
        .await?;
    }
    Ok(Redirect::to(&format!("/admin/emails/{id}")))
}
