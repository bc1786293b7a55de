//! Creating checkout sessions: checking their parameters and line items, then storing the
//! session with any inline prices and products its lines need.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::model::{
    Address, LineItem, PaymentStatus, Price, Product, Recurring, Session, SessionMode,
    SessionStatus, SubscriptionData,
};
use crate::money;
use crate::params::{Params, merge_metadata};
use crate::store::{Store, new_id};

use super::recompute_totals;

const MIN_EXPIRY_SECS: i64 = 30 * 60;
const MAX_EXPIRY_SECS: i64 = 24 * 60 * 60;

fn is_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len()
}

pub fn create_session(store: &mut Store, p: &Params) -> ApiResult<Session> {
    let mode = check_session_params(store, p)?;
    let now = store.now();
    let expires_at = expires_at(p, now)?;
    let subscription_data = subscription_data(p, mode)?;
    let resolved = resolve_line_items(store, p, mode)?;
    let currency = resolved[0].price.currency.clone();
    let discount = discount_param(store, p, &currency, &resolved)?;
    let in_trial = subscription_data.trial_period_days.is_some();
    let line_items = resolved
        .into_iter()
        .map(|line| create_line_item(store, line, now, in_trial))
        .collect();
    let mut session = new_session(store, p, now, expires_at, currency, line_items);
    session.mode = mode;
    session.subscription_data = subscription_data;
    if mode == SessionMode::Subscription && session.customer.is_none() {
        session.customer_creation = Some("always");
    }
    match discount {
        Some(Discount::PromotionCode(id)) => session.promotion_code = Some(id),
        Some(Discount::Coupon(id)) => session.coupon = Some(id),
        None => {}
    }
    recompute_totals(store, &mut session);
    store.sessions.insert(session.id.clone(), session.clone());
    Ok(session)
}

/// A discount given at creation (`discounts[0]`).
enum Discount {
    PromotionCode(String),
    Coupon(String),
}

/// `discounts`: at most one, a coupon or a promotion code (not with `allow_promotion_codes`),
/// which must fit the session's lines as they will be.
fn discount_param(
    store: &Store,
    p: &Params,
    currency: &str,
    lines: &[ResolvedLine],
) -> ApiResult<Option<Discount>> {
    let list = p.list("discounts");
    let Some(first) = list.first() else {
        return Ok(None);
    };
    if list.len() > 1 {
        return Err(
            ApiError::invalid("You may only specify one discount per Checkout Session.")
                .param("discounts"),
        );
    }
    if p.bool("allow_promotion_codes") == Some(true) {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
        )
        .code("parameters_exclusive")
        .param("discounts"));
    }
    let d = Params(first.as_object().cloned().unwrap_or_default());
    let (coupon, promo, param, discount) = match (d.str("coupon"), d.str("promotion_code")) {
        (Some(id), None) => {
            let param = "discounts[0][coupon]";
            let coupon = store
                .coupons
                .get(id)
                .ok_or_else(|| ApiError::no_such("coupon", id, param))?;
            (coupon, None, param, Discount::Coupon(id.to_string()))
        }
        (None, Some(id)) => {
            let param = "discounts[0][promotion_code]";
            let promo = store
                .promotion_codes
                .get(id)
                .ok_or_else(|| ApiError::no_such("promotion_code", id, param))?;
            let coupon = store
                .coupons
                .get(&promo.coupon)
                .ok_or_else(|| ApiError::no_such("promotion_code", id, param))?;
            (
                coupon,
                Some(promo),
                param,
                Discount::PromotionCode(id.to_string()),
            )
        }
        _ => {
            return Err(ApiError::invalid(
                "Each discount needs exactly one of `coupon` or `promotion_code`.",
            )
            .param("discounts[0]"));
        }
    };
    let basket = super::Basket {
        currency,
        lines: lines
            .iter()
            .map(|l| (l.price.product_id(store), l.subtotal))
            .collect(),
        customer: p.str("customer"),
    };
    let label = promo.map_or(coupon.id.as_str(), |p| p.code.as_str());
    super::check_discount(store, &basket, coupon, promo, label)
        .map_err(|m| ApiError::invalid(m).param(param))?;
    Ok(Some(discount))
}

