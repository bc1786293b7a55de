//! `GET /api/admin/jobs`: the job queue, for admins.

use axum::extract::State;

use super::{Paginated, Pagination};
use crate::AppState;
use crate::auth::RequireAdmin;
use crate::error::AppResult;
use crate::jobs::{self, JobView};
use crate::web::extract::{PageParams, Query};
use crate::web::pages::admin_jobs::JobFilter;

pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    Query(filter): Query<JobFilter>,
    Query(paging): Query<PageParams>,
) -> AppResult<axum::Json<Paginated<JobView>>> {
    let (page, per_page) = (paging.page(), paging.per_page(50, 200));
    let (data, total) = jobs::list(&state.db, filter.status()?, page, per_page).await?;
    Ok(axum::Json(Paginated {
        data,
        pagination: Pagination::new(page, per_page, total),
    }))
}
