//! Staff's search across the portal: client companies, people, orders (by number, client or
//! buyer) and services, each list its ten best matches.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use crate::AppState;
use crate::db::contains;
use crate::db::entities::user::Role;
use crate::db::entities::{client, order, service, user};
use crate::error::{AppError, AppResult};
use crate::web::auth::RequireStaff;
use crate::web::extract::Query;
use crate::web::layout::PageCtx;

/// Each list's length.
const EACH: u64 = 10;

#[derive(Template, WebTemplate)]
#[template(path = "search.html")]
pub struct SearchPage {
    ctx: PageCtx,
    q: String,
    is_admin: bool,
    clients: Vec<client::Model>,
    people: Vec<user::Model>,
    orders: Vec<order::Model>,
    services: Vec<service::Model>,
}

impl SearchPage {
    fn found(&self) -> usize {
        self.clients.len() + self.people.len() + self.orders.len() + self.services.len()
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// `LOWER(col) LIKE %q%`.
fn like<C: ColumnTrait>(col: C, q: &str) -> Expr {
    Expr::expr(Func::lower(Expr::col(col))).like(contains(q))
}

pub async fn show(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    ctx: PageCtx,
    Query(query): Query<SearchQuery>,
) -> AppResult<SearchPage> {
    let q = query.q.trim().to_string();
    if q.chars().count() > 100 {
        return Err(AppError::invalid(
            "q",
            "Search with at most 100 characters.",
        ));
    }
    let is_admin = user.role == Role::Admin;
    let mut page = SearchPage {
        ctx,
        q: q.clone(),
        is_admin,
        clients: Vec::new(),
        people: Vec::new(),
        orders: Vec::new(),
        services: Vec::new(),
    };
    if q.is_empty() {
        return Ok(page);
    }
    let db = &state.db;
    page.clients = client::Entity::find()
        .filter(like(client::Column::Name, &q))
        .order_by_asc(client::Column::Name)
        .limit(EACH)
        .all(db)
        .await?;
    // People are an admin's to manage: only admins see them listed.
    if is_admin {
        page.people = user::Entity::find()
            .filter(
                Condition::any()
                    .add(like(user::Column::Name, &q))
                    .add(like(user::Column::Email, &q)),
            )
            .order_by_asc(user::Column::Name)
            .limit(EACH)
            .all(db)
            .await?;
    }
    let client_ids: Vec<_> = page.clients.iter().map(|c| c.id).collect();
    page.orders = order::Entity::find()
        .filter(
            Condition::any()
                .add(like(order::Column::OrderNumber, &q))
                .add(order::Column::ClientId.is_in(client_ids.clone())),
        )
        .order_by_desc(order::Column::Id)
        .limit(EACH)
        .all(db)
        .await?;
    page.services = service::Entity::find()
        .filter(
            Condition::any()
                .add(like(service::Column::Name, &q))
                .add(service::Column::ClientId.is_in(client_ids)),
        )
        .order_by_desc(service::Column::Id)
        .limit(EACH)
        .all(db)
        .await?;
    Ok(page)
}