/// The session's own parameters, checked in the order Stripe reports them; answers the mode.
fn check_session_params(store: &Store, p: &Params) -> ApiResult<SessionMode> {
    let mode = match p.str("mode") {
        Some("payment") => SessionMode::Payment,
        Some("subscription") => SessionMode::Subscription,
        _ => {
            return Err(ApiError::invalid(
                "The emulator supports Checkout Sessions in `payment` and `subscription` mode only.",
            )
            .param("mode"));
        }
    };
    if mode == SessionMode::Subscription && p.has("payment_intent_data") {
        return Err(ApiError::invalid(
            "You can not pass `payment_intent_data` in `subscription` mode.",
        )
        .param("payment_intent_data"));
    }
    if mode == SessionMode::Payment && p.has("subscription_data") {
        return Err(ApiError::invalid(
            "You can only pass `subscription_data` in `subscription` mode.",
        )
        .param("subscription_data"));
    }
    if !is_url(p.str("success_url").unwrap_or_default()) {
        return Err(ApiError::invalid("Not a valid URL").param("success_url"));
    }
    if let Some(cancel) = p.str("cancel_url")
        && !is_url(cancel)
    {
        return Err(ApiError::invalid("Not a valid URL").param("cancel_url"));
    }
    if p.has("customer") && p.has("customer_email") {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: customer, customer_email.",
        )
        .code("parameters_exclusive")
        .param("customer_email"));
    }
    if let Some(customer) = p.str("customer")
        && !store.customers.contains_key(customer)
    {
        return Err(ApiError::no_such("customer", customer, "customer"));
    }
    if p.has("customer_update") && !p.has("customer") {
        return Err(
            ApiError::invalid("`customer_update` can only be used with `customer`.")
                .param("customer_update"),
        );
    }
    check_tax_address(store, p)?;
    Ok(mode)
}

/// The longest free trial Stripe allows, in days.
const MAX_TRIAL_DAYS: i64 = 730;

/// `subscription_data`: a trial of 1 to 730 days, a description and metadata.
fn subscription_data(p: &Params, mode: SessionMode) -> ApiResult<SubscriptionData> {
    if mode != SessionMode::Subscription {
        return Ok(SubscriptionData::default());
    }
    let data = p.obj("subscription_data").unwrap_or_default();
    let trial = data.int("trial_period_days");
    if let Some(days) = trial
        && !(1..=MAX_TRIAL_DAYS).contains(&days)
    {
        return Err(ApiError::invalid(format!(
            "`trial_period_days` must be between 1 and {MAX_TRIAL_DAYS}."
        ))
        .param("subscription_data[trial_period_days]"));
    }
    let mut metadata = Map::new();
    merge_metadata(&mut metadata, data.raw("metadata"));
    Ok(SubscriptionData {
        trial_period_days: trial,
        description: data.str("description").map(str::to_string),
        metadata,
    })
}

/// The message Stripe refuses automatic tax with when the customer has no address to tax by
/// and Checkout may not save the one it collects.
const TAX_NEEDS_ADDRESS: &str = "Automatic tax calculation in Checkout requires a valid address on the Customer. Add a valid address to the Customer or set either `customer_update[address]` or `customer_update[shipping]` to 'auto' to save the address entered in Checkout.";

/// Automatic tax for an existing customer needs an address: on the customer already, or the
/// one Checkout collects, saved by `customer_update[address]` or `[shipping]`. Without a
/// customer, Checkout collects the address itself.
fn check_tax_address(store: &Store, p: &Params) -> ApiResult<()> {
    let tax = p
        .obj("automatic_tax")
        .and_then(|t| t.bool("enabled"))
        .unwrap_or(false);
    let Some(customer) = p.str("customer").and_then(|c| store.customers.get(c)) else {
        return Ok(());
    };
    let update = p.obj("customer_update").unwrap_or_default();
    let saves = |k: &str| update.str(k) == Some("auto");
    let located = customer.address.as_ref().is_some_and(Address::locates_tax);
    if tax && !located && !saves("address") && !saves("shipping") {
        return Err(ApiError::invalid(TAX_NEEDS_ADDRESS).param("customer_update[address]"));
    }
    Ok(())
}

