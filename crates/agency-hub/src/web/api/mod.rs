//! The JSON API under `/api`: the same domain functions as the pages, answering JSON.
//! The error envelope and the list shape are described in `docs/API.md`.

pub mod admin_jobs;
pub mod docs;
pub mod orders;
pub mod session;
pub mod store;
pub mod webhook;

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ErrorBody;

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

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: u64,
    pub per_page: u64,
    pub total_items: u64,
    pub total_pages: u64,
}

impl Pagination {
    pub fn new(page: u64, per_page: u64, total_items: u64) -> Self {
        Self {
            page,
            per_page,
            total_items,
            total_pages: total_items.div_ceil(per_page.max(1)),
        }
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1
    }

    pub fn has_next(&self) -> bool {
        self.page < self.total_pages
    }
}
