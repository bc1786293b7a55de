//! Billing's stored resources (saved cards, subscriptions, invoices, portal sessions) and how each
//! renders as Stripe's JSON object.

use serde_json::{Value, json};

use crate::model::{Metadata, Recurring};
use crate::store::{Store, list_json};

/// A card saved on a customer by a subscription-mode checkout, the portal or an invoice page.
#[derive(Debug, Clone)]
pub struct PaymentMethod {
    pub id: String,
    pub created: i64,
    pub customer: Option<String>,
    pub email: Option<String>,
    pub brand: &'static str,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    /// The full test number, never shown: it decides whether later charges succeed.
    pub number: String,
}

impl PaymentMethod {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "object": "payment_method",
            "billing_details": {"address": null, "email": self.email, "name": null, "phone": null},
            "card": {
                "brand": self.brand, "checks": null, "country": "US",
                "exp_month": self.exp_month, "exp_year": self.exp_year, "fingerprint": null,
                "funding": "credit", "generated_from": null, "last4": self.last4,
                "networks": null, "three_d_secure_usage": null, "wallet": null,
            },
            "created": self.created, "customer": self.customer, "livemode": false,
            "metadata": {}, "type": "card",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    PastDue,
    Canceled,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SubscriptionItem {
    pub id: String,
    pub created: i64,
    pub price: String,
    pub quantity: i64,
}

/// `pause_collection[behavior]`: what happens to the invoices of a paused subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseBehavior {
    KeepAsDraft,
    MarkUncollectible,
    Void,
}

impl PauseBehavior {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keep_as_draft" => Some(Self::KeepAsDraft),
            "mark_uncollectible" => Some(Self::MarkUncollectible),
            "void" => Some(Self::Void),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeepAsDraft => "keep_as_draft",
            Self::MarkUncollectible => "mark_uncollectible",
            Self::Void => "void",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub created: i64,
    pub customer: String,
    pub currency: String,
    pub status: SubscriptionStatus,
    pub items: Vec<SubscriptionItem>,
    /// Every item's price bills on this period (Checkout refuses mixed intervals).
    pub recurring: Recurring,
    /// Periods are counted from here, so a month's length never drifts (31 Jan, 28 Feb, 31 Mar).
    pub billing_cycle_anchor: i64,
    pub current_period_start: i64,
    pub current_period_end: i64,
    /// How many whole periods after the anchor the current one ends.
    pub periods: i64,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub trial_start: Option<i64>,
    pub trial_end: Option<i64>,
    pub pause_collection: Option<PauseBehavior>,
    pub default_payment_method: Option<String>,
    pub latest_invoice: Option<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
}

impl Subscription {
    pub fn to_json(&self, store: &Store) -> Value {
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|item| {
                json!({
                    "id": item.id, "object": "subscription_item", "billing_thresholds": null,
                    "created": item.created, "metadata": {},
                    "price": store.prices.get(&item.price).map(crate::model::Price::to_json),
                    "quantity": item.quantity, "subscription": self.id, "tax_rates": [],
                })
            })
            .collect();
        let pause = self
            .pause_collection
            .map(|b| json!({"behavior": b.as_str(), "resumes_at": null}));
        json!({
            "id": self.id, "object": "subscription", "application": null,
            "application_fee_percent": null, "automatic_tax": {"enabled": false},
            "billing_cycle_anchor": self.billing_cycle_anchor, "billing_thresholds": null,
            "cancel_at": if self.cancel_at_period_end { Some(self.current_period_end) } else { None },
            "cancel_at_period_end": self.cancel_at_period_end,
            "canceled_at": self.canceled_at, "cancellation_details": null,
            "collection_method": "charge_automatically", "created": self.created,
            "currency": self.currency, "current_period_end": self.current_period_end,
            "current_period_start": self.current_period_start, "customer": self.customer,
            "days_until_due": null, "default_payment_method": self.default_payment_method,
            "default_source": null, "default_tax_rates": [], "description": self.description,
            "discount": null, "ended_at": self.ended_at,
            "items": list_json(items, &format!("/v1/subscription_items?subscription={}", self.id), false),
            "latest_invoice": self.latest_invoice, "livemode": false, "metadata": self.metadata,
            "next_pending_invoice_item_invoice": null, "on_behalf_of": null,
            "pause_collection": pause, "payment_settings": null,
            "pending_invoice_item_interval": null, "pending_setup_intent": null,
            "pending_update": null, "schedule": null, "start_date": self.created,
            "status": self.status.as_str(), "test_clock": null, "transfer_data": null,
            "trial_end": self.trial_end, "trial_settings": null, "trial_start": self.trial_start,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    Draft,
    Open,
    Paid,
    Uncollectible,
    Void,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Uncollectible => "uncollectible",
            Self::Void => "void",
        }
    }
}

