//! A local, stateful server that speaks the subset of Stripe's API the app uses, serves a hosted
//! checkout page and delivers signed webhooks. Start it in-process with [`Emulator::start`] or
//! run the `stripe-emulator` binary.
//!
//! ```no_run
//! use std::time::Duration;
//! use stripe_emulator::{Config, Emulator, WebhookEndpointConfig};
//!
//! # async fn demo() -> Result<(), stripe_emulator::StartError> {
//! let running = Emulator::start(Config {
//!     webhook_endpoints: vec![WebhookEndpointConfig {
//!         url: "http://127.0.0.1:8080/api/webhooks/stripe".into(),
//!         secret: "whsec_local".into(),
//!     }],
//!     settlement_delay: Duration::from_millis(200),
//!     ..Config::default()
//! })
//! .await?;
//! // Send Stripe requests to running.base_url() instead of https://api.stripe.com,
//! // with any `sk_test_...` key.
//! println!("{}", running.base_url());
//! # Ok(())
//! # }
//! ```

#![recursion_limit = "256"]

mod api;
mod billing;
mod checkout;
mod control;
mod error;
mod model;
pub mod money;
mod page;
mod params;
pub mod schema;
mod store;
pub mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tokio::sync::{mpsc, watch};

pub use params::{Field, Ty};
pub use store::{Attempt, Delivery, DeliveryState};
pub use webhooks::{RetryPolicy, signature_header};

use crate::api::IdempotencyCache;
use crate::model::WebhookEndpoint;
use crate::store::{Store, new_id};

/// Installs ring as the process's TLS crypto provider unless one is installed already. The
/// workspace builds reqwest without a provider of its own, so that a process holds one provider
/// (ring, which lettre and sqlx use too); whoever builds a reqwest client calls this first.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The API version the emulator speaks (that of the OpenAPI description it is checked against).
pub const API_VERSION: &str = "2023-08-16";

/// Automatic tax adds this rate on the discounted amount: 10.00 %, in basis points.
pub const DEFAULT_TAX_RATE_BPS: u32 = 1_000;

/// A receiver of webhooks; it gets every event type.
#[derive(Debug, Clone)]
pub struct WebhookEndpointConfig {
    pub url: String,
    /// The signing secret, conventionally `whsec_...`.
    pub secret: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Port 0 picks a free port; [`Running::base_url`] tells which.
    pub bind: SocketAddr,
    pub webhook_endpoints: Vec<WebhookEndpointConfig>,
    pub retry: RetryPolicy,
    /// How long a bank debit takes to settle (success or failure) after the customer pays.
    pub settlement_delay: Duration,
    /// Tax rate of `automatic_tax[enabled]=true`, in basis points (1000 = 10 %).
    pub tax_rate_bps: u32,
    /// When set, only this secret key is accepted; otherwise any well-formed `sk_test_` key.
    pub api_key: Option<String>,
    /// How often expiry and settlement are checked against the clock.
    pub tick: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            webhook_endpoints: Vec::new(),
            retry: RetryPolicy::default(),
            settlement_delay: Duration::from_secs(10),
            tax_rate_bps: DEFAULT_TAX_RATE_BPS,
            api_key: None,
            tick: Duration::from_millis(250),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// What every handler and background task shares.
pub struct Shared {
    store: Mutex<Store>,
    api_key: Option<String>,
    api_version: String,
    retry: RetryPolicy,
    http: reqwest::Client,
    idempotency: IdempotencyCache,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves data that is still consistent enough for an
        // emulator; refusing every later request would help nobody.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Emulator;

impl Emulator {
    /// Binds, starts serving and returns once requests can be made.
    pub async fn start(config: Config) -> Result<Running, StartError> {
        install_tls_provider();
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let base_url = format!("http://{host}:{}", addr.port());
        let (deliver_tx, deliver_rx) = mpsc::unbounded_channel();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut store = Store::new(
            API_VERSION.to_string(),
            i64::from(config.tax_rate_bps),
            i64::try_from(config.settlement_delay.as_millis()).unwrap_or(i64::MAX),
            base_url.clone(),
            deliver_tx,
        );
        for endpoint in &config.webhook_endpoints {
            insert_endpoint(&mut store, &endpoint.url, &endpoint.secret);
        }
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            api_key: config.api_key.clone(),
            api_version: API_VERSION.to_string(),
            retry: config.retry.clone(),
            // Deliveries go to local receivers: an HTTP proxy from the environment must not intercept them.
            http: reqwest::Client::builder().no_proxy().build()?,
            idempotency: tokio::sync::Mutex::new(HashMap::new()),
            shutdown: shutdown_rx.clone(),
        });
        let app = router(shared.clone());
        let mut server_shutdown = shutdown_rx.clone();
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = server_shutdown.changed().await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "stripe emulator server stopped");
            }
        });
        tokio::spawn(stop_with(
            shutdown_rx.clone(),
            webhooks::dispatch(shared.clone(), deliver_rx),
        ));
        tokio::spawn(stop_with(shutdown_rx, ticker(shared.clone(), config.tick)));
        tracing::info!(%base_url, "stripe emulator listening");
        Ok(Running {
            base_url,
            addr,
            shared,
            shutdown: shutdown_tx,
            server: Some(server),
        })
    }
}

