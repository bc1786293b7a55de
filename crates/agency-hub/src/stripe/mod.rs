//! Stripe: the HTTP client, webhook signatures, checkout, event handling and fulfilment.

pub mod client;
pub mod signature;

pub use client::{StripeClient, StripeError};
