//! Stripe: our HTTP client, webhook signatures, the events' decoding and the catalog's sync.
//! What an event means for an order is decided in `orders` (dispatched by `stripe_events`).

pub mod catalog;
pub mod client;
pub mod events;
pub mod promotions;
pub mod signature;

pub use client::{StripeClient, StripeError};

/// Installs ring as the process's TLS crypto provider unless one is installed already.
/// reqwest is built without a provider of its own so that the process holds one (ring, which
/// lettre and sqlx use too): every reqwest client is built after this.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