async fn stop_with(mut shutdown: watch::Receiver<bool>, task: impl Future<Output = ()>) {
    tokio::select! {
        () = task => {}
        _ = shutdown.changed() => {}
    }
}

async fn ticker(app: Arc<Shared>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        tick(&mut app.store());
    }
}

/// Runs what the clock makes happen: sessions expire, bank debits settle, subscriptions renew.
fn tick(store: &mut Store) {
    checkout::tick(store);
    billing::renew_due(store);
}

fn insert_endpoint(store: &mut Store, url: &str, secret: &str) -> String {
    let endpoint = WebhookEndpoint {
        id: new_id("we_"),
        created: store.now(),
        url: url.to_string(),
        secret: secret.to_string(),
        enabled_events: vec!["*".to_string()],
        description: None,
        metadata: serde_json::Map::new(),
    };
    let id = endpoint.id.clone();
    store.webhook_endpoints.insert(id.clone(), endpoint);
    id
}

fn router(shared: Arc<Shared>) -> Router {
    let pages = Router::new()
        .route("/c/pay/{id}", get(page::show).post(page::submit))
        .route("/i/{id}", get(page::invoice::show).post(page::invoice::pay))
        .route("/i/{id}/pdf", get(page::invoice::pdf))
        .route(
            "/p/session/{id}",
            get(page::portal::show).post(page::portal::act),
        );
    Router::new()
        .merge(api_routes(&shared))
        .merge(control_routes())
        .merge(pages)
        .layer(from_fn_with_state(shared.clone(), api::stripe_headers))
        .with_state(shared)
}