/// One line of an invoice: a subscription item's period, or a one-time charge.
#[derive(Debug, Clone)]
pub struct InvoiceLine {
    pub id: String,
    pub price: String,
    pub quantity: i64,
    pub description: String,
    /// Before discount and tax.
    pub amount: i64,
    pub discount: i64,
    pub tax: i64,
    pub period_start: i64,
    pub period_end: i64,
    /// The subscription item billed; `None` for a one-time line (`type: invoiceitem`).
    pub subscription_item: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Invoice {
    pub id: String,
    pub created: i64,
    pub customer: String,
    pub subscription: Option<String>,
    pub currency: String,
    pub number: Option<String>,
    pub status: InvoiceStatus,
    /// `subscription_create`, `subscription_cycle` or `subscription_update`.
    pub billing_reason: &'static str,
    pub lines: Vec<InvoiceLine>,
    pub period_start: i64,
    pub period_end: i64,
    pub attempt_count: i64,
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    pub finalized_at: Option<i64>,
    pub paid_at: Option<i64>,
    pub voided_at: Option<i64>,
    pub marked_uncollectible_at: Option<i64>,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    /// The subscription's metadata, copied as Stripe does into `subscription_details`.
    pub subscription_metadata: Option<Metadata>,
}

impl Invoice {
    pub fn subtotal(&self) -> i64 {
        self.lines.iter().map(|l| l.amount).sum()
    }

    pub fn discount(&self) -> i64 {
        self.lines.iter().map(|l| l.discount).sum()
    }

    pub fn tax(&self) -> i64 {
        self.lines.iter().map(|l| l.tax).sum()
    }

    pub fn total(&self) -> i64 {
        self.subtotal() - self.discount() + self.tax()
    }

    pub fn amount_paid(&self) -> i64 {
        if self.status == InvoiceStatus::Paid {
            self.total()
        } else {
            0
        }
    }

    pub fn hosted_url(&self, base_url: &str) -> String {
        format!("{base_url}/i/{}", self.id)
    }

