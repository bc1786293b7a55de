//! Server-rendered pages.

pub mod account;
pub mod admin_activity;
pub mod admin_clients;
pub mod admin_emails;
pub mod admin_experiments;
pub mod admin_jobs;
pub mod admin_metrics;
pub mod admin_orders;
pub mod admin_promotions;
pub mod admin_reviews;
pub mod admin_settings;
pub mod admin_subscriptions;
pub mod admin_templates;
pub mod admin_users;
pub mod auth;
pub mod dashboard;
pub mod files;
pub mod integrations;
pub mod notifications;
pub mod orders;
pub mod password;
pub mod saved;
pub mod search;
pub mod services;
pub mod store;
pub mod subscriptions;
pub mod tokens;

use axum::response::Redirect;

/// `/` leads to the dashboard (which leads to sign-in when needed).
pub async fn home() -> Redirect {
    Redirect::to("/dashboard")
}
