//! The activity log (ADMIN), with filters.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use serde::Deserialize;

use crate::activity::{self, Filter};
use crate::db::entities::activity as entry;
use crate::error::{AppError, AppResult};
use crate::ids::ClientId;
use crate::web::api::Pagination;
use crate::web::auth::RequireAdmin;
use crate::web::extract::{PageParams, Query, optional_id};
use crate::web::layout::PageCtx;
use crate::{AppState, clients};

const PER_PAGE: u64 = 50;
const ENTITY_TYPES: [&str; 5] = ["client", "service", "template", "user", "order"];

#[derive(Debug, Default, Deserialize)]
pub struct ActivityQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    entity: String,
    #[serde(default)]
    client: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/activity.html")]
pub struct ActivityPage {
    ctx: PageCtx,
    entries: Vec<entry::Model>,
    clients: Vec<(ClientId, String)>,
    entity_types: [&'static str; 5],
    action: String,
    entity: String,
    client: Option<ClientId>,
    pagination: Pagination,
    pager_base: String,
}

pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
    Query(q): Query<ActivityQuery>,
    Query(paging): Query<PageParams>,
) -> AppResult<ActivityPage> {
    let action = q.action.trim().to_string();
    let entity = q.entity.trim().to_string();
    if !entity.is_empty() && !ENTITY_TYPES.contains(&entity.as_str()) {
        return Err(AppError::invalid(
            "entity",
            format!("Unknown entity '{entity}'."),
        ));
    }
    let client = optional_id::<ClientId>("client", &q.client)?;
    let filter = Filter {
        action: (!action.is_empty()).then(|| action.clone()),
        entity_type: (!entity.is_empty()).then(|| entity.clone()),
        client_id: client,
        actor_user_id: None,
    };
    let page = paging.page()?;
    let (entries, total) = activity::list(&state.db, &filter, page, PER_PAGE).await?;
    let query = serde_urlencoded::to_string([
        ("action", action.as_str()),
        ("entity", entity.as_str()),
        ("client", q.client.trim()),
    ])
    .unwrap_or_default();
    Ok(ActivityPage {
        ctx,
        entries,
        clients: clients::names(&state.db).await?,
        entity_types: ENTITY_TYPES,
        action,
        entity,
        client,
        pagination: Pagination::new(page, PER_PAGE, total),
        pager_base: format!("/admin/activity?{query}&"),
    })
}
