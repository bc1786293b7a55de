//! The stored resources and how each renders as Stripe's JSON object.

use serde_json::{Map, Value, json};

use crate::store::Store;

pub type Metadata = Map<String, Value>;

#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    pub created: i64,
    pub updated: i64,
    pub name: String,
    pub active: bool,
    pub description: Option<String>,
    pub images: Vec<String>,
    pub url: Option<String>,
    pub metadata: Metadata,
    /// Stripe Tax's product tax code (`txcd_` and eight digits); `None`: the account's default.
    pub tax_code: Option<String>,
}

impl Product {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "object": "product", "active": self.active, "created": self.created,
            "default_price": null, "description": self.description, "features": [],
            "images": self.images, "livemode": false, "metadata": self.metadata, "name": self.name,
            "package_dimensions": null, "shippable": null, "statement_descriptor": null,
            "tax_code": self.tax_code, "unit_label": null, "updated": self.updated,
            "url": self.url,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Price {
    pub id: String,
    pub created: i64,
    pub product: String,
    pub currency: String,
    pub unit_amount: i64,
    pub active: bool,
    pub nickname: Option<String>,
    pub lookup_key: Option<String>,
    pub metadata: Metadata,
    /// Billed every `interval_count` `interval`s (a subscription's price); `None`: one-time.
    pub recurring: Option<Recurring>,
    /// `exclusive`, `inclusive` or `unspecified` (taxed as exclusive, the account's default).
    pub tax_behavior: String,
}

/// A recurring price's period. Usage is `licensed` (a quantity billed each period): metered
/// usage is refused at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurring {
    /// `day`, `week`, `month` or `year`.
    pub interval: String,
    pub interval_count: i64,
}

impl Recurring {
    pub fn to_json(&self) -> Value {
        json!({
            "aggregate_usage": null, "interval": self.interval,
            "interval_count": self.interval_count, "usage_type": "licensed",
        })
    }
}

impl Price {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "object": "price", "active": self.active, "billing_scheme": "per_unit",
            "created": self.created, "currency": self.currency, "custom_unit_amount": null,
            "livemode": false, "lookup_key": self.lookup_key, "metadata": self.metadata,
            "nickname": self.nickname, "product": self.product,
            "recurring": self.recurring.as_ref().map(Recurring::to_json),
            "tax_behavior": self.tax_behavior, "tiers_mode": null, "transform_quantity": null,
            "type": if self.recurring.is_some() { "recurring" } else { "one_time" },
            "unit_amount": self.unit_amount,
            "unit_amount_decimal": self.unit_amount.to_string(),
        })
    }
}

