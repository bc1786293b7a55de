//! `GET /api/admin/jobs`: the job queue, for admins.

use axum::extract::State;

use super::{ErrorResponse, Paginated, Pagination};
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
) -> AppResult<axum::Json<Paginated<JobView>>> {
    let (page, per_page) = (paging.page()?, paging.per_page(50, 200)?);
    let (data, total) = jobs::list(&state.db, filter.status()?, page, per_page).await?;
    Ok(axum::Json(Paginated {
        data,
        pagination: Pagination::new(page, per_page, total),
    }))
}