/// Stripe's `/v1` routes, one per `schema::Op`, behind authentication and idempotency. Over 80
/// lines only because it is one table with a row per operation: kept whole, it reads against
/// `Op::route`.
fn api_routes(shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    use api::{
        billing_portal, checkout_sessions, coupons, customers, events, invoices, payment_intents,
        prices, products, refunds, subscriptions, webhook_endpoints,
    };
    Router::new()
        .route(
            "/v1/products",
            post(products::create_product).get(products::list_products),
        )
        .route(
            "/v1/products/{id}",
            get(products::retrieve_product).post(products::update_product),
        )
        .route(
            "/v1/prices",
            post(prices::create_price).get(prices::list_prices),
        )
        .route(
            "/v1/prices/{id}",
            get(prices::retrieve_price).post(prices::update_price),
        )
        .route(
            "/v1/customers",
            post(customers::create_customer).get(customers::list_customers),
        )
        .route(
            "/v1/customers/{id}",
            get(customers::retrieve_customer).post(customers::update_customer),
        )
        .route(
            "/v1/checkout/sessions",
            post(checkout_sessions::create_session).get(checkout_sessions::list_sessions),
        )
        .route(
            "/v1/checkout/sessions/{id}",
            get(checkout_sessions::retrieve_session),
        )
        .route(
            "/v1/checkout/sessions/{id}/line_items",
            get(checkout_sessions::list_line_items),
        )
        .route(
            "/v1/checkout/sessions/{id}/expire",
            post(checkout_sessions::expire_session),
        )
        .route(
            "/v1/payment_intents",
            get(payment_intents::list_payment_intents),
        )
        .route(
            "/v1/payment_intents/{id}",
            get(payment_intents::retrieve_payment_intent),
        )
        .route("/v1/charges", get(payment_intents::list_charges))
        .route("/v1/charges/{id}", get(payment_intents::retrieve_charge))
        .route(
            "/v1/refunds",
            post(refunds::create_refund).get(refunds::list_refunds),
        )
        .route("/v1/refunds/{id}", get(refunds::retrieve_refund))
        .route(
            "/v1/coupons",
            post(coupons::create_coupon).get(coupons::list_coupons),
        )
        .route("/v1/coupons/{id}", get(coupons::retrieve_coupon))
        .route(
            "/v1/promotion_codes",
            post(coupons::create_promotion_code).get(coupons::list_promotion_codes),
        )
        .route(
            "/v1/promotion_codes/{id}",
            get(coupons::retrieve_promotion_code).post(coupons::update_promotion_code),
        )
        .route("/v1/subscriptions", get(subscriptions::list_subscriptions))
        .route(
            "/v1/subscriptions/{id}",
            get(subscriptions::retrieve_subscription)
                .post(subscriptions::update_subscription)
                .delete(subscriptions::cancel_subscription),
        )
        .route("/v1/invoices", get(invoices::list_invoices))
        .route("/v1/invoices/{id}", get(invoices::retrieve_invoice))
        .route("/v1/invoices/{id}/pay", post(invoices::pay_invoice))
        .route(
            "/v1/payment_methods/{id}",
            get(invoices::retrieve_payment_method),
        )
        .route(
            "/v1/billing_portal/sessions",
            post(billing_portal::create_portal_session),
        )
        .route("/v1/events", get(events::list_events))
        .route("/v1/events/{id}", get(events::retrieve_event))
        .route(
            "/v1/webhook_endpoints",
            post(webhook_endpoints::create_webhook_endpoint)
                .get(webhook_endpoints::list_webhook_endpoints),
        )
        .route(
            "/v1/webhook_endpoints/{id}",
            get(webhook_endpoints::retrieve_webhook_endpoint)
                .delete(webhook_endpoints::delete_webhook_endpoint),
        )
        .route("/v1/{*rest}", axum::routing::any(api::unknown_route))
        .layer(from_fn_with_state(shared.clone(), api::idempotency))
        .layer(from_fn_with_state(shared.clone(), api::authenticate))
}

/// The test controls under `/_emulator/`, which need no key.
fn control_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/deliveries", get(control::list_deliveries))
        .route("/_emulator/events/{id}/resend", post(control::resend_event))
        .route(
            "/_emulator/events/{id}/deliver",
            post(control::deliver_event),
        )
        .route("/_emulator/webhooks/hold", post(control::hold))
        .route("/_emulator/webhooks/release", post(control::release))
        .route(
            "/_emulator/checkout/sessions/{id}/settle",
            post(control::settle),
        )
        .route("/_emulator/clock", get(control::clock))
        .route("/_emulator/clock/advance", post(control::advance_clock))
}

/// A started emulator; dropping it stops the server and its background tasks.
pub struct Running {
    base_url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Where a Stripe client should send requests instead of `https://api.stripe.com`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a receiver of every event; returns its `we_` id.
    pub fn add_webhook_endpoint(&self, url: &str, secret: &str) -> String {
        insert_endpoint(&mut self.shared.store(), url, secret)
    }

    /// Every webhook delivery so far, with its attempts.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.store().deliveries.values().cloned().collect()
    }

    /// Moves the emulator's clock forward and runs expiry, settlement and renewals for the new
    /// time.
    pub fn advance_clock(&self, seconds: i64) {
        let mut store = self.shared.store();
        store.clock.advance(seconds);
        tick(&mut store);
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
