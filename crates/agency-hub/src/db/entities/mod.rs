//! SeaORM entities, one module a table.

pub mod client;
pub mod job;
pub mod login_failure;
pub mod service_template;
pub mod session;
pub mod user;
