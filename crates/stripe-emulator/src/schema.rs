//! Which parameters each endpoint accepts: the single table both the validator and the
//! conformance test read.

use crate::params::{Field, Ty, arr, obj, opt, req};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    CreateProduct,
    RetrieveProduct,
    UpdateProduct,
    ListProducts,
    CreatePrice,
    RetrievePrice,
    UpdatePrice,
    ListPrices,
    CreateCustomer,
    RetrieveCustomer,
    UpdateCustomer,
    ListCustomers,
    CreateSession,
    RetrieveSession,
    ListSessions,
    ListLineItems,
    ExpireSession,
    RetrievePaymentIntent,
    ListPaymentIntents,
    RetrieveCharge,
    ListCharges,
    CreateRefund,
    RetrieveRefund,
    ListRefunds,
    CreateCoupon,
    RetrieveCoupon,
    ListCoupons,
    CreatePromotionCode,
    RetrievePromotionCode,
    UpdatePromotionCode,
    ListPromotionCodes,
    RetrieveSubscription,
    UpdateSubscription,
    CancelSubscription,
    ListSubscriptions,
    RetrieveInvoice,
    ListInvoices,
    PayInvoice,
    RetrievePaymentMethod,
    CreatePortalSession,
    RetrieveEvent,
    ListEvents,
    CreateWebhookEndpoint,
    RetrieveWebhookEndpoint,
    ListWebhookEndpoints,
    DeleteWebhookEndpoint,
}

impl Op {
    pub const ALL: [Op; 46] = [
        Op::CreateProduct,
        Op::RetrieveProduct,
        Op::UpdateProduct,
        Op::ListProducts,
        Op::CreatePrice,
        Op::RetrievePrice,
        Op::UpdatePrice,
        Op::ListPrices,
        Op::CreateCustomer,
        Op::RetrieveCustomer,
        Op::UpdateCustomer,
        Op::ListCustomers,
        Op::CreateSession,
        Op::RetrieveSession,
        Op::ListSessions,
        Op::ListLineItems,
        Op::ExpireSession,
        Op::RetrievePaymentIntent,
        Op::ListPaymentIntents,
        Op::RetrieveCharge,
        Op::ListCharges,
        Op::CreateRefund,
        Op::RetrieveRefund,
        Op::ListRefunds,
        Op::CreateCoupon,
        Op::RetrieveCoupon,
        Op::ListCoupons,
        Op::CreatePromotionCode,
        Op::RetrievePromotionCode,
        Op::UpdatePromotionCode,
        Op::ListPromotionCodes,
        Op::RetrieveSubscription,
        Op::UpdateSubscription,
        Op::CancelSubscription,
        Op::ListSubscriptions,
        Op::RetrieveInvoice,
        Op::ListInvoices,
        Op::PayInvoice,
        Op::RetrievePaymentMethod,
        Op::CreatePortalSession,
        Op::RetrieveEvent,
        Op::ListEvents,
        Op::CreateWebhookEndpoint,
        Op::RetrieveWebhookEndpoint,
        Op::ListWebhookEndpoints,
        Op::DeleteWebhookEndpoint,
    ];