fn expires_at(p: &Params, now: i64) -> ApiResult<i64> {
    let expires_at = p.int("expires_at").unwrap_or(now + MAX_EXPIRY_SECS);
    if expires_at < now + MIN_EXPIRY_SECS || expires_at > now + MAX_EXPIRY_SECS {
        return Err(ApiError::invalid(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
        )
        .param("expires_at"));
    }
    Ok(expires_at)
}

/// Where a line's price comes from.
enum PriceSource {
    Existing(String),
    /// `price_data`: a price made for this session only.
    Inline {
        currency: String,
        unit_amount: i64,
        recurring: Option<Recurring>,
        product: ProductSource,
        tax_behavior: String,
    },
}

/// Where an inline price's product comes from.
enum ProductSource {
    Existing(String),
    /// `product_data`: a product made with the price.
    Inline {
        name: String,
        data: Params,
    },
}

/// A line's price as checked against the store, before anything is created.
struct LinePrice {
    source: PriceSource,
    currency: String,
    unit_amount: i64,
    /// The product's name, which becomes the line's description.
    name: String,
    recurring: Option<Recurring>,
    /// The price includes its tax.
    tax_inclusive: bool,
}

impl LinePrice {
    /// The product the line will be of, when it exists already (not one `product_data` makes).
    fn product_id(&self, store: &Store) -> Option<String> {
        match &self.source {
            PriceSource::Existing(price) => store.prices.get(price).map(|p| p.product.clone()),
            PriceSource::Inline {
                product: ProductSource::Existing(id),
                ..
            } => Some(id.clone()),
            PriceSource::Inline { .. } => None,
        }
    }
}

/// A line item checked against the store but not created yet.
struct ResolvedLine {
    price: LinePrice,
    quantity: i64,
    subtotal: i64,
}

/// Resolves every line before creating anything, so a bad line leaves no inline price behind.
fn resolve_line_items(
    store: &Store,
    p: &Params,
    mode: SessionMode,
) -> ApiResult<Vec<ResolvedLine>> {
    let raw_items = p.list("line_items");
    if raw_items.is_empty() {
        return Err(ApiError::missing_param("line_items"));
    }
    let mut resolved = Vec::with_capacity(raw_items.len());
    for (i, raw) in raw_items.iter().enumerate() {
        let item = Params(raw.as_object().cloned().unwrap_or_default());
        resolved.push(resolve_line_item(store, i, &item, mode)?);
    }
    if mode == SessionMode::Subscription {
        check_recurring_lines(&resolved)?;
    }
    let currency = resolved[0].price.currency.clone();
    if let Some(i) = resolved.iter().position(|r| r.price.currency != currency) {
        return Err(
            ApiError::invalid("All line items must use the same currency.")
                .param(format!("line_items[{i}]")),
        );
    }
    resolved
        .iter()
        .try_fold(0i64, |acc, r| acc.checked_add(r.subtotal))
        .ok_or_else(|| ApiError::invalid("The total amount is too large.").param("line_items"))?;
    Ok(resolved)
}

/// A subscription needs at least one recurring line, and all its recurring lines bill together.
fn check_recurring_lines(lines: &[ResolvedLine]) -> ApiResult<()> {
    let mut periods = lines.iter().filter_map(|l| l.price.recurring.as_ref());
    let Some(first) = periods.next() else {
        return Err(ApiError::invalid(
            "You must provide at least one recurring price in `subscription` mode when using prices.",
        )
        .param("line_items"));
    };
    if periods.any(|r| r != first) {
        return Err(ApiError::invalid(
            "Checkout does not support multiple prices with different billing intervals.",
        )
        .param("line_items"));
    }
    Ok(())
}

/// Checks line `i`: its quantity, then its `price` or `price_data`.
fn resolve_line_item(
    store: &Store,
    i: usize,
    item: &Params,
    mode: SessionMode,
) -> ApiResult<ResolvedLine> {
    let at = |k: &str| format!("line_items[{i}][{k}]");
    let quantity = item
        .int("quantity")
        .ok_or_else(|| ApiError::missing_param(&at("quantity")))?;
    if !(1..=999_999).contains(&quantity) {
        return Err(
            ApiError::invalid("Quantity must be between 1 and 999999.").param(at("quantity"))
        );
    }
    let price = match (item.str("price"), item.obj("price_data")) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::invalid(
                "Each line item needs exactly one of `price` or `price_data`.",
            )
            .param(format!("line_items[{i}]")));
        }
        (Some(price_id), None) => existing_price(store, i, price_id)?,
        (None, Some(data)) => inline_price(store, i, &data)?,
    };
    if mode == SessionMode::Payment && price.recurring.is_some() {
        let param = if item.has("price") {
            "price"
        } else {
            "price_data][recurring"
        };
        return Err(recurring_in_payment_mode(format!(
            "line_items[{i}][{param}]"
        )));
    }
    let subtotal = price.unit_amount.checked_mul(quantity).ok_or_else(|| {
        ApiError::invalid("The line item amount is too large.").param(format!("line_items[{i}]"))
    })?;
    Ok(ResolvedLine {
        price,
        quantity,
        subtotal,
    })
}