    pub fn lines_json(&self, store: &Store) -> Value {
        let data: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                let mut line = json!({
                    "id": l.id, "object": "line_item", "amount": l.amount,
                    "amount_excluding_tax": l.amount - l.discount, "currency": self.currency,
                    "description": l.description,
                    "discount_amounts": if l.discount > 0 { vec![json!({"amount": l.discount, "discount": "di_emulator"})] } else { vec![] },
                    "discountable": true, "discounts": [], "livemode": false, "metadata": {},
                    "period": {"end": l.period_end, "start": l.period_start},
                    "price": store.prices.get(&l.price).map(crate::model::Price::to_json),
                    "proration": false, "proration_details": {"credited_items": null},
                    "quantity": l.quantity,
                    "subscription": l.subscription_item.as_ref().and(self.subscription.clone()),
                    "subscription_item": l.subscription_item,
                    "tax_amounts": [], "tax_rates": [],
                    "type": if l.subscription_item.is_some() { "subscription" } else { "invoiceitem" },
                    "unit_amount_excluding_tax": (l.amount / l.quantity.max(1)).to_string(),
                });
                // Not nullable in Stripe's description: a one-time line has none.
                if l.subscription_item.is_none()
                    && let Some(fields) = line.as_object_mut()
                {
                    fields.remove("subscription_item");
                }
                line
            })
            .collect();
        list_json(data, &format!("/v1/invoices/{}/lines", self.id), false)
    }

    pub fn to_json(&self, store: &Store) -> Value {
        let total = self.total();
        let paid = self.status == InvoiceStatus::Paid;
        let remaining = match self.status {
            InvoiceStatus::Open | InvoiceStatus::Draft => total,
            _ => 0,
        };
        let finalized = self.number.is_some();
        let base = &store.base_url;
        json!({
            "id": self.id, "object": "invoice", "account_country": "US",
            "account_name": "Stripe emulator", "account_tax_ids": null,
            "amount_due": total, "amount_paid": self.amount_paid(),
            "amount_remaining": remaining, "amount_shipping": 0, "application": null,
            "application_fee_amount": null, "attempt_count": self.attempt_count,
            "attempted": self.attempt_count > 0, "auto_advance": !paid && finalized,
            "automatic_tax": {"enabled": false, "status": null},
            "billing_reason": self.billing_reason, "charge": self.charge,
            "collection_method": "charge_automatically", "created": self.created,
            "currency": self.currency, "custom_fields": null, "customer": self.customer,
            "customer_address": null, "customer_email": self.customer_email,
            "customer_name": self.customer_name, "customer_phone": null,
            "customer_shipping": null, "customer_tax_exempt": "none", "customer_tax_ids": [],
            "default_payment_method": null, "default_source": null, "default_tax_rates": [],
            "description": null, "discount": null, "discounts": [], "due_date": null,
            "effective_at": self.finalized_at, "ending_balance": if finalized { Some(0) } else { None },
            "footer": null, "from_invoice": null,
            "hosted_invoice_url": finalized.then(|| self.hosted_url(base)),
            "invoice_pdf": finalized.then(|| format!("{}/pdf", self.hosted_url(base))),
            "last_finalization_error": null, "latest_revision": null,
            "lines": self.lines_json(store), "livemode": false, "metadata": {},
            "next_payment_attempt": null, "number": self.number, "on_behalf_of": null,
            "paid": paid, "paid_out_of_band": false, "payment_intent": self.payment_intent,
            "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
            "period_end": self.period_end, "period_start": self.period_start,
            "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0,
            "quote": null, "receipt_number": null, "rendering_options": null,
            "shipping_cost": null, "shipping_details": null, "starting_balance": 0,
            "statement_descriptor": null, "status": self.status.as_str(),
            "status_transitions": {
                "finalized_at": self.finalized_at,
                "marked_uncollectible_at": self.marked_uncollectible_at,
                "paid_at": self.paid_at, "voided_at": self.voided_at,
            },
            "subscription": self.subscription,
            "subscription_details": self.subscription_metadata.as_ref().map(|m| json!({"metadata": m})),
            "subtotal": self.subtotal(), "subtotal_excluding_tax": self.subtotal(),
            "tax": if self.tax() > 0 { Some(self.tax()) } else { None },
            "test_clock": null, "total": total,
            "total_discount_amounts": if self.discount() > 0 { vec![json!({"amount": self.discount(), "discount": "di_emulator"})] } else { vec![] },
            "total_excluding_tax": total - self.tax(), "total_tax_amounts": [],
            "transfer_data": null, "webhooks_delivered_at": self.finalized_at,
        })
    }
}

/// A customer portal session: a link to the hosted page where the customer manages billing.
#[derive(Debug, Clone)]
pub struct PortalSession {
    pub id: String,
    pub created: i64,
    pub customer: String,
    pub return_url: Option<String>,
}

impl PortalSession {
    pub fn url(&self, base_url: &str) -> String {
        format!("{base_url}/p/session/{}", self.id)
    }

    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "id": self.id, "object": "billing_portal.session",
            "configuration": "bpc_emulator_default", "created": self.created,
            "customer": self.customer, "flow": null, "livemode": false, "locale": null,
            "on_behalf_of": null, "return_url": self.return_url, "url": self.url(base_url),
        })
    }
}
