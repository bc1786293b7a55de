//! Server-rendered pages.

pub mod admin_jobs;
pub mod auth;
pub mod dashboard;

use axum::response::Redirect;

/// `/` leads to the dashboard (which leads to sign-in when needed).
pub async fn home() -> Redirect {
    Redirect::to("/dashboard")
}
