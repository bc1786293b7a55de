//! Our HTTP client for the few Stripe endpoints we use: form-encoded with Stripe's bracket
//! notation, the pinned `Stripe-Version`, an `Idempotency-Key` on every POST, and retries only
//! where Stripe says they are safe (network errors and 5xx, with the same key). Stripe's objects
//! are read leniently: only the fields we use, unknown ones ignored.
//!
//! Stripe keeps a key for 24 hours per account, whoever sent it. Our ids alone would collide
//! between two installations on one account (staging and production, a database reset or a
//! restored backup), and Stripe would answer the other installation's object or refuse the
//! request. So every key starts with this installation's id (`db::installation_id`) and ends
//! with an attempt id: one per checkout, per customer, per catalog sync job. A retry of one
//! attempt (in `send`, or a job run again) keeps its key, so it never makes a second object.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::StripeSettings;
use crate::error::AppError;
use crate::ids::{ClientId, OrderId, OrderItemId, TemplateId};

/// Why a call to Stripe failed, with a message a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with its error envelope.
    #[error("Stripe refused the request ({status} {kind}, request {}): {message}", request_id.as_deref().unwrap_or("unknown"))]
    Api {
        status: u16,
        kind: String,
        code: Option<String>,
        param: Option<String>,
        message: String,
        /// Stripe's `Request-Id`: what its dashboard and support find the request by.
        request_id: Option<String>,
    },
    /// Stripe could not be reached, or kept failing.
    #[error("Stripe could not be reached: {0}")]
    Network(String),
    /// Stripe answered something we could not read.
    #[error("Stripe's answer could not be read: {0}")]
    Decode(String),
}

#[derive(Deserialize)]
struct Envelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    code: Option<String>,
    param: Option<String>,
    #[serde(default)]
    message: String,
}

/// Stripe's error envelope, or the start of a body that is not one (a proxy's page, say).
fn api_error(status: reqwest::StatusCode, request_id: Option<String>, body: &[u8]) -> StripeError {
    let (kind, code, param, message) = match serde_json::from_slice::<Envelope>(body) {
        Ok(env) => (
            env.error.kind,
            env.error.code,
            env.error.param,
            env.error.message,
        ),
        Err(_) => (
            "api_error".into(),
            None,
            None,
            String::from_utf8_lossy(body).chars().take(300).collect(),
        ),
    };
    StripeError::Api {
        status: status.as_u16(),
        kind,
        code,
        param,
        message,
        request_id,
    }
}

impl StripeError {
    /// What a person is told when `doing` failed, with its cause logged for the admin (Stripe's
    /// message, type and request id). Only a network error or Stripe's own trouble (5xx) is
    /// "could not reach, try again"; a refusal says what kind it is and gives Stripe's request
    /// id as the reference the log line carries. `unchanged` says what was kept ("Your cart is
    /// unchanged."); `for_staff` shows Stripe's own words for a refused request (staff can act
    /// on "amount too large"; a client cannot).
    pub fn into_app_error(self, doing: &str, unchanged: &str, for_staff: bool) -> AppError {
        use axum::http::StatusCode as S;
        let (status, code, message) = match &self {
            Self::Network(_) | Self::Api { status: 500.., .. } => (
                S::BAD_GATEWAY,
                "payment_provider_unavailable",
                format!(
                    "We could not reach the payment provider. {unchanged} Try again in a moment."
                ),
            ),
            Self::Decode(_) => (
                S::BAD_GATEWAY,
                "payment_provider_error",
                format!(
                    "The payment provider answered something we could not read. {unchanged} The agency can find the details in its log."
                ),
            ),
            Self::Api {
                status,
                kind,
                message,
                request_id,
                ..
            } => {
                let reference = request_id.as_deref().unwrap_or("none");
                match (*status, kind.as_str()) {
                    (429, _) => (
                        S::BAD_GATEWAY,
                        "payment_provider_busy",
                        format!("The payment provider is busy. {unchanged} Try again in a moment."),
                    ),
                    (401 | 403, _) => (
                        S::BAD_GATEWAY,
                        "payment_provider_misconfigured",
                        format!(
                            "The payment provider refused this store's credentials, so payments cannot be taken until the agency fixes its settings (reference {reference}). {unchanged}"
                        ),
                    ),
                    (_, "card_error") => (
                        S::PAYMENT_REQUIRED,
                        "payment_declined",
                        format!("The payment was declined: {message} {unchanged}"),
                    ),
                    (_, "idempotency_error") => (
                        S::CONFLICT,
                        "payment_request_conflict",
                        format!(
                            "The payment provider matched this request to an earlier, different one (reference {reference}). {unchanged} Try again."
                        ),
                    ),
                    _ if for_staff => (
                        S::UNPROCESSABLE_ENTITY,
                        "stripe_refused",
                        format!("Stripe refused: {message} (reference {reference}). {unchanged}"),
                    ),
                    _ => (
                        S::BAD_GATEWAY,
                        "payment_provider_refused",
                        format!(
                            "The payment provider refused the request (reference {reference}). {unchanged} The agency can see why in its log."
                        ),
                    ),
                }
            }
        };
        if status == S::BAD_GATEWAY {
            tracing::error!(error = %self, code, "Stripe failed while {doing}");
        } else {
            tracing::warn!(error = %self, code, "Stripe refused while {doing}");
        }
        AppError::new(status, code, message)
    }
}

