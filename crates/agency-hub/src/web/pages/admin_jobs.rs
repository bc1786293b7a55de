//! The admin's view of the job queue: what waits, what failed and why; retry a dead job.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::Redirect;
use tower_sessions::Session;

use crate::AppState;
use crate::db::entities::job::JobStatus;
use crate::error::AppResult;
use crate::jobs::{self, JobFilter, JobView};
use crate::web::api::Pagination;
use crate::web::auth::RequireAdmin;
use crate::web::extract::{PageParams, Path, Query};
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "admin/jobs.html")]
pub struct JobsPage {
    ctx: PageCtx,
    jobs: Vec<JobView>,
    status: String,
    pagination: Pagination,
    pager_base: String,
}

pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
    Query(filter): Query<JobFilter>,
    Query(paging): Query<PageParams>,
) -> AppResult<JobsPage> {
    let status = filter.status()?;
    let (page, per_page) = (paging.page()?, paging.per_page(50, 200)?);
    let (jobs, total) = jobs::list(&state.db, status, None, page, per_page).await?;
    let status = status
        .map(JobStatus::as_str)
        .unwrap_or_default()
        .to_string();
    let pager_base = if status.is_empty() {
        "/admin/jobs?".to_string()
    } else {
        format!("/admin/jobs?status={status}&")
    };
    Ok(JobsPage {
        ctx,
        jobs,
        status,
        pagination: Pagination::new(page, per_page, total),
        pager_base,
    })
}

pub async fn retry(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    if jobs::retry(&state.db, id).await? {
        tracing::info!(
            job.id = id,
            user.id = admin.id.get(),
            "dead job put back on the queue"
        );
        flash(
            &session,
            FlashKind::Success,
            format!("Job {id} is queued again."),
        )
        .await?;
    } else {
        flash(
            &session,
            FlashKind::Error,
            format!("Job {id} is not dead, so there is nothing to retry."),
        )
        .await?;
    }
    Ok(Redirect::to("/admin/jobs"))
}
