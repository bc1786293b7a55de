//! Drives the emulator over real HTTP the way a Stripe client and a browser would.

mod api;
mod checkout;
mod conformance;
mod discounts;
mod helpers;
mod lists;
mod subscriptions;
mod tax;
mod webhooks;