#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    key: String,
    version: String,
    installation: String,
}

/// A reference Stripe may expand into the object.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

impl<T: HasId> Expandable<T> {
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) => id,
            Self::Object(o) => o.id(),
        }
    }
}

pub trait HasId {
    fn id(&self) -> &str;
}

/// A Checkout Session's line item as paid, with its taxes and its price's product expanded.
#[derive(Clone, Debug, Deserialize)]
pub struct SessionLineItem {
    pub id: String,
    #[serde(default)]
    pub amount_discount: i64,
    #[serde(default)]
    pub amount_tax: i64,
    #[serde(default)]
    pub taxes: Vec<LineTaxAmount>,
    pub price: Option<SessionLinePrice>,
    #[serde(default)]
    pub discounts: Vec<LineDiscount>,
}

/// A discount on a Checkout line, with the promotion code it came from (expanded).
#[derive(Clone, Debug, Deserialize)]
pub struct LineDiscount {
    pub discount: LineDiscountSource,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LineDiscountSource {
    pub promotion_code: Option<Expandable<CodeText>>,
}

/// A promotion code's text (`SPRING24`).
#[derive(Clone, Debug, Deserialize)]
pub struct CodeText {
    pub id: String,
    pub code: String,
}

impl HasId for CodeText {
    fn id(&self) -> &str {
        &self.id
    }
}

/// What a Checkout line is for: an order item (a Product made with the line names it), or a
/// template (the line is of the template's own Product).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineOwner {
    Item(OrderItemId),
    Template(TemplateId),
}

impl SessionLineItem {
    /// Who the line is for, from its product's metadata.
    pub fn owner(&self) -> Option<LineOwner> {
        let Expandable::Object(p) = &self.price.as_ref()?.product else {
            return None;
        };
        let read = |k: &str| p.metadata.get(k).and_then(|v| v.parse::<i64>().ok());
        read("order_item_id")
            .map(|id| LineOwner::Item(OrderItemId(id)))
            .or_else(|| read("template_id").map(|id| LineOwner::Template(TemplateId(id))))
    }

