//! The page numbers lists are asked for, bounded: a number past the bound is a 400 naming it,
//! never an offset the database cannot hold.

use crate::error::AppError;

/// The last page a list may be asked for: far past any list's end, and small enough that the
/// offset it makes (times the largest page size) stays well inside the database's integers.
pub const MAX_PAGE: u64 = 100_000;

/// A 1-based page number from 1 to [`MAX_PAGE`] (1 when absent).
pub fn page_number(page: Option<u64>) -> Result<u64, AppError> {
    match page {
        None => Ok(1),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(AppError::invalid(
            "page",
            format!("{n} is not a page number: use 1 to {MAX_PAGE}."),
        )),
    }
}
