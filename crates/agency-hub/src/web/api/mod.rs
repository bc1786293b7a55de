//! The JSON API under `/api`: the same domain functions as the pages, answering JSON.
//! The error envelope and the list shape are described in `docs/API.md`.

pub mod admin_jobs;
pub mod docs;
pub mod orders;
pub mod portal;
pub mod recommendations;
pub mod reviews;
pub mod saved;
pub mod session;
pub mod staff_clients;
pub mod staff_orders;
pub mod staff_services;
pub mod staff_subscriptions;
pub mod staff_templates;
pub mod staff_users;
pub mod staff_webhooks;
pub mod store;
pub mod webhook;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::web::extract::PageParams;
use crate::web::middleware;

/// Every `/api` route, each registered with its `#[utoipa::path]` description: the router and
/// the OpenAPI document come from this one list, so neither can miss a route of the other.
pub fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    // The store's routes answer 404 when STORE_ENABLED=false.
    let store = OpenApiRouter::new()
        .routes(routes!(store::list_services))
        .routes(routes!(store::get_service))
        .routes(routes!(store::get_cart, store::clear_cart))
        .routes(routes!(store::add_item))
        .routes(routes!(store::update_item, store::remove_item))
        .routes(routes!(store::set_answers))
        .routes(routes!(store::apply_code, store::remove_code))
        .routes(routes!(store::checkout))
        .routes(routes!(recommendations::related))
        .routes(routes!(recommendations::for_company))
        .routes(routes!(reviews::list))
        .routes(routes!(reviews::write))
        .routes(routes!(saved::list))
        .routes(routes!(saved::save, saved::remove))
        .routes(routes!(saved::move_from_cart))
        .routes(routes!(orders::list))
        .routes(routes!(orders::get))
        .route_layer(from_fn_with_state(state.clone(), middleware::store_enabled));
    // Writes that may carry files read their body themselves (files up to the outer limit,
    // JSON to the usual 2 MB).
    let uploads = OpenApiRouter::new()
        .routes(routes!(portal::list_messages, portal::post_message))
        .routes(routes!(portal::get_answers, portal::set_answers))
        .layer(DefaultBodyLimit::disable());
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .routes(routes!(session::create, session::delete))
        .routes(routes!(session::me))
        .routes(routes!(admin_jobs::list))
        .routes(routes!(admin_jobs::emails))
        .routes(routes!(staff_clients::list, staff_clients::create))
        .routes(routes!(staff_clients::get, staff_clients::update))
        .routes(routes!(staff_orders::list))
        .routes(routes!(staff_orders::get))
        .routes(routes!(staff_orders::add_note))
        .routes(routes!(staff_orders::refund))
        .routes(routes!(staff_orders::cancel))
        .routes(routes!(staff_orders::rerun))
        .routes(routes!(staff_services::list, staff_services::assign))
        .routes(routes!(staff_services::get, staff_services::set_status))
        .routes(routes!(staff_services::add_task))
        .routes(routes!(
            staff_services::update_task,
            staff_services::delete_task
        ))
        .routes(routes!(staff_templates::list, staff_templates::create))
        .routes(routes!(staff_templates::get, staff_templates::update))
        .routes(routes!(staff_templates::archive))
        .routes(routes!(staff_users::list, staff_users::create))
        .routes(routes!(staff_users::set_active))
        .routes(routes!(staff_subscriptions::list))
        .routes(routes!(staff_subscriptions::get))
        .routes(routes!(staff_subscriptions::act))
        .routes(routes!(staff_webhooks::list, staff_webhooks::create))
        .routes(routes!(
            staff_webhooks::get,
            staff_webhooks::update,
            staff_webhooks::delete
        ))
        .routes(routes!(staff_webhooks::roll_secret))
        .routes(routes!(staff_webhooks::deliveries))
        .routes(routes!(staff_webhooks::resend))
        .routes(routes!(docs::openapi_json))
        .routes(routes!(docs::docs_page))
        .routes(routes!(webhook::receive))
        .merge(uploads)
        .routes(routes!(portal::list_files))
        .routes(routes!(portal::download))
        .routes(routes!(portal::decide))
        .routes(routes!(portal::list_notifications))
        .routes(routes!(portal::read_notification))
        .routes(routes!(portal::read_all))
        .merge(store)
}

/// `?cursor=`: a list read from where the previous page ended (the staff's long lists).
#[derive(Debug, Default, Deserialize)]
pub struct CursorParam {
    /// A `nextCursor` from the previous page.
    pub cursor: Option<String>,
}

impl CursorParam {
    /// The id the cursor names.
    pub fn id(&self) -> AppResult<Option<i64>> {
        match self.cursor.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(raw) => raw.parse::<i64>().map(Some).map_err(|_| {
                AppError::invalid(
                    "cursor",
                    format!("'{raw}' is not a cursor: pass a nextCursor as it came."),
                )
            }),
        }
    }

    /// Which rows to read: `(page, per_page, after)`, where `after` is the cursor's row (the
    /// page is then 1: the list goes on from there, and its total counts what is left).
    pub fn window(
        &self,
        paging: &PageParams,
        default: u64,
        max: u64,
    ) -> AppResult<(u64, u64, Option<i64>)> {
        let after = self.id()?;
        let per_page = paging.per_page(default, max)?;
        let page = if after.is_some() { 1 } else { paging.page()? };
        Ok((page, per_page, after))
    }
}

/// Every error: `{"error": {"code", "message", "field"}}` (see docs/API.md for the codes).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// The shape of every list answer: `{"data": [...], "pagination": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: u64,
    pub per_page: u64,
    pub total_items: u64,
    pub total_pages: u64,
    /// Where a list read by cursor goes on: pass it as `cursor` for the next page (absent on
    /// the last). Stable when rows are added meanwhile, unlike page numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl Pagination {
    pub fn new(page: u64, per_page: u64, total_items: u64) -> Self {
        Self {
            page,
            per_page,
            total_items,
            total_pages: total_items.div_ceil(per_page.max(1)),
            next_cursor: None,
        }
    }

    /// A page of a list that also reads by cursor: its `nextCursor` is the page's last row's id,
    /// when more follows.
    pub fn with_next(page: u64, per_page: u64, total: u64, last: Option<i64>) -> Self {
        let p = Self::new(page, per_page, total);
        let more = p.has_next();
        p.with_cursor(more, last)
    }

    /// Goes on after `last` (the page's last row's id) when another page follows.
    pub fn with_cursor(mut self, has_next: bool, last: Option<i64>) -> Self {
        self.next_cursor = last.filter(|_| has_next).map(|id| id.to_string());
        self
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1
    }

    pub fn has_next(&self) -> bool {
        self.page < self.total_pages
    }
}