    /// The promotion code behind the line's discount, in our cart or typed on Stripe's page.
    pub fn promotion_code(&self) -> Option<&str> {
        self.discounts
            .iter()
            .find_map(|d| match d.discount.promotion_code.as_ref()? {
                Expandable::Object(p) => Some(p.code.as_str()),
                Expandable::Id(_) => None,
            })
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct SessionLinePrice {
    pub product: Expandable<LineProduct>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LineProduct {
    pub id: String,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

impl HasId for LineProduct {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct LineTaxAmount {
    pub amount: i64,
    pub rate: TaxRate,
}

/// The parts of a tax rate an invoice names.
#[derive(Clone, Debug, Deserialize)]
pub struct TaxRate {
    pub display_name: String,
    pub percentage: f64,
    #[serde(default)]
    pub inclusive: bool,
    #[serde(default)]
    pub jurisdiction: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct TotalDetails {
    #[serde(default)]
    pub amount_discount: i64,
    #[serde(default)]
    pub amount_tax: i64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    #[serde(default)]
    pub payment_method_types: Vec<String>,
}

impl HasId for PaymentIntent {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Where a Checkout Session stands. A value Stripe adds later reads as `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
    #[serde(other)]
    Unknown,
}

/// Whether a Checkout Session's money came in. A value Stripe adds later reads as `Unknown`,
/// which is never taken for paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
    #[serde(other)]
    Unknown,
}

/// The parts of a Checkout Session we read.
#[derive(Clone, Debug, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    pub url: Option<String>,
    pub status: Option<SessionStatus>,
    pub payment_status: SessionPaymentStatus,
    pub amount_subtotal: Option<i64>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub total_details: Option<TotalDetails>,
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub payment_method_types: Vec<String>,
    /// The subscription a `subscription`-mode session started.
    #[serde(default)]
    pub subscription: Option<Expandable<Created>>,
    #[serde(default)]
    pub customer: Option<Expandable<Created>>,
    #[serde(default)]
    pub customer_details: Option<CustomerDetails>,
}

/// What the buyer entered on Checkout's page.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CustomerDetails {
    #[serde(default)]
    pub tax_ids: Vec<CustomerTaxId>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CustomerTaxId {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// A Customer, Product or Price: we keep only the id.
#[derive(Clone, Debug, Deserialize)]
pub struct Created {
    pub id: String,
}

impl HasId for Created {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A change to a subscription (`POST /v1/subscriptions/{id}`, or `DELETE` to cancel now).
/// Quantity changes apply from the next period: `proration_behavior=none`.
#[derive(Clone, Debug)]
pub enum SubscriptionChange {
    CancelAtPeriodEnd(bool),
    Quantity {
        item: String,
        quantity: i64,
    },
    /// `Some(behavior)` pauses collection; `None` resumes it.
    PauseCollection(Option<&'static str>),
    CancelNow,
    /// The item on another Price, from the next period (no proration).
    Price {
        item: String,
        price: String,
    },
}

/// A customer portal session: where to send the client.
#[derive(Clone, Debug, Deserialize)]
pub struct PortalSession {
    pub url: String,
}

/// A saved card, as much as the app shows of it.
#[derive(Clone, Debug, Deserialize)]
pub struct PaymentMethod {
    pub id: String,
    #[serde(default)]
    pub card: Option<CardDetails>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CardDetails {
    pub brand: String,
    pub last4: String,
}

/// A Subscription as its events carry it (the fields the app keeps).
#[derive(Clone, Debug, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub status: String,
    pub customer: Option<String>,
    #[serde(default)]
    pub current_period_start: Option<i64>,
    #[serde(default)]
    pub current_period_end: Option<i64>,
    #[serde(default)]
    pub trial_end: Option<i64>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default)]
    pub canceled_at: Option<i64>,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub pause_collection: Option<PauseCollection>,
    #[serde(default)]
    pub default_payment_method: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    pub items: List<SubscriptionItem>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PauseCollection {
    pub behavior: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SubscriptionItem {
    pub id: String,
    #[serde(default)]
    pub quantity: Option<i64>,
    pub price: LinePrice,
}

/// A price as an invoice line or subscription item shows it.
#[derive(Clone, Debug, Deserialize)]
pub struct LinePrice {
    pub id: String,
    #[serde(default)]
    pub unit_amount: Option<i64>,
    pub currency: String,
    #[serde(default)]
    pub recurring: Option<PriceRecurring>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PriceRecurring {
    pub interval: String,
    #[serde(default = "one")]
    pub interval_count: i64,
}

fn one() -> i64 {
    1
}

/// An Invoice as its events carry it.
#[derive(Clone, Debug, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub status: Option<String>,
    pub number: Option<String>,
    pub billing_reason: Option<String>,
    pub subscription: Option<String>,
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
    pub customer: Option<String>,
    pub currency: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    #[serde(default)]
    pub attempt_count: i64,
    pub hosted_invoice_url: Option<String>,
    pub invoice_pdf: Option<String>,
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    pub created: i64,
    pub lines: List<InvoiceLine>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SubscriptionDetails {
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct InvoiceLine {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub amount: i64,
    pub period: LinePeriod,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub price: Option<LinePrice>,
    #[serde(default)]
    pub subscription_item: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LinePeriod {
    pub start: i64,
    pub end: i64,
}

impl Invoice {
    /// The line of the subscription's period (the first `subscription` line).
    pub fn period_line(&self) -> Option<&InvoiceLine> {
        self.lines.data.iter().find(|l| l.kind == "subscription")
    }

    /// What its subscription lines charge (the rest are one-time lines).
    pub fn recurring_amount(&self) -> i64 {
        self.lines
            .data
            .iter()
            .filter(|l| l.kind == "subscription")
            .map(|l| l.amount)
            .sum()
    }
}

/// A Refund.
#[derive(Clone, Debug, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
}

/// A Charge, as `charge.refunded` carries it: `amount_refunded` is the total refunded so far.
#[derive(Clone, Debug, Deserialize)]
pub struct Charge {
    pub id: String,
    pub payment_intent: Option<String>,
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
}

/// A new attempt id, for an idempotency key.
pub fn new_attempt() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Why a refund is made, in Stripe's words.
pub const REFUND_REASONS: [&str; 3] = ["requested_by_customer", "duplicate", "fraudulent"];

/// What a checkout needs from Stripe.
/// One line of a Checkout Session, priced inline.
#[derive(Clone, Debug)]
pub struct CheckoutLine {
    /// The order item the line is for (a setup fee's line too): on the line's product's
    /// metadata, to find the line's tax and discount after payment.
    pub order_item_id: OrderItemId,
    pub tax_code: Option<String>,
    /// The template's Stripe Product, when it has one: the line is of it (so a coupon limited
    /// to it applies, and its tax code is the Product's); else a Product is made with the line.
    pub product: Option<String>,
    pub name: String,
    pub unit_amount: i64,
    pub quantity: i64,
    /// `(interval, interval_count)` of a recurring line.
    pub recurring: Option<(&'static str, u32)>,
}

/// What a subscription-mode session's subscription starts with.
#[derive(Clone, Debug)]
pub struct SubscriptionTerms {
    pub trial_days: u32,
    /// The recurring order item: copied onto the subscription and its invoices' metadata.
    pub order_item_id: OrderItemId,
}

pub struct NewCheckout<'a> {
    pub order_id: OrderId,
    pub order_number: &'a str,
    pub client_id: ClientId,
    pub customer: Option<&'a str>,
    pub customer_email: Option<&'a str>,
    pub currency: &'a str,
    pub lines: Vec<CheckoutLine>,
    /// For a cart with a recurring line: Checkout in `subscription` mode.
    pub subscription: Option<SubscriptionTerms>,
    pub success_url: String,
    pub cancel_url: String,
    pub allow_promotion_codes: bool,
    pub automatic_tax: bool,
    /// With automatic tax: prices include their tax (`inclusive`), else it is added.
    pub tax_inclusive: bool,
    /// The promotion code applied in our cart (Stripe's id): `discounts`, and then Stripe's
    /// page takes no other code.
    pub promotion_code: Option<String>,
}

impl StripeClient {
    /// A client for `key`, whose idempotency keys start with `installation`.
    pub fn new(
        settings: &StripeSettings,
        key: &str,
        installation: &str,
    ) -> Result<Self, StripeError> {
        super::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StripeError::Network(e.to_string()))?;
        Ok(Self {
            http,
            base: settings.api_base.clone(),
            key: key.to_string(),
            version: settings.api_version.clone(),
            installation: installation.to_string(),
        })
    }

    /// The idempotency key of `what` (which names the request and its attempt).
    pub(super) fn idempotency_key(&self, what: &str) -> String {
        format!("{}-{what}", self.installation)
    }

    /// Points the client somewhere else (the built-in emulator).
    pub fn with_base(mut self, base: &str) -> Self {
        self.base = base.trim_end_matches('/').to_string();
        self
    }

    fn request(
        &self,
        method: &reqwest::Method,
        url: &str,
        params: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let req = self
            .http
            .request(method.clone(), url)
            .bearer_auth(&self.key)
            .header("Stripe-Version", &self.version);
        let req = if method == reqwest::Method::GET {
            req.query(params)
        } else {
            req.form(params)
        };
        match idempotency_key {
            Some(key) => req.header("Idempotency-Key", key),
            None => req,
        }
    }

    pub(super) async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeError> {
        let url = format!("{}{}", self.base, path);
        let mut last = StripeError::Network("no attempt".into());
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 * 3u64.pow(attempt - 1))).await;
            }
            let req = self.request(&method, &url, params, idempotency_key);
            let started = std::time::Instant::now();
            let endpoint = format!("{} {}", method, crate::metrics::stripe_endpoint(path));
            let sent = req.send().await;
            metrics::histogram!(crate::metrics::STRIPE_DURATION, "endpoint" => endpoint.clone())
                .record(started.elapsed().as_secs_f64());
            let outcome = match &sent {
                Ok(r) if r.status().is_success() => "ok",
                Ok(r) if r.status().is_server_error() => "server_error",
                Ok(_) => "refused",
                Err(_) => "unreachable",
            };
            metrics::counter!(crate::metrics::STRIPE_CALLS, "endpoint" => endpoint, "outcome" => outcome)
                .increment(1);
            let res = match sent {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(%path, attempt, error = %e, "Stripe unreachable");
                    last = StripeError::Network(e.to_string());
                    continue;
                }
            };
            let status = res.status();
            let request_id = res
                .headers()
                .get("request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = res
                .bytes()
                .await
                .map_err(|e| StripeError::Network(e.to_string()))?;
            tracing::debug!(%path, status = status.as_u16(), took_ms = started.elapsed().as_millis() as u64, "Stripe call");
            if status.is_success() {
                return serde_json::from_slice(&body)
                    .map_err(|e| StripeError::Decode(format!("{path}: {e}")));
            }
            let err = api_error(status, request_id, &body);
            // Only a server error may be retried (with the same idempotency key).
            if status.is_server_error() {
                last = err;
                continue;
            }
            return Err(err);
        }
        Err(last)
    }

    pub async fn create_customer(
        &self,
        client_id: ClientId,
        name: &str,
        email: Option<&str>,
    ) -> Result<Created, StripeError> {
        let mut p = vec![
            ("name".to_string(), name.to_string()),
            ("metadata[client_id]".to_string(), client_id.to_string()),
        ];
        if let Some(e) = email {
            p.push(("email".into(), e.into()));
        }
        self.send(
            reqwest::Method::POST,
            "/v1/customers",
            &p,
            Some(&self.idempotency_key(&format!("customer-client-{client_id}-{}", new_attempt()))),
        )
        .await
    }

    pub async fn create_checkout_session(
        &self,
        c: &NewCheckout<'_>,
    ) -> Result<CheckoutSession, StripeError> {
        let mode = if c.subscription.is_some() {
            "subscription"
        } else {
            "payment"
        };
        let mut p: Vec<(String, String)> = vec![
            ("mode".into(), mode.into()),
            ("success_url".into(), c.success_url.clone()),
            ("cancel_url".into(), c.cancel_url.clone()),
            ("client_reference_id".into(), c.order_id.to_string()),
            ("metadata[order_id]".into(), c.order_id.to_string()),
            ("metadata[order_number]".into(), c.order_number.to_string()),
            ("metadata[client_id]".into(), c.client_id.to_string()),
            (
                "allow_promotion_codes".into(),
                (c.allow_promotion_codes && c.promotion_code.is_none()).to_string(),
            ),
            ("automatic_tax[enabled]".into(), c.automatic_tax.to_string()),
        ];
        match &c.subscription {
            // Stripe refuses `payment_intent_data` in subscription mode; the subscription and
            // each of its invoices carry the order instead.
            Some(terms) => {
                for (k, v) in [
                    ("order_id", c.order_id.to_string()),
                    ("order_item_id", terms.order_item_id.to_string()),
                    ("client_id", c.client_id.to_string()),
                ] {
                    p.push((format!("subscription_data[metadata][{k}]"), v));
                }
                if terms.trial_days > 0 {
                    p.push((
                        "subscription_data[trial_period_days]".into(),
                        terms.trial_days.to_string(),
                    ));
                }
            }
            None => p.push((
                "payment_intent_data[metadata][order_id]".into(),
                c.order_id.to_string(),
            )),
        }
        if let Some(promo) = &c.promotion_code {
            p.push(("discounts[0][promotion_code]".into(), promo.clone()));
        }
        match (c.customer, c.customer_email) {
            (Some(id), _) => p.push(("customer".into(), id.into())),
            (None, Some(email)) => p.push(("customer_email".into(), email.into())),
            (None, None) => {}
        }
        if c.automatic_tax {
            // Tax needs the buyer's address: Checkout asks for it, and saves it on the Customer
            // (Stripe refuses automatic tax for a Customer without an address otherwise).
            p.push(("billing_address_collection".into(), "required".into()));
            if c.customer.is_some() {
                p.push(("customer_update[address]".into(), "auto".into()));
            }
            p.push(("tax_id_collection[enabled]".into(), "true".into()));
        }
        for (i, line) in c.lines.iter().enumerate() {
            let price = |k: &str| format!("line_items[{i}][price_data][{k}]");
            p.push((
                format!("line_items[{i}][quantity]"),
                line.quantity.to_string(),
            ));
            p.push((price("currency"), c.currency.to_ascii_lowercase()));
            p.push((price("unit_amount"), line.unit_amount.to_string()));
            match &line.product {
                Some(product) => p.push((price("product"), product.clone())),
                None => {
                    p.push((price("product_data][name"), line.name.clone()));
                    p.push((
                        price("product_data][metadata][order_item_id"),
                        line.order_item_id.to_string(),
                    ));
                    if let (true, Some(code)) = (c.automatic_tax, &line.tax_code) {
                        p.push((price("product_data][tax_code"), code.clone()));
                    }
                }
            }
            if c.automatic_tax {
                let behavior = if c.tax_inclusive {
                    "inclusive"
                } else {
                    "exclusive"
                };
                p.push((price("tax_behavior"), behavior.into()));
            }
            if let Some((interval, count)) = line.recurring {
                p.push((price("recurring][interval"), interval.into()));
                p.push((price("recurring][interval_count"), count.to_string()));
            }
        }
        self.send(
            reqwest::Method::POST,
            "/v1/checkout/sessions",
            &p,
            Some(&self.idempotency_key(&format!(
                "checkout-order-{}-{}",
                c.order_id,
                new_attempt()
            ))),
        )
        .await
    }

    /// The template's Product, made once per sync `attempt` (the id is stored after).
    pub async fn create_product(
        &self,
        attempt: &str,
        template_id: TemplateId,
        name: &str,
        description: &str,
        tax_code: Option<&str>,
    ) -> Result<Created, StripeError> {
        let mut p = vec![
            ("name".to_string(), name.to_string()),
            ("metadata[template_id]".to_string(), template_id.to_string()),
        ];
        if let Some(code) = tax_code {
            p.push(("tax_code".into(), code.into()));
        }
        if !description.is_empty() {
            p.push((
                "description".into(),
                description.chars().take(500).collect(),
            ));
        }
        self.send(
            reqwest::Method::POST,
            "/v1/products",
            &p,
            Some(&self.idempotency_key(&format!("product-template-{template_id}-{attempt}"))),
        )
        .await
    }

    pub async fn update_product(
        &self,
        id: &str,
        name: &str,
        active: bool,
        tax_code: Option<&str>,
    ) -> Result<Created, StripeError> {
        let mut p = vec![
            ("name".to_string(), name.to_string()),
            ("active".to_string(), active.to_string()),
        ];
        if let Some(code) = tax_code {
            p.push(("tax_code".into(), code.into()));
        }
        let key = self.idempotency_key(&format!("product-{id}-{active}-{}", new_attempt()));
        self.send(
            reqwest::Method::POST,
            &format!("/v1/products/{id}"),
            &p,
            Some(&key),
        )
        .await
    }

    /// A Price of the product, made once per sync `attempt`: an amount the template had before
    /// gets a new Price (the earlier one is archived), never the earlier answer replayed.
    /// A Price of the template's Product: one-time, or billed every `count` `interval`s.
    pub async fn create_price(
        &self,
        attempt: &str,
        template_id: TemplateId,
        product: &str,
        unit_amount: i64,
        currency: &str,
        recurring: Option<(&str, u32)>,
    ) -> Result<Created, StripeError> {
        let mut p = vec![
            ("product".to_string(), product.to_string()),
            ("unit_amount".to_string(), unit_amount.to_string()),
            ("currency".to_string(), currency.to_ascii_lowercase()),
            ("metadata[template_id]".to_string(), template_id.to_string()),
        ];
        let mut every = String::new();
        if let Some((interval, count)) = recurring {
            p.push(("recurring[interval]".to_string(), interval.to_string()));
            p.push(("recurring[interval_count]".to_string(), count.to_string()));
            every = format!("-{count}{interval}");
        }
        let key = self.idempotency_key(&format!(
            "price-template-{template_id}-{unit_amount}-{}{every}-{attempt}",
            currency.to_ascii_lowercase()
        ));
        self.send(reqwest::Method::POST, "/v1/prices", &p, Some(&key))
            .await
    }

    pub async fn archive_price(&self, id: &str) -> Result<Created, StripeError> {
        let p = vec![("active".to_string(), "false".to_string())];
        self.send(
            reqwest::Method::POST,
            &format!("/v1/prices/{id}"),
            &p,
            Some(&self.idempotency_key(&format!("archive-{id}"))),
        )
        .await
    }

    /// Refunds `amount` of a payment. `key` makes a repeated request (a double click, a retry)
    /// the same refund.
    pub async fn create_refund(
        &self,
        payment_intent: &str,
        amount: i64,
        reason: &str,
        order_id: OrderId,
        key: &str,
    ) -> Result<Refund, StripeError> {
        let p = vec![
            ("payment_intent".to_string(), payment_intent.to_string()),
            ("amount".to_string(), amount.to_string()),
            ("reason".to_string(), reason.to_string()),
            ("metadata[order_id]".to_string(), order_id.to_string()),
        ];
        let key = self.idempotency_key(key);
        self.send(reqwest::Method::POST, "/v1/refunds", &p, Some(&key))
            .await
    }

    /// Changes a subscription; `key` makes a repeated request (a double submit) one change.
    pub async fn change_subscription(
        &self,
        id: &str,
        change: &SubscriptionChange,
        key: &str,
    ) -> Result<Subscription, StripeError> {
        let path = format!("/v1/subscriptions/{id}");
        let key = self.idempotency_key(key);
        let p: Vec<(String, String)> = match change {
            SubscriptionChange::CancelNow => {
                return self
                    .send(reqwest::Method::DELETE, &path, &[], Some(&key))
                    .await;
            }
            SubscriptionChange::CancelAtPeriodEnd(on) => {
                vec![("cancel_at_period_end".into(), on.to_string())]
            }
            SubscriptionChange::Quantity { item, quantity } => vec![
                ("items[0][id]".into(), item.clone()),
                ("items[0][quantity]".into(), quantity.to_string()),
                ("proration_behavior".into(), "none".into()),
            ],
            SubscriptionChange::PauseCollection(Some(behavior)) => {
                vec![("pause_collection[behavior]".into(), behavior.to_string())]
            }
            SubscriptionChange::PauseCollection(None) => {
                vec![("pause_collection".into(), String::new())]
            }
            SubscriptionChange::Price { item, price } => vec![
                ("items[0][id]".into(), item.clone()),
                ("items[0][price]".into(), price.clone()),
                ("proration_behavior".into(), "none".into()),
            ],
        };
        self.send(reqwest::Method::POST, &path, &p, Some(&key))
            .await
    }

    /// Stripe's customer portal for `customer`, coming back to `return_url`.
    pub async fn create_portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<PortalSession, StripeError> {
        let p = vec![
            ("customer".to_string(), customer.to_string()),
            ("return_url".to_string(), return_url.to_string()),
        ];
        let key = self.idempotency_key(&format!("portal-{customer}-{}", new_attempt()));
        self.send(
            reqwest::Method::POST,
            "/v1/billing_portal/sessions",
            &p,
            Some(&key),
        )
        .await
    }

    pub async fn retrieve_payment_method(&self, id: &str) -> Result<PaymentMethod, StripeError> {
        self.send(
            reqwest::Method::GET,
            &format!("/v1/payment_methods/{id}"),
            &[],
            None,
        )
        .await
    }

    pub async fn retrieve_checkout_session(
        &self,
        id: &str,
    ) -> Result<CheckoutSession, StripeError> {
        self.send(
            reqwest::Method::GET,
            &format!("/v1/checkout/sessions/{id}"),
            &[("expand[]".into(), "payment_intent".into())],
            None,
        )
        .await
    }

    /// The session's line items with their taxes and products, every page of them.
    pub async fn checkout_line_items(&self, id: &str) -> Result<Vec<SessionLineItem>, StripeError> {
        self.list_all(
            &format!("/v1/checkout/sessions/{id}/line_items"),
            &[
                "data.taxes",
                "data.price.product",
                "data.discounts.discount.promotion_code",
            ],
            |l: &SessionLineItem| l.id.clone(),
        )
        .await
    }

    /// Every item of a list, 100 a page, each page after the last item of the one before
    /// (`id`), with `expand`.
    pub(super) async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        expand: &[&str],
        id: impl Fn(&T) -> String,
    ) -> Result<Vec<T>, StripeError> {
        #[derive(Deserialize)]
        #[serde(bound = "T: DeserializeOwned")]
        struct Page<T> {
            data: Vec<T>,
            #[serde(default)]
            has_more: bool,
        }
        let mut items: Vec<T> = Vec::new();
        loop {
            let mut params: Vec<(String, String)> = vec![("limit".into(), "100".into())];
            params.extend(expand.iter().map(|e| ("expand[]".into(), e.to_string())));
            if let Some(last) = items.last() {
                params.push(("starting_after".into(), id(last)));
            }
            let page: Page<T> = self.send(reqwest::Method::GET, path, &params, None).await?;
            let more = page.has_more && !page.data.is_empty();
            items.extend(page.data);
            if !more {
                return Ok(items);
            }
        }
    }

    pub async fn expire_checkout_session(&self, id: &str) -> Result<CheckoutSession, StripeError> {
        self.send(
            reqwest::Method::POST,
            &format!("/v1/checkout/sessions/{id}/expire"),
            &[],
            Some(&self.idempotency_key(&format!("expire-{id}"))),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(status: &str, payment_status: &str) -> CheckoutSession {
        serde_json::from_value(serde_json::json!({
            "id": "cs_test_1",
            "status": status,
            "payment_status": payment_status,
        }))
        .unwrap()
    }

    #[test]
    fn session_statuses_read_as_enums_and_new_values_as_unknown() {
        let s = session("complete", "no_payment_required");
        assert_eq!(s.status, Some(SessionStatus::Complete));
        assert_eq!(s.payment_status, SessionPaymentStatus::NoPaymentRequired);
        let s = session("reopened_by_stripe", "paid_in_installments");
        assert_eq!(s.status, Some(SessionStatus::Unknown));
        assert_eq!(s.payment_status, SessionPaymentStatus::Unknown);
    }

    fn refused(status: u16, kind: &str) -> StripeError {
        StripeError::Api {
            status,
            kind: kind.into(),
            code: None,
            param: None,
            message: "Stripe's words.".into(),
            request_id: Some("req_123".into()),
        }
    }

    #[test]
    fn only_an_outage_reads_as_unreachable_and_a_refusal_says_what_kind_it_is() {
        let told = |e: StripeError, staff| {
            let e = e.into_app_error("testing", "Nothing changed.", staff);
            (e.status.as_u16(), e.code, e.message)
        };
        let cases = [
            (
                StripeError::Network("reset".into()),
                502,
                "payment_provider_unavailable",
            ),
            (
                refused(500, "api_error"),
                502,
                "payment_provider_unavailable",
            ),
            (
                refused(429, "rate_limit_error"),
                502,
                "payment_provider_busy",
            ),
            (
                refused(401, "invalid_request_error"),
                502,
                "payment_provider_misconfigured",
            ),
            (refused(402, "card_error"), 402, "payment_declined"),
            (
                refused(400, "idempotency_error"),
                409,
                "payment_request_conflict",
            ),
            (
                refused(400, "invalid_request_error"),
                502,
                "payment_provider_refused",
            ),
        ];
        for (e, status, code) in cases {
            let (s, c, message) = told(e, false);
            assert_eq!((s, c), (status, code), "{message}");
            assert!(message.contains("Nothing changed."), "{message}");
            if status != 502
                || code == "payment_provider_misconfigured"
                || code == "payment_provider_refused"
            {
                assert!(!message.contains("could not reach"), "{message}");
            }
        }
        let (_, _, message) = told(refused(400, "invalid_request_error"), false);
        assert!(message.contains("reference req_123") && !message.contains("Stripe's words"));
        let (status, code, message) = told(refused(400, "invalid_request_error"), true);
        assert_eq!((status, code), (422, "stripe_refused"));
        assert!(message.contains("Stripe's words.") && message.contains("req_123"));
    }
}