    /// The HTTP method and the path as Stripe's OpenAPI description spells it.
    pub fn route(self) -> (&'static str, &'static str) {
        use Op::*;
        match self {
            CreateProduct => ("post", "/v1/products"),
            ListProducts => ("get", "/v1/products"),
            RetrieveProduct => ("get", "/v1/products/{id}"),
            UpdateProduct => ("post", "/v1/products/{id}"),
            CreatePrice => ("post", "/v1/prices"),
            ListPrices => ("get", "/v1/prices"),
            RetrievePrice => ("get", "/v1/prices/{price}"),
            UpdatePrice => ("post", "/v1/prices/{price}"),
            CreateCustomer => ("post", "/v1/customers"),
            ListCustomers => ("get", "/v1/customers"),
            RetrieveCustomer => ("get", "/v1/customers/{customer}"),
            UpdateCustomer => ("post", "/v1/customers/{customer}"),
            CreateSession => ("post", "/v1/checkout/sessions"),
            ListSessions => ("get", "/v1/checkout/sessions"),
            RetrieveSession => ("get", "/v1/checkout/sessions/{session}"),
            ListLineItems => ("get", "/v1/checkout/sessions/{session}/line_items"),
            ExpireSession => ("post", "/v1/checkout/sessions/{session}/expire"),
            ListPaymentIntents => ("get", "/v1/payment_intents"),
            RetrievePaymentIntent => ("get", "/v1/payment_intents/{intent}"),
            ListCharges => ("get", "/v1/charges"),
            RetrieveCharge => ("get", "/v1/charges/{charge}"),
            CreateRefund => ("post", "/v1/refunds"),
            ListRefunds => ("get", "/v1/refunds"),
            RetrieveRefund => ("get", "/v1/refunds/{refund}"),
            CreateCoupon => ("post", "/v1/coupons"),
            ListCoupons => ("get", "/v1/coupons"),
            RetrieveCoupon => ("get", "/v1/coupons/{coupon}"),
            CreatePromotionCode => ("post", "/v1/promotion_codes"),
            ListPromotionCodes => ("get", "/v1/promotion_codes"),
            RetrievePromotionCode => ("get", "/v1/promotion_codes/{promotion_code}"),
            UpdatePromotionCode => ("post", "/v1/promotion_codes/{promotion_code}"),
            RetrieveSubscription => ("get", "/v1/subscriptions/{subscription_exposed_id}"),
            UpdateSubscription => ("post", "/v1/subscriptions/{subscription_exposed_id}"),
            CancelSubscription => ("delete", "/v1/subscriptions/{subscription_exposed_id}"),
            ListSubscriptions => ("get", "/v1/subscriptions"),
            RetrieveInvoice => ("get", "/v1/invoices/{invoice}"),
            ListInvoices => ("get", "/v1/invoices"),
            PayInvoice => ("post", "/v1/invoices/{invoice}/pay"),
            RetrievePaymentMethod => ("get", "/v1/payment_methods/{payment_method}"),
            CreatePortalSession => ("post", "/v1/billing_portal/sessions"),
            RetrieveEvent => ("get", "/v1/events/{id}"),
            ListEvents => ("get", "/v1/events"),
            CreateWebhookEndpoint => ("post", "/v1/webhook_endpoints"),
            ListWebhookEndpoints => ("get", "/v1/webhook_endpoints"),
            RetrieveWebhookEndpoint => ("get", "/v1/webhook_endpoints/{webhook_endpoint}"),
            DeleteWebhookEndpoint => ("delete", "/v1/webhook_endpoints/{webhook_endpoint}"),
        }
    }

    /// The accepted parameters; every endpoint also takes `expand[]`.
    pub fn params(self) -> Ty {
        use Op::*;
        let mut fields = match self {
            CreateProduct => create_product(),
            UpdateProduct => update_product(),
            ListProducts => list_of(vec![opt("active", Ty::Bool)]),
            CreatePrice => create_price(),
            UpdatePrice => update_price(),
            ListPrices => list_of(vec![
                opt("active", Ty::Bool),
                opt("product", s()),
                opt("currency", s()),
                opt("type", Ty::Enum(&["one_time", "recurring"])),
                opt(
                    "recurring",
                    obj([
                        opt("interval", Ty::Enum(INTERVALS)),
                        opt("usage_type", Ty::Enum(USAGE_TYPES)),
                    ]),
                ),
            ]),
            CreateCustomer | UpdateCustomer => customer(),
            ListCustomers => list_of(vec![opt("email", s())]),
            CreateSession => create_session(),
            ListSessions => list_of(vec![opt("payment_intent", s()), opt("customer", s())]),
            ListLineItems => paging(),
            ListPaymentIntents => list_of(vec![opt("customer", s())]),
            ListCharges => list_of(vec![opt("customer", s()), opt("payment_intent", s())]),
            CreateRefund => create_refund(),
            ListRefunds => list_of(vec![opt("payment_intent", s()), opt("charge", s())]),
            CreateCoupon => create_coupon(),
            ListCoupons => list_of(vec![]),
            CreatePromotionCode => create_promotion_code(),
            UpdatePromotionCode => vec![opt("active", Ty::Bool), opt("metadata", Ty::Metadata)],
            ListPromotionCodes => list_of(vec![
                opt("code", s()),
                opt("coupon", s()),
                opt("active", Ty::Bool),
            ]),
            UpdateSubscription => update_subscription(),
            CancelSubscription => vec![opt("invoice_now", Ty::Bool), opt("prorate", Ty::Bool)],
            ListSubscriptions => list_of(vec![
                opt("customer", s()),
                opt("price", s()),
                opt("status", Ty::Enum(SUBSCRIPTION_LIST_STATUSES)),
            ]),
            ListInvoices => list_of(vec![
                opt("customer", s()),
                opt("subscription", s()),
                opt(
                    "status",
                    Ty::Enum(&["draft", "open", "paid", "uncollectible", "void"]),
                ),
            ]),
            PayInvoice => vec![opt("payment_method", s())],
            CreatePortalSession => vec![req("customer", s()), opt("return_url", s())],
            ListEvents => list_of(vec![opt("type", s())]),
            CreateWebhookEndpoint => create_webhook_endpoint(),
            // Stripe filters webhook endpoints by nothing, not even `created`.
            ListWebhookEndpoints => paging(),
            RetrieveProduct
            | RetrievePrice
            | RetrieveCustomer
            | RetrieveSession
            | ExpireSession
            | RetrievePaymentIntent
            | RetrieveCharge
            | RetrieveRefund
            | RetrieveCoupon
            | RetrievePromotionCode
            | RetrieveSubscription
            | RetrieveInvoice
            | RetrievePaymentMethod
            | RetrieveEvent
            | RetrieveWebhookEndpoint
            | DeleteWebhookEndpoint => vec![],
        };
        // Stripe's description has no `expand` on DELETE endpoints.
        if self != DeleteWebhookEndpoint {
            fields.push(opt("expand", arr(s())));
        }
        obj(fields)
    }
}

