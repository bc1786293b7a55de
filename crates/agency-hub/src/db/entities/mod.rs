//! SeaORM entities, one module a table.

pub mod activity;
pub mod client;
pub mod job;
pub mod login_failure;
pub mod service;
pub mod service_template;
pub mod session;
pub mod task;
pub mod user;
