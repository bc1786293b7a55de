//! Integration tests: the real app over HTTP on a real database. They run on SQLite, and on
//! PostgreSQL when `TEST_DATABASE_URL` is set, without being written twice.

mod admin;
mod auth;
mod browser;
mod bundles;
mod checkout;
mod cli;
mod conversations;
mod currencies;
mod email;
mod faults;
mod files;
mod fixtures;
mod hardening;
mod harness;
mod intake;
mod jobs;
mod live;
mod metrics;
mod observability;
mod orders;
mod portal_api;
mod promotions;
mod purchase;
mod search;
mod services;
mod settings;
mod smtp;
mod store;
mod stripe_calls;
mod subscriptions;
mod tasks;
mod tax;
mod together;
mod web;
mod wishlist;