/// Whether Checkout saves what it collects onto the session's customer (`customer_update[*]`).
const AUTO_OR_NEVER: &[&str] = &["auto", "never"];

/// Most parameters are strings.
fn s() -> Ty {
    Ty::Str
}

/// A resource's list: its own `filters`, then `created` and the cursors.
fn list_of(filters: Vec<Field>) -> Vec<Field> {
    [filters, vec![opt("created", Ty::Range)], paging()].concat()
}

/// The cursors every list endpoint takes.
fn paging() -> Vec<Field> {
    vec![
        opt("limit", Ty::Int),
        opt("starting_after", s()),
        opt("ending_before", s()),
    ]
}

fn create_product() -> Vec<Field> {
    vec![
        req("name", s()),
        opt("active", Ty::Bool),
        opt("description", s()),
        opt("images", arr(s())),
        opt("url", s()),
        opt("metadata", Ty::Metadata),
        opt("tax_code", s()),
    ]
}

fn update_product() -> Vec<Field> {
    vec![
        opt("name", s()),
        opt("active", Ty::Bool),
        opt("description", s()),
        opt("images", arr(s())),
        opt("url", s()),
        opt("metadata", Ty::Metadata),
        opt("tax_code", s()),
    ]
}

/// A price's billing periods (`recurring[interval]`).
const INTERVALS: &[&str] = &["day", "week", "month", "year"];
const USAGE_TYPES: &[&str] = &["licensed", "metered"];

/// A price's `recurring` hash; a session line's `price_data` takes it without `usage_type`.
fn recurring(with_usage_type: bool) -> Ty {
    let mut fields = vec![
        req("interval", Ty::Enum(INTERVALS)),
        opt("interval_count", Ty::Int),
    ];
    if with_usage_type {
        fields.push(opt("usage_type", Ty::Enum(USAGE_TYPES)));
    }
    obj(fields)
}

fn create_price() -> Vec<Field> {
    vec![
        req("currency", s()),
        opt("unit_amount", Ty::Int),
        opt("recurring", recurring(true)),
        opt("product", s()),
        opt(
            "product_data",
            obj([
                req("name", s()),
                opt("active", Ty::Bool),
                opt("metadata", Ty::Metadata),
            ]),
        ),
        opt("active", Ty::Bool),
        opt("nickname", s()),
        opt("lookup_key", s()),
        opt("metadata", Ty::Metadata),
        opt(
            "tax_behavior",
            Ty::Enum(&["exclusive", "inclusive", "unspecified"]),
        ),
    ]
}

fn update_price() -> Vec<Field> {
    vec![
        opt("active", Ty::Bool),
        opt("nickname", s()),
        opt("lookup_key", s()),
        opt("metadata", Ty::Metadata),
    ]
}

/// Creating and updating a customer take the same parameters.
fn customer() -> Vec<Field> {
    vec![
        opt("email", s()),
        opt("name", s()),
        opt("phone", s()),
        opt("description", s()),
        opt("address", Ty::OrEmpty(Box::new(obj(address())))),
        opt("metadata", Ty::Metadata),
    ]
}

/// A postal address, as customers take it; `address=` unsets it.
fn address() -> Vec<Field> {
    vec![
        opt("line1", s()),
        opt("line2", s()),
        opt("city", s()),
        opt("state", s()),
        opt("postal_code", s()),
        opt("country", s()),
    ]
}