/// A postal address; every part is optional, as on Stripe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl Address {
    /// From a validated `address` hash (only the parts given are set).
    pub fn from_params(p: &crate::params::Params) -> Self {
        let part = |k: &str| p.str(k).map(str::to_string);
        Self {
            line1: part("line1"),
            line2: part("line2"),
            city: part("city"),
            state: part("state"),
            postal_code: part("postal_code"),
            country: part("country"),
        }
    }

    /// Enough for automatic tax: a country, and for the United States and Canada, where tax
    /// depends on the region, a postal code (or a province for Canada).
    pub fn locates_tax(&self) -> bool {
        let Some(country) = self.country.as_deref() else {
            return false;
        };
        let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        match country.to_ascii_uppercase().as_str() {
            "US" => has(&self.postal_code),
            "CA" => has(&self.postal_code) || has(&self.state),
            _ => !country.trim().is_empty(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "city": self.city, "country": self.country, "line1": self.line1,
            "line2": self.line2, "postal_code": self.postal_code, "state": self.state,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub created: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub address: Option<Address>,
    pub metadata: Metadata,
    /// The number the customer's next finalized invoice gets (`PREFIX-0001`, ...).
    pub next_invoice_sequence: i64,
    /// The card subscriptions and invoices charge unless they name their own.
    pub default_payment_method: Option<String>,
}

impl Customer {
    /// Stripe's per-customer invoice prefix: the first eight letters of the id, in capitals.
    pub fn invoice_prefix(&self) -> String {
        self.id[4..]
            .chars()
            .take(8)
            .collect::<String>()
            .to_uppercase()
    }

    pub fn to_json(&self) -> Value {
        let prefix = self.invoice_prefix();
        json!({
            "id": self.id, "object": "customer",
            "address": self.address.as_ref().map(Address::to_json), "balance": 0,
            "created": self.created, "currency": null, "default_source": null, "delinquent": false,
            "description": self.description, "discount": null, "email": self.email,
            "invoice_prefix": prefix,
            "invoice_settings": {"custom_fields": null, "default_payment_method": self.default_payment_method, "footer": null, "rendering_options": null},
            "livemode": false, "metadata": self.metadata, "name": self.name,
            "next_invoice_sequence": self.next_invoice_sequence, "phone": self.phone, "preferred_locales": [],
            "shipping": null, "tax_exempt": "none", "test_clock": null,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Complete => "complete",
            Self::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Unpaid,
    Paid,
    NoPaymentRequired,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unpaid => "unpaid",
            Self::Paid => "paid",
            Self::NoPaymentRequired => "no_payment_required",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LineItem {
    pub id: String,
    pub price: String,
    pub quantity: i64,
    pub description: String,
    pub currency: String,
    pub amount_subtotal: i64,
    pub amount_discount: i64,
    /// Automatic tax on the line (none without it, or for a product not subject to tax).
    pub taxes: Vec<LineTax>,
    /// The price includes its tax (`tax_behavior=inclusive`): the tax is part of the subtotal,
    /// not added to it.
    pub tax_inclusive: bool,
}

impl LineItem {
    pub fn amount_tax(&self) -> i64 {
        self.taxes.iter().map(|t| t.amount).sum()
    }

    pub fn amount_total(&self) -> i64 {
        let added = if self.tax_inclusive {
            0
        } else {
            self.amount_tax()
        };
        self.amount_subtotal - self.amount_discount + added
    }

    /// The tax it adds to what is paid (none when its price includes it).
    pub fn tax_added(&self) -> i64 {
        if self.tax_inclusive {
            0
        } else {
            self.amount_tax()
        }
    }

    /// `taxes` is includable: only present when asked for with `expand[]=data.taxes`.
    pub fn to_json(&self, store: &Store) -> Value {
        json!({
            "id": self.id, "object": "item", "amount_discount": self.amount_discount,
            "amount_subtotal": self.amount_subtotal, "amount_tax": self.amount_tax(),
            "amount_total": self.amount_total(), "currency": self.currency,
            "description": self.description,
            "price": store.prices.get(&self.price).map(Price::to_json),
            "quantity": self.quantity,
        })
    }

    pub fn taxes_json(&self) -> Value {
        self.taxes.iter().map(LineTax::to_json).collect()
    }
}

/// One tax on a line, as Stripe Tax computed it.
#[derive(Debug, Clone)]
pub struct LineTax {
    pub rate: TaxRate,
    pub amount: i64,
    pub taxable_amount: i64,
}

impl LineTax {
    pub fn to_json(&self) -> Value {
        json!({
            "amount": self.amount, "rate": self.rate.to_json(),
            "taxability_reason": "standard_rated", "taxable_amount": self.taxable_amount,
        })
    }
}

/// A tax rate automatic tax applies: the emulator's one rate, named after the buyer's country.
/// Its id is made of what it is, so the same rate is always the same object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRate {
    pub bps: i64,
    pub inclusive: bool,
    /// The buyer's country (upper case), when known.
    pub country: Option<String>,
}

impl TaxRate {
    pub fn id(&self) -> String {
        format!(
            "txr_auto{}{}{}",
            self.country.as_deref().unwrap_or("xx").to_ascii_lowercase(),
            self.bps,
            if self.inclusive { "i" } else { "e" }
        )
    }

    /// What the tax is called where the buyer is.
    pub fn display_name(&self) -> &'static str {
        match self.country.as_deref() {
            Some("US") => "Sales Tax",
            Some("CA" | "AU" | "NZ" | "SG" | "IN") => "GST",
            Some(_) => "VAT",
            None => "Tax",
        }
    }

    pub fn to_json(&self) -> Value {
        let tax_type = match self.display_name() {
            "Sales Tax" => "sales_tax",
            "GST" => "gst",
            "VAT" => "vat",
            _ => "sales_tax",
        };
        json!({
            "id": self.id(), "object": "tax_rate", "active": true, "country": self.country,
            "created": 0, "description": null, "display_name": self.display_name(),
            "effective_percentage": self.bps as f64 / 100.0, "flat_amount": null,
            "inclusive": self.inclusive, "jurisdiction": self.country,
            "jurisdiction_level": if self.country.is_some() { Some("country") } else { None },
            "livemode": false, "metadata": {}, "percentage": self.bps as f64 / 100.0,
            "rate_type": "percentage", "state": null, "tax_type": tax_type,
        })
    }
}

/// A bank debit that has been submitted and settles later, successfully or not.
#[derive(Debug, Clone, Copy)]
pub struct PendingSettlement {
    pub succeeds: bool,
    /// On the emulator's clock, in milliseconds.
    pub due_ms: i64,
}

/// A Checkout Session's `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMode {
    Payment,
    /// Recurring lines become a subscription; one-time lines are charged on its first invoice.
    Subscription,
}

/// `subscription_data`: what a subscription-mode session's subscription starts with.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionData {
    pub trial_period_days: Option<i64>,
    pub description: Option<String>,
    pub metadata: Metadata,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub mode: SessionMode,
    pub subscription_data: SubscriptionData,
    /// Set when a subscription-mode session completes.
    pub subscription: Option<String>,
    pub invoice: Option<String>,
    /// `if_required` (payment mode) or `always` (subscription mode) when the session was made
    /// without a customer; `None` when it names one.
    pub customer_creation: Option<&'static str>,
    pub created: i64,
    pub expires_at: i64,
    pub status: SessionStatus,
    pub payment_status: PaymentStatus,
    pub currency: String,
    pub line_items: Vec<LineItem>,
    pub success_url: String,
    pub cancel_url: Option<String>,
    pub client_reference_id: Option<String>,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    /// `customer_update[address]=auto`: the address collected is saved onto the customer.
    pub save_address_to_customer: bool,
    /// `billing_address_collection`: `auto` or `required`.
    pub billing_address_collection: Option<String>,
    pub paid_email: Option<String>,
    /// The billing address the customer entered on the page, once paid.
    pub paid_address: Option<Address>,
    pub metadata: Metadata,
    pub payment_intent_metadata: Metadata,
    pub payment_intent_description: Option<String>,
    pub allow_promotion_codes: bool,
    pub automatic_tax: bool,
    /// `tax_id_collection[enabled]`: the page asks for a tax ID, optional.
    pub tax_id_collection: bool,
    /// The tax ID the customer entered, `(type, value)`, once paid.
    pub paid_tax_id: Option<(String, String)>,
    pub promotion_code: Option<String>,
    /// A coupon applied at creation (`discounts[][coupon]`), without a promotion code.
    pub coupon: Option<String>,
    pub payment_intent: Option<String>,
    pub pending_settlement: Option<PendingSettlement>,
    pub url: String,
}

impl Session {
    pub fn amount_subtotal(&self) -> i64 {
        self.line_items.iter().map(|l| l.amount_subtotal).sum()
    }

    pub fn amount_discount(&self) -> i64 {
        self.line_items.iter().map(|l| l.amount_discount).sum()
    }

    pub fn amount_tax(&self) -> i64 {
        self.line_items.iter().map(LineItem::amount_tax).sum()
    }

    pub fn amount_total(&self) -> i64 {
        self.line_items.iter().map(LineItem::amount_total).sum()
    }

    /// Whether the hosted page asks for a billing address: when required, or when automatic tax
    /// is to save the address it needs onto the customer.
    pub fn collects_billing_address(&self) -> bool {
        self.billing_address_collection.as_deref() == Some("required")
            || (self.automatic_tax && self.save_address_to_customer)
    }

    pub fn to_json(&self) -> Value {
        let customer_details = self.paid_email.as_ref().map(|email| {
            json!({
                "address": self.paid_address.as_ref().map(Address::to_json), "email": email,
                "name": null, "phone": null, "tax_exempt": "none",
                "tax_ids": self.paid_tax_id.iter().map(|(t, v)| json!({"type": t, "value": v})).collect::<Vec<_>>(),
            })
        });
        json!({
            "id": self.id, "object": "checkout.session", "after_expiration": null,
            "allow_promotion_codes": self.allow_promotion_codes,
            "amount_subtotal": self.amount_subtotal(), "amount_total": self.amount_total(),
            "automatic_tax": {
                "enabled": self.automatic_tax,
                "status": if self.automatic_tax { Some("complete") } else { None },
            },
            "billing_address_collection": self.billing_address_collection,
            "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id, "consent": null,
            "consent_collection": null, "created": self.created, "currency": self.currency,
            "currency_conversion": null, "custom_fields": [],
            "custom_text": {"shipping_address": null, "submit": null},
            "customer": self.customer,
            "customer_creation": self.customer_creation,
            "customer_details": customer_details, "customer_email": self.customer_email,
            "expires_at": self.expires_at, "invoice": self.invoice, "invoice_creation": null,
            "livemode": false, "locale": null, "metadata": self.metadata,
            "mode": if self.mode == SessionMode::Payment { "payment" } else { "subscription" },
            "payment_intent": self.payment_intent, "payment_link": null,
            "payment_method_collection": "always", "payment_method_options": null,
            "payment_method_types": ["card", "sepa_debit"],
            "payment_status": self.payment_status.as_str(),
            "phone_number_collection": {"enabled": false}, "recovered_from": null,
            "setup_intent": null, "shipping_address_collection": null, "shipping_cost": null,
            "shipping_details": null, "shipping_options": [], "status": self.status.as_str(),
            "submit_type": null, "subscription": self.subscription, "success_url": self.success_url,
            "tax_id_collection": {"enabled": self.tax_id_collection},
            "total_details": {
                "amount_discount": self.amount_discount(), "amount_shipping": 0,
                "amount_tax": self.amount_tax(),
            },
            "url": if self.status == SessionStatus::Open { Some(&self.url) } else { None },
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    Card,
    BankDebit,
}

impl MethodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::BankDebit => "sepa_debit",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PaymentIntent {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub status: &'static str,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
    pub latest_charge: Option<String>,
    pub last_payment_error: Option<Value>,
    pub method: MethodKind,
    pub canceled_at: Option<i64>,
    pub client_secret: String,
    /// The invoice this payment collects (subscriptions); `None` for a Checkout payment.
    pub invoice: Option<String>,
}

impl PaymentIntent {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "object": "payment_intent", "amount": self.amount,
            "amount_capturable": 0, "amount_details": {"tip": {}},
            "amount_received": if self.status == "succeeded" { self.amount } else { 0 },
            "application": null, "application_fee_amount": null,
            "automatic_payment_methods": null, "canceled_at": self.canceled_at,
            "cancellation_reason": if self.canceled_at.is_some() { Some("abandoned") } else { None },
            "capture_method": "automatic", "client_secret": self.client_secret,
            "confirmation_method": "automatic", "created": self.created,
            "currency": self.currency, "customer": self.customer, "description": self.description,
            "invoice": self.invoice, "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge, "livemode": false, "metadata": self.metadata,
            "next_action": null, "on_behalf_of": null, "payment_method": null,
            "payment_method_options": {}, "payment_method_types": [self.method.as_str()],
            "processing": null, "receipt_email": null, "review": null,
            "setup_future_usage": null, "shipping": null, "statement_descriptor": null,
            "statement_descriptor_suffix": null, "status": self.status, "transfer_data": null,
            "transfer_group": null,
        })
    }
}

/// What the customer paid with, as much as a charge shows of it.
#[derive(Debug, Clone)]
pub enum PaidWith {
    Card {
        brand: &'static str,
        last4: String,
        exp_month: i64,
        exp_year: i64,
    },
    BankDebit,
}

#[derive(Debug, Clone)]
pub struct Charge {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub payment_intent: String,
    pub customer: Option<String>,
    pub status: &'static str,
    pub amount_refunded: i64,
    pub failure_code: Option<&'static str>,
    pub failure_message: Option<String>,
    pub decline_code: Option<&'static str>,
    pub email: Option<String>,
    pub billing_address: Option<Address>,
    pub paid_with: PaidWith,
    pub metadata: Metadata,
    pub invoice: Option<String>,
}

impl Charge {
    pub fn remaining(&self) -> i64 {
        self.amount - self.amount_refunded
    }

    pub fn to_json(&self, store: &Store) -> Value {
        let succeeded = self.status == "succeeded";
        let outcome = match self.status {
            "succeeded" => {
                json!({"network_status": "approved_by_network", "reason": null, "risk_level": "normal", "risk_score": 20, "seller_message": "Payment complete.", "type": "authorized"})
            }
            "failed" => {
                json!({"network_status": "declined_by_network", "reason": self.decline_code, "risk_level": "normal", "risk_score": 20, "seller_message": "The bank did not return any further details with this decline.", "type": "issuer_declined"})
            }
            _ => Value::Null,
        };
        let details = match &self.paid_with {
            PaidWith::Card {
                brand,
                last4,
                exp_month,
                exp_year,
            } => json!({"type": "card", "card": {
                "brand": brand, "checks": null, "country": "US", "exp_month": exp_month,
                "exp_year": exp_year, "fingerprint": null, "funding": "credit",
                "installments": null, "last4": last4, "mandate": null, "network": brand,
                "network_token": null, "three_d_secure": null, "wallet": null,
            }}),
            PaidWith::BankDebit => json!({"type": "sepa_debit", "sepa_debit": {
                "bank_code": "37040044", "branch_code": null, "country": "DE",
                "fingerprint": null, "last4": "3000", "mandate": null,
            }}),
        };
        let refunds: Vec<Value> = store
            .refunds
            .values()
            .rev()
            .filter(|r| r.charge == self.id)
            .map(|r| r.to_json())
            .collect();
        json!({
            "id": self.id, "object": "charge", "amount": self.amount,
            "amount_captured": if succeeded { self.amount } else { 0 },
            "amount_refunded": self.amount_refunded, "application": null,
            "application_fee": null, "application_fee_amount": null,
            "balance_transaction": null,
            "billing_details": {
                "address": self.billing_address.as_ref().map(Address::to_json),
                "email": self.email, "name": null, "phone": null,
            },
            "calculated_statement_descriptor": "STRIPE EMULATOR", "captured": succeeded,
            "created": self.created, "currency": self.currency, "customer": self.customer,
            "description": null, "disputed": false, "failure_balance_transaction": null,
            "failure_code": self.failure_code, "failure_message": self.failure_message,
            "fraud_details": {}, "invoice": self.invoice, "livemode": false, "metadata": self.metadata,
            "on_behalf_of": null, "outcome": outcome, "paid": succeeded,
            "payment_intent": self.payment_intent, "payment_method": null,
            "payment_method_details": details, "radar_options": {}, "receipt_email": null,
            "receipt_number": null, "receipt_url": null,
            "refunded": succeeded && self.amount_refunded == self.amount,
            "refunds": {"object": "list", "data": refunds, "has_more": false, "url": format!("/v1/refunds?charge={}", self.id)},
            "review": null, "shipping": null, "source_transfer": null,
            "statement_descriptor": null, "statement_descriptor_suffix": null,
            "status": self.status, "transfer_data": null, "transfer_group": null,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub charge: String,
    pub payment_intent: String,
    pub reason: Option<String>,
    pub metadata: Metadata,
}

impl Refund {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "object": "refund", "amount": self.amount,
            "balance_transaction": null, "charge": self.charge, "created": self.created,
            "currency": self.currency, "metadata": self.metadata,
            "payment_intent": self.payment_intent, "reason": self.reason,
            "receipt_number": null, "source_transfer_reversal": null, "status": "succeeded",
            "transfer_reversal": null,
        })
    }
}

#[derive(Debug, Clone)]
pub enum CouponOff {
    /// Hundredths of a percent, so 12.5 % is 1250.
    Percent(i64),
    Amount {
        minor: i64,
        currency: String,
    },
}

#[derive(Debug, Clone)]
pub struct Coupon {
    pub id: String,
    pub created: i64,
    pub name: Option<String>,
    pub off: CouponOff,
    pub duration: String,
    pub duration_in_months: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub redeem_by: Option<i64>,
    pub times_redeemed: i64,
    pub metadata: Metadata,
    /// `applies_to[products]`: only lines of these products are discounted (`None`: all).
    pub applies_to: Option<Vec<String>>,
    /// An amount coupon's `amount_off` in other currencies (`currency_options`).
    pub currency_options: std::collections::BTreeMap<String, i64>,
}

impl Coupon {
    /// What an amount coupon takes off in `currency`, if it can be used in it.
    pub fn amount_in(&self, currency: &str) -> Option<i64> {
        match &self.off {
            CouponOff::Amount { minor, currency: c } if c == currency => Some(*minor),
            CouponOff::Amount { .. } => self.currency_options.get(currency).copied(),
            CouponOff::Percent(_) => None,
        }
    }

    pub fn applies_to_product(&self, product: Option<&str>) -> bool {
        match &self.applies_to {
            None => true,
            Some(products) => product.is_some_and(|p| products.iter().any(|x| x == p)),
        }
    }

    /// The includable `applies_to` and `currency_options` (`expand[]=applies_to`).
    pub fn includable(&self, field: &str) -> Option<Value> {
        match field {
            "applies_to" => {
                Some(json!({ "products": self.applies_to.clone().unwrap_or_default() }))
            }
            "currency_options" => Some(
                self.currency_options
                    .iter()
                    .map(|(c, minor)| (c.clone(), json!({ "amount_off": minor })))
                    .collect::<Map<String, Value>>()
                    .into(),
            ),
            _ => None,
        }
    }

    pub fn valid(&self, now: i64) -> bool {
        self.max_redemptions.is_none_or(|m| self.times_redeemed < m)
            && self.redeem_by.is_none_or(|t| now < t)
    }

    pub fn to_json(&self, now: i64) -> Value {
        let (percent_off, amount_off, currency) = match &self.off {
            // The wire format has percent_off as a JSON number; the value is exact in
            // hundredths and only converted for display here.
            CouponOff::Percent(h) => (Some(*h as f64 / 100.0), None, None),
            CouponOff::Amount { minor, currency } => (None, Some(*minor), Some(currency.clone())),
        };
        json!({
            "id": self.id, "object": "coupon", "amount_off": amount_off,
            "created": self.created, "currency": currency, "duration": self.duration,
            "duration_in_months": self.duration_in_months, "livemode": false,
            "max_redemptions": self.max_redemptions, "metadata": self.metadata,
            "name": self.name, "percent_off": percent_off, "redeem_by": self.redeem_by,
            "times_redeemed": self.times_redeemed, "valid": self.valid(now),
        })
    }
}

#[derive(Debug, Clone)]
pub struct PromotionCode {
    pub id: String,
    pub created: i64,
    pub code: String,
    pub coupon: String,
    pub active: bool,
    pub max_redemptions: Option<i64>,
    pub expires_at: Option<i64>,
    pub times_redeemed: i64,
    pub minimum_amount: Option<(i64, String)>,
    /// Only for customers without a successful payment yet.
    pub first_time_transaction: bool,
    pub metadata: Metadata,
}

impl PromotionCode {
    pub fn to_json(&self, store: &Store) -> Value {
        let now = store.clock.now();
        json!({
            "id": self.id, "object": "promotion_code", "active": self.active, "code": self.code,
            "coupon": store.coupons.get(&self.coupon).map(|c| c.to_json(now)),
            "created": self.created, "customer": null, "expires_at": self.expires_at,
            "livemode": false, "max_redemptions": self.max_redemptions,
            "metadata": self.metadata,
            "restrictions": {
                "first_time_transaction": self.first_time_transaction,
                "minimum_amount": self.minimum_amount.as_ref().map(|m| m.0),
                "minimum_amount_currency": self.minimum_amount.as_ref().map(|m| m.1.clone()),
            },
            "times_redeemed": self.times_redeemed,
        })
    }
}

#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub id: String,
    pub created: i64,
    pub url: String,
    pub secret: String,
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
}

impl WebhookEndpoint {
    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled_events
            .iter()
            .any(|e| e == "*" || e == event_type)
    }

    /// Stripe shows the secret only in the response that created the endpoint.
    pub fn to_json(&self, with_secret: bool) -> Value {
        let mut v = json!({
            "id": self.id, "object": "webhook_endpoint", "api_version": null,
            "application": null, "created": self.created, "description": self.description,
            "enabled_events": self.enabled_events, "livemode": false,
            "metadata": self.metadata, "status": "enabled", "url": self.url,
        });
        if with_secret {
            v["secret"] = json!(self.secret);
        }
        v
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub created: i64,
    pub kind: String,
    /// The object as it was when the event happened, and what changed.
    pub data: Value,
}
