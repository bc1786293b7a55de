//! SeaORM entities, one module a table.

pub mod activity;
pub mod cart;
pub mod cart_item;
pub mod client;
pub mod deliverable_event;
pub mod email;
pub mod file;
pub mod job;
pub mod login_failure;
pub mod message;
pub mod notification;
pub mod order;
pub mod order_item;
pub mod order_note;
pub mod password_token;
pub mod service;
pub mod service_follower;
pub mod service_template;
pub mod session;
pub mod store_event;
pub mod stripe_event;
pub mod subscription;
pub mod subscription_invoice;
pub mod task;
pub mod user;