fn create_session() -> Vec<Field> {
    vec![
        req("success_url", s()),
        opt("cancel_url", s()),
        req("mode", Ty::Enum(&["payment", "setup", "subscription"])),
        opt("line_items", arr(obj(session_line_item()))),
        opt("client_reference_id", s()),
        opt("customer", s()),
        opt("customer_email", s()),
        opt(
            "customer_update",
            obj([
                opt("address", Ty::Enum(AUTO_OR_NEVER)),
                opt("name", Ty::Enum(AUTO_OR_NEVER)),
                opt("shipping", Ty::Enum(AUTO_OR_NEVER)),
            ]),
        ),
        opt(
            "billing_address_collection",
            Ty::Enum(&["auto", "required"]),
        ),
        opt("metadata", Ty::Metadata),
        opt(
            "payment_intent_data",
            obj([opt("description", s()), opt("metadata", Ty::Metadata)]),
        ),
        opt("allow_promotion_codes", Ty::Bool),
        opt("automatic_tax", obj([req("enabled", Ty::Bool)])),
        opt("tax_id_collection", obj([req("enabled", Ty::Bool)])),
        opt(
            "discounts",
            arr(obj([opt("coupon", s()), opt("promotion_code", s())])),
        ),
        opt("expires_at", Ty::Int),
        opt(
            "subscription_data",
            obj([
                opt("trial_period_days", Ty::Int),
                opt("description", s()),
                opt("metadata", Ty::Metadata),
            ]),
        ),
    ]
}

/// `status` of the subscriptions list: a status, or `all` / `ended`.
const SUBSCRIPTION_LIST_STATUSES: &[&str] = &[
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
];

fn update_subscription() -> Vec<Field> {
    vec![
        opt("cancel_at_period_end", Ty::Bool),
        opt(
            "pause_collection",
            Ty::OrEmpty(Box::new(obj([req(
                "behavior",
                Ty::Enum(&["keep_as_draft", "mark_uncollectible", "void"]),
            )]))),
        ),
        opt(
            "items",
            arr(obj([
                opt("id", s()),
                opt("price", s()),
                opt("quantity", Ty::Int),
            ])),
        ),
        opt(
            "proration_behavior",
            Ty::Enum(&["always_invoice", "create_prorations", "none"]),
        ),
        opt("default_payment_method", s()),
        opt("description", s()),
        opt("metadata", Ty::Metadata),
    ]
}

/// One of a session's `line_items[]`.
fn session_line_item() -> Vec<Field> {
    vec![
        opt("price", s()),
        opt("quantity", Ty::Int),
        opt(
            "price_data",
            obj([
                req("currency", s()),
                opt("product", s()),
                opt(
                    "product_data",
                    obj([
                        req("name", s()),
                        opt("description", s()),
                        opt("images", arr(s())),
                        opt("metadata", Ty::Metadata),
                        opt("tax_code", s()),
                    ]),
                ),
                opt("unit_amount", Ty::Int),
                opt("recurring", recurring(false)),
                opt(
                    "tax_behavior",
                    Ty::Enum(&["exclusive", "inclusive", "unspecified"]),
                ),
            ]),
        ),
    ]
}

fn create_refund() -> Vec<Field> {
    vec![
        opt("payment_intent", s()),
        opt("charge", s()),
        opt("amount", Ty::Int),
        opt(
            "reason",
            Ty::Enum(&["duplicate", "fraudulent", "requested_by_customer"]),
        ),
        opt("metadata", Ty::Metadata),
    ]
}

fn create_coupon() -> Vec<Field> {
    vec![
        opt("id", s()),
        opt("name", s()),
        opt("percent_off", Ty::Hundredths),
        opt("amount_off", Ty::Int),
        opt("currency", s()),
        opt("duration", Ty::Enum(&["once", "repeating", "forever"])),
        opt("duration_in_months", Ty::Int),
        opt("max_redemptions", Ty::Int),
        opt("redeem_by", Ty::Int),
        opt("metadata", Ty::Metadata),
        opt("applies_to", obj([opt("products", arr(s()))])),
        opt(
            "currency_options",
            Ty::Map(Box::new(obj([req("amount_off", Ty::Int)]))),
        ),
    ]
}

fn create_promotion_code() -> Vec<Field> {
    vec![
        req("coupon", s()),
        opt("code", s()),
        opt("active", Ty::Bool),
        opt("max_redemptions", Ty::Int),
        opt("expires_at", Ty::Int),
        opt(
            "restrictions",
            obj([
                opt("first_time_transaction", Ty::Bool),
                opt("minimum_amount", Ty::Int),
                opt("minimum_amount_currency", s()),
            ]),
        ),
        opt("metadata", Ty::Metadata),
    ]
}

fn create_webhook_endpoint() -> Vec<Field> {
    vec![
        req("url", s()),
        req("enabled_events", arr(s())),
        opt("description", s()),
        opt("metadata", Ty::Metadata),
    ]
}
