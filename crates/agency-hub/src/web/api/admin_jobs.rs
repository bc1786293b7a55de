//! Read-only operations for admins: the job queue (`GET /api/admin/jobs`) and the emails
//! (`GET /api/emails`).

use axum::extract::State;

use super::{CursorParam, ErrorResponse, Paginated, Pagination};
use crate::AppState;
use crate::error::AppResult;
use crate::jobs::{self, JobFilter, JobView};
use crate::web::auth::RequireAdmin;
use crate::web::extract::{PageParams, Query};

#[utoipa::path(
    get,
    path = "/api/admin/jobs",
    tag = "admin",
    summary = "Background jobs, newest first",
    params(
        ("status" = Option<String>, Query, description = "queued, running, done or dead"),
        ("page" = Option<u64>, Query, description = "1-based page number"),
        ("perPage" = Option<u64>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "Go on after this `nextCursor` (stable while rows arrive)"),
    ),
    responses(
        (status = 200, description = "One page of jobs", body = Paginated<JobView>),
        (status = 400, description = "A bad parameter", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    Query(filter): Query<JobFilter>,
    Query(paging): Query<PageParams>,
    Query(cursor): Query<CursorParam>,
) -> AppResult<axum::Json<Paginated<JobView>>> {
    let (page, per_page, after) = cursor.window(&paging, 50, 200)?;
    let (data, total) = jobs::list(&state.db, filter.status()?, after, page, per_page).await?;
    let last = data.last().map(|j| j.id);
    Ok(axum::Json(Paginated {
        data,
        pagination: Pagination::with_next(page, per_page, total, last),
    }))
}

/// An email the app sent or keeps.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailBody {
    pub id: i64,
    /// What it is about (order_confirmation, password_reset, …).
    pub kind: String,
    pub to: String,
    pub subject: String,
    /// queued, sent, stored (no SMTP configured) or failed.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The plain-text body.
    pub text: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct EmailQuery {
    #[serde(default)]
    status: String,
}

#[utoipa::path(
    get,
    path = "/api/emails",
    tag = "admin",
    summary = "Emails, newest first (read only)",
    description = "Admins only. Token scope: `operations:read`.",
    params(
        ("status" = Option<String>, Query, description = "queued, sent, stored or failed"),
        ("page" = Option<u64>, Query, description = "1-based page number"),
        ("perPage" = Option<u64>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "Go on after this `nextCursor` (stable while rows arrive)"),
    ),
    responses(
        (status = 200, description = "One page of emails", body = Paginated<EmailBody>),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
)]
pub async fn emails(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    Query(q): Query<EmailQuery>,
    Query(paging): Query<PageParams>,
    Query(cursor): Query<CursorParam>,
) -> AppResult<axum::Json<Paginated<EmailBody>>> {
    let status = crate::db::entities::email::EmailStatus::filter(&q.status)?;
    let (page, per_page, after) = cursor.window(&paging, 50, 200)?;
    let (rows, total) = crate::notify::list(&state.db, status, after, page, per_page).await?;
    let last = rows.last().map(|e| e.id);
    Ok(axum::Json(Paginated {
        data: rows
            .into_iter()
            .map(|e| EmailBody {
                id: e.id,
                kind: e.kind,
                to: e.to_address,
                subject: e.subject,
                status: e.status.as_str().into(),
                attempts: e.attempts,
                last_error: e.last_error,
                created_at: e.created_at,
                sent_at: e.sent_at,
                text: e.text,
            })
            .collect(),
        pagination: Pagination::with_next(page, per_page, total, last),
    }))
}