/// Stripe's refusal of a recurring price in a `payment` mode session.
fn recurring_in_payment_mode(param: String) -> ApiError {
    ApiError::invalid(
        "You specified `payment` mode but passed a recurring price. Either switch to \
         `subscription` mode or use only one-time prices.",
    )
    .param(param)
}

/// Line `i`'s `price`, which must exist and be active.
fn existing_price(store: &Store, i: usize, price_id: &str) -> ApiResult<LinePrice> {
    let at = |k: &str| format!("line_items[{i}][{k}]");
    let price = store
        .prices
        .get(price_id)
        .ok_or_else(|| ApiError::no_such("price", price_id, &at("price")))?;
    if !price.active {
        return Err(ApiError::invalid(
            "The price specified is inactive. This field only accepts active prices.",
        )
        .param(at("price")));
    }
    let name = store
        .products
        .get(&price.product)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    Ok(LinePrice {
        source: PriceSource::Existing(price.id.clone()),
        currency: price.currency.clone(),
        unit_amount: price.unit_amount,
        name,
        recurring: price.recurring.clone(),
        tax_inclusive: price.tax_behavior == "inclusive",
    })
}

/// Line `i`'s `price_data`, with an existing active `product` or a new `product_data`.
fn inline_price(store: &Store, i: usize, data: &Params) -> ApiResult<LinePrice> {
    let at = |k: &str| format!("line_items[{i}][price_data][{k}]");
    let currency =
        money::parse_currency(data.str("currency").unwrap_or_default()).ok_or_else(|| {
            ApiError::invalid("Invalid currency: must be a three-letter ISO code")
                .param(at("currency"))
        })?;
    let recurring = data
        .obj("recurring")
        .map(|r| crate::api::prices::recurring_of(&r, &at("recurring")))
        .transpose()?;
    let unit_amount = data
        .int("unit_amount")
        .ok_or_else(|| ApiError::missing_param(&at("unit_amount")))?;
    if unit_amount < 0 {
        return Err(
            ApiError::invalid("This value must be greater than or equal to 0.")
                .param(at("unit_amount")),
        );
    }
    let (product, name) = match (data.str("product"), data.obj("product_data")) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::invalid(
                "price_data needs exactly one of `product` or `product_data`.",
            )
            .param(format!("line_items[{i}][price_data]")));
        }
        (Some(id), None) => {
            let product = store
                .products
                .get(id)
                .ok_or_else(|| ApiError::no_such("product", id, &at("product")))?;
            if !product.active {
                return Err(
                    ApiError::invalid("The product specified is inactive.").param(at("product"))
                );
            }
            (
                ProductSource::Existing(id.to_string()),
                product.name.clone(),
            )
        }
        (None, Some(pd)) => {
            if let Some(code) = pd.str("tax_code") {
                crate::api::products::check_tax_code(code, &at("product_data][tax_code"))?;
            }
            let name = pd.str("name").unwrap_or_default().to_string();
            (
                ProductSource::Inline {
                    name: name.clone(),
                    data: pd,
                },
                name,
            )
        }
    };
    let tax_behavior = data.str("tax_behavior").unwrap_or("unspecified");
    Ok(LinePrice {
        source: PriceSource::Inline {
            currency: currency.clone(),
            unit_amount,
            recurring: recurring.clone(),
            product,
            tax_behavior: tax_behavior.to_string(),
        },
        currency,
        unit_amount,
        name,
        recurring,
        tax_inclusive: tax_behavior == "inclusive",
    })
}

