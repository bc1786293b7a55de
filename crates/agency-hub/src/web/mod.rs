//! HTTP: the router, middleware, the page layout, pages and the JSON API. Handlers are thin:
//! parse, authorize, call the domain, render.

pub mod api;
pub mod assets;
pub mod auth;
pub mod csrf;
pub mod extract;
pub mod form;
pub mod health;
pub mod layout;
pub mod metrics;
pub mod middleware;
pub mod pages;
pub mod proxy;
pub mod rate;
pub mod router;
