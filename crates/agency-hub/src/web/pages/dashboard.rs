//! The dashboard: staff see the agency at a glance, a client sees their company's work.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::db::entities::{client, service_template, user, user::Role};
use crate::error::AppResult;
use crate::web::layout::PageCtx;

pub struct CategoryCount {
    pub category: String,
    pub templates: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/dashboard.html")]
pub struct DashboardPage {
    ctx: PageCtx,
    user: CurrentUser,
    /// The client's company (client users only).
    company: Option<String>,
    clients: u64,
    client_users: u64,
    categories: Vec<CategoryCount>,
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    ctx: PageCtx,
) -> AppResult<DashboardPage> {
    let mut page = DashboardPage {
        ctx,
        company: None,
        clients: 0,
        client_users: 0,
        categories: Vec::new(),
        user: user.clone(),
    };
    if user.role == Role::Client {
        if let Some(client_id) = user.client_id {
            page.company = client::Entity::find_by_id(client_id)
                .one(&state.db)
                .await?
                .map(|c| c.name);
        }
        return Ok(page);
    }
    page.clients = client::Entity::find().count(&state.db).await?;
    page.client_users = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Client))
        .count(&state.db)
        .await?;
    let rows: Vec<(String, i64)> = service_template::Entity::find()
        .select_only()
        .column(service_template::Column::Category)
        .column_as(service_template::Column::Id.count(), "n")
        .filter(service_template::Column::ArchivedAt.is_null())
        .group_by(service_template::Column::Category)
        .order_by_asc(service_template::Column::Category)
        .into_tuple()
        .all(&state.db)
        .await?;
    page.categories = rows
        .into_iter()
        .map(|(category, templates)| CategoryCount {
            category,
            templates,
        })
        .collect();
    Ok(page)
}