/// Stores what a resolved line needs (an inline price, and its product) and makes the line. In
/// a trial a recurring line charges nothing today.
fn create_line_item(store: &mut Store, line: ResolvedLine, now: i64, in_trial: bool) -> LineItem {
    let free = in_trial && line.price.recurring.is_some();
    let price_id = match line.price.source {
        PriceSource::Existing(id) => id,
        PriceSource::Inline {
            currency,
            unit_amount,
            recurring,
            product,
            tax_behavior,
        } => {
            let product = match product {
                ProductSource::Existing(id) => id,
                ProductSource::Inline { name, data } => {
                    create_inline_product(store, name, &data, now)
                }
            };
            // Like Stripe, an inline price exists only for this session and is not
            // offered for reuse.
            let price = Price {
                id: new_id("price_"),
                created: now,
                product,
                currency,
                unit_amount,
                active: false,
                nickname: None,
                lookup_key: None,
                metadata: Map::new(),
                recurring,
                tax_behavior,
            };
            let id = price.id.clone();
            store.prices.insert(id.clone(), price);
            id
        }
    };
    LineItem {
        id: new_id("li_"),
        price: price_id,
        quantity: line.quantity,
        description: line.price.name,
        currency: line.price.currency,
        amount_subtotal: if free { 0 } else { line.subtotal },
        amount_discount: 0,
        taxes: Vec::new(),
        tax_inclusive: line.price.tax_inclusive,
    }
}

fn create_inline_product(store: &mut Store, name: String, pd: &Params, now: i64) -> String {
    let product = Product {
        id: new_id("prod_"),
        created: now,
        updated: now,
        name,
        active: true,
        description: pd.str("description").map(str::to_string),
        images: pd.strings("images"),
        url: None,
        metadata: pd
            .raw("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        tax_code: pd.str("tax_code").map(str::to_string),
    };
    let id = product.id.clone();
    store.products.insert(id.clone(), product);
    id
}

/// An open, unpaid session from checked parameters; its totals are not computed yet.
fn new_session(
    store: &Store,
    p: &Params,
    now: i64,
    expires_at: i64,
    currency: String,
    line_items: Vec<LineItem>,
) -> Session {
    let id = format!("cs_test_{}", uuid::Uuid::new_v4().simple());
    let mut metadata = Map::new();
    merge_metadata(&mut metadata, p.raw("metadata"));
    let pid = p.obj("payment_intent_data").unwrap_or_default();
    let mut pi_metadata = Map::new();
    merge_metadata(&mut pi_metadata, pid.raw("metadata"));
    let customer_email = match p.str("customer") {
        Some(c) => store.customers.get(c).and_then(|c| c.email.clone()),
        None => p.str("customer_email").map(str::to_string),
    };
    Session {
        url: format!("{}/c/pay/{id}", store.base_url),
        id,
        mode: SessionMode::Payment,
        subscription_data: SubscriptionData::default(),
        subscription: None,
        invoice: None,
        customer_creation: if p.has("customer") {
            None
        } else {
            Some("if_required")
        },
        created: now,
        expires_at,
        status: SessionStatus::Open,
        payment_status: PaymentStatus::Unpaid,
        currency,
        line_items,
        success_url: p.str("success_url").unwrap_or_default().to_string(),
        cancel_url: p.str("cancel_url").map(str::to_string),
        client_reference_id: p.str("client_reference_id").map(str::to_string),
        customer: p.str("customer").map(str::to_string),
        customer_email,
        save_address_to_customer: p
            .obj("customer_update")
            .is_some_and(|u| u.str("address") == Some("auto")),
        billing_address_collection: p.str("billing_address_collection").map(str::to_string),
        paid_email: None,
        paid_address: None,
        metadata,
        payment_intent_metadata: pi_metadata,
        payment_intent_description: pid.str("description").map(str::to_string),
        allow_promotion_codes: p.bool("allow_promotion_codes").unwrap_or(false),
        automatic_tax: p
            .obj("automatic_tax")
            .and_then(|t| t.bool("enabled"))
            .unwrap_or(false),
        tax_id_collection: p
            .obj("tax_id_collection")
            .and_then(|t| t.bool("enabled"))
            .unwrap_or(false),
        paid_tax_id: None,
        promotion_code: None,
        coupon: None,
        payment_intent: None,
        pending_settlement: None,
    }
}
