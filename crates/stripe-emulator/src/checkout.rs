//! The payment journey: checkout sessions, their totals (discount and tax), paying with Stripe's
//! test cards or a bank debit, settlement, expiry and refunds.

use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::model::{
    Charge, CouponOff, LineItem, MethodKind, PaidWith, PaymentIntent, PaymentStatus,
    PendingSettlement, Price, Product, Refund, Session, SessionStatus,
};
use crate::money;
use crate::params::{Params, merge_metadata};
use crate::store::{Store, new_id, previous_attributes};

const MIN_EXPIRY_SECS: i64 = 30 * 60;
const MAX_EXPIRY_SECS: i64 = 24 * 60 * 60;

fn is_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len()
}

pub fn create_session(store: &mut Store, p: &Params) -> ApiResult<Session> {
    if p.str("mode") != Some("payment") {
        return Err(ApiError::invalid(
            "The emulator supports Checkout Sessions in `payment` mode only.",
        )
        .param("mode"));
    }
    let success_url = p.str("success_url").unwrap_or_default();
    if !is_url(success_url) {
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
    let now = store.now();
    let expires_at = p.int("expires_at").unwrap_or(now + MAX_EXPIRY_SECS);
    if expires_at < now + MIN_EXPIRY_SECS || expires_at > now + MAX_EXPIRY_SECS {
        return Err(ApiError::invalid(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
        )
        .param("expires_at"));
    }
    let raw_items = p.list("line_items");
    if raw_items.is_empty() {
        return Err(ApiError::missing_param("line_items"));
    }
    // Resolve every line before creating anything, so a bad line leaves no inline price behind.
    enum Source {
        Existing(String),
        Inline {
            currency: String,
            unit_amount: i64,
            product: Result<String, (String, Params)>,
        },
    }
    let mut resolved = Vec::with_capacity(raw_items.len());
    for (i, raw) in raw_items.iter().enumerate() {
        let item = Params(raw.as_object().cloned().unwrap_or_default());
        let at = |k: &str| format!("line_items[{i}][{k}]");
        let quantity = item
            .int("quantity")
            .ok_or_else(|| ApiError::missing_param(&at("quantity")))?;
        if !(1..=999_999).contains(&quantity) {
            return Err(
                ApiError::invalid("Quantity must be between 1 and 999999.").param(at("quantity"))
            );
        }
        let (source, currency, unit_amount, name) =
            match (item.str("price"), item.obj("price_data")) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(ApiError::invalid(
                        "Each line item needs exactly one of `price` or `price_data`.",
                    )
                    .param(format!("line_items[{i}]")));
                }
                (Some(price_id), None) => {
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
                    (
                        Source::Existing(price.id.clone()),
                        price.currency.clone(),
                        price.unit_amount,
                        name,
                    )
                }
                (None, Some(data)) => {
                    let at = |k: &str| format!("line_items[{i}][price_data][{k}]");
                    let currency = money::parse_currency(data.str("currency").unwrap_or_default())
                        .ok_or_else(|| {
                            ApiError::invalid("Invalid currency: must be a three-letter ISO code")
                                .param(at("currency"))
                        })?;
                    let unit_amount = data
                        .int("unit_amount")
                        .ok_or_else(|| ApiError::missing_param(&at("unit_amount")))?;
                    if unit_amount < 0 {
                        return Err(ApiError::invalid(
                            "This value must be greater than or equal to 0.",
                        )
                        .param(at("unit_amount")));
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
                                return Err(ApiError::invalid(
                                    "The product specified is inactive.",
                                )
                                .param(at("product")));
                            }
                            (Ok(id.to_string()), product.name.clone())
                        }
                        (None, Some(pd)) => {
                            let name = pd.str("name").unwrap_or_default().to_string();
                            (Err((name.clone(), pd)), name)
                        }
                    };
                    (
                        Source::Inline {
                            currency: currency.clone(),
                            unit_amount,
                            product,
                        },
                        currency,
                        unit_amount,
                        name,
                    )
                }
            };
        let subtotal = unit_amount.checked_mul(quantity).ok_or_else(|| {
            ApiError::invalid("The line item amount is too large.")
                .param(format!("line_items[{i}]"))
        })?;
        resolved.push((source, currency, quantity, subtotal, name));
    }
    let currency = resolved[0].1.clone();
    if let Some(i) = resolved.iter().position(|r| r.1 != currency) {
        return Err(
            ApiError::invalid("All line items must use the same currency.")
                .param(format!("line_items[{i}]")),
        );
    }
    resolved
        .iter()
        .try_fold(0i64, |acc, r| acc.checked_add(r.3))
        .ok_or_else(|| ApiError::invalid("The total amount is too large.").param("line_items"))?;

    let mut line_items = Vec::with_capacity(resolved.len());
    for (source, currency, quantity, subtotal, name) in resolved {
        let price_id = match source {
            Source::Existing(id) => id,
            Source::Inline {
                currency,
                unit_amount,
                product,
            } => {
                let product = match product {
                    Ok(id) => id,
                    Err((name, pd)) => {
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
                        };
                        let id = product.id.clone();
                        store.products.insert(id.clone(), product);
                        id
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
                };
                let id = price.id.clone();
                store.prices.insert(id.clone(), price);
                id
            }
        };
        line_items.push(LineItem {
            id: new_id("li_"),
            price: price_id,
            quantity,
            description: name,
            currency,
            amount_subtotal: subtotal,
            amount_discount: 0,
            amount_tax: 0,
        });
    }

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
    let mut session = Session {
        url: format!("{}/c/pay/{id}", store.base_url),
        id,
        created: now,
        expires_at,
        status: SessionStatus::Open,
        payment_status: PaymentStatus::Unpaid,
        currency,
        line_items,
        success_url: success_url.to_string(),
        cancel_url: p.str("cancel_url").map(str::to_string),
        client_reference_id: p.str("client_reference_id").map(str::to_string),
        customer: p.str("customer").map(str::to_string),
        customer_email,
        paid_email: None,
        metadata,
        payment_intent_metadata: pi_metadata,
        payment_intent_description: pid.str("description").map(str::to_string),
        allow_promotion_codes: p.bool("allow_promotion_codes").unwrap_or(false),
        automatic_tax: p
            .obj("automatic_tax")
            .and_then(|t| t.bool("enabled"))
            .unwrap_or(false),
        promotion_code: None,
        payment_intent: None,
        pending_settlement: None,
    };
    recompute_totals(store, &mut session);
    store.sessions.insert(session.id.clone(), session.clone());
    Ok(session)
}

/// Spreads the discount over the lines in proportion and adds tax per line at the configured
/// rate, so that line totals always add up to the session's totals.
pub fn recompute_totals(store: &Store, session: &mut Session) {
    let subtotals: Vec<i64> = session
        .line_items
        .iter()
        .map(|l| l.amount_subtotal)
        .collect();
    let subtotal: i64 = subtotals.iter().sum();
    let discount = session
        .promotion_code
        .as_ref()
        .and_then(|p| store.promotion_codes.get(p))
        .and_then(|p| store.coupons.get(&p.coupon))
        .map(|c| match &c.off {
            CouponOff::Percent(h) => money::apply_basis_points(subtotal, *h),
            CouponOff::Amount { minor, .. } => (*minor).min(subtotal),
        })
        .unwrap_or(0);
    let discounts = money::allocate(discount, &subtotals);
    for (line, d) in session.line_items.iter_mut().zip(discounts) {
        line.amount_discount = d;
        line.amount_tax = if session.automatic_tax {
            money::apply_basis_points(line.amount_subtotal - d, store.tax_rate_bps)
        } else {
            0
        };
    }
}

/// Finds an active promotion code by what the customer typed and checks it fits the session.
pub fn apply_promotion_code(store: &mut Store, session_id: &str, code: &str) -> Result<(), String> {
    let now = store.now();
    let session = store.sessions.get(session_id).ok_or("Unknown session")?;
    if !session.allow_promotion_codes {
        return Err("This checkout does not accept promotion codes.".into());
    }
    let code = code.trim();
    let promo = store
        .promotion_codes
        .values()
        .find(|p| p.active && p.code.eq_ignore_ascii_case(code))
        .ok_or_else(|| format!("The code {code} is invalid."))?;
    let coupon = store
        .coupons
        .get(&promo.coupon)
        .ok_or_else(|| format!("The code {code} is invalid."))?;
    if promo.expires_at.is_some_and(|t| now >= t)
        || promo
            .max_redemptions
            .is_some_and(|m| promo.times_redeemed >= m)
        || !coupon.valid(now)
    {
        return Err(format!("The code {code} has expired or been used up."));
    }
    if let CouponOff::Amount { currency, .. } = &coupon.off
        && *currency != session.currency
    {
        return Err(format!("The code {code} is not valid for this currency."));
    }
    if let Some((minimum, currency)) = &promo.minimum_amount
        && (*currency != session.currency || session.amount_subtotal() < *minimum)
    {
        return Err(format!(
            "The code {code} needs an order of at least {}.",
            money::format(*minimum, currency)
        ));
    }
    let promo_id = promo.id.clone();
    let mut session = session.clone();
    session.promotion_code = Some(promo_id);
    recompute_totals(store, &mut session);
    store.sessions.insert(session.id.clone(), session);
    Ok(())
}

pub fn remove_promotion_code(store: &mut Store, session_id: &str) {
    if let Some(mut session) = store.sessions.get(session_id).cloned() {
        session.promotion_code = None;
        recompute_totals(store, &mut session);
        store.sessions.insert(session.id.clone(), session);
    }
}

/// What the customer submitted on the hosted page.
#[derive(Debug, Clone)]
pub enum PaymentChoice {
    Card {
        number: String,
        exp_month: i64,
        exp_year: i64,
    },
    BankDebit {
        succeeds: bool,
    },
}

/// How a card behaves, by Stripe's test card numbers.
enum CardBehaviour {
    Pays(&'static str),
    Declines {
        decline_code: &'static str,
        message: &'static str,
    },
}

fn card_behaviour(number: &str) -> CardBehaviour {
    match number {
        "4242424242424242" | "4000056655665556" => CardBehaviour::Pays("visa"),
        "5555555555554444" | "2223003122003222" | "5200828282828210" => {
            CardBehaviour::Pays("mastercard")
        }
        "378282246310005" | "371449635398431" => CardBehaviour::Pays("amex"),
        "4000000000000002" => CardBehaviour::Declines {
            decline_code: "generic_decline",
            message: "Your card was declined.",
        },
        "4000000000009995" => CardBehaviour::Declines {
            decline_code: "insufficient_funds",
            message: "Your card has insufficient funds.",
        },
        "4000000000009987" => CardBehaviour::Declines {
            decline_code: "lost_card",
            message: "Your card was declined.",
        },
        "4000000000000069" => CardBehaviour::Declines {
            decline_code: "expired_card",
            message: "Your card has expired.",
        },
        _ => CardBehaviour::Declines {
            decline_code: "test_mode_live_card",
            message: "Your card was declined. Your request was in test mode, but used a non test card. For a list of valid test cards, visit: https://stripe.com/docs/testing.",
        },
    }
}

pub fn luhn_valid(number: &str) -> bool {
    if !(12..=19).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = number
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[derive(Debug)]
pub enum PayOutcome {
    /// Where to send the customer: `success_url` with the session id filled in.
    Completed(String),
    Declined(String),
}

pub fn success_redirect(session: &Session) -> String {
    session
        .success_url
        .replace("{CHECKOUT_SESSION_ID}", &session.id)
}

/// Pays an open session; a decline leaves it open and records the failure as Stripe does.
pub fn pay(
    store: &mut Store,
    session_id: &str,
    email: &str,
    choice: PaymentChoice,
) -> Result<PayOutcome, String> {
    let now = store.now();
    let mut session = store
        .sessions
        .get(session_id)
        .cloned()
        .ok_or("Unknown session")?;
    if session.status != SessionStatus::Open {
        return Err("This checkout session is no longer open.".into());
    }
    let amount = session.amount_total();
    if amount == 0 {
        session.status = SessionStatus::Complete;
        session.payment_status = PaymentStatus::NoPaymentRequired;
        session.paid_email = Some(email.to_string());
        redeem(store, &session);
        let redirect = success_redirect(&session);
        store.sessions.insert(session.id.clone(), session.clone());
        store.emit("checkout.session.completed", session.to_json(), None);
        return Ok(PayOutcome::Completed(redirect));
    }
    let method = match choice {
        PaymentChoice::Card { .. } => MethodKind::Card,
        PaymentChoice::BankDebit { .. } => MethodKind::BankDebit,
    };
    // One PaymentIntent per session, reused across attempts, like Checkout does.
    let pi_id = match &session.payment_intent {
        Some(id) => id.clone(),
        None => {
            let id = new_id("pi_");
            let pi = PaymentIntent {
                client_secret: format!("{id}_secret_{}", &new_id("")[..16]),
                id: id.clone(),
                created: now,
                amount,
                currency: session.currency.clone(),
                status: "requires_payment_method",
                customer: session.customer.clone(),
                description: session.payment_intent_description.clone(),
                metadata: session.payment_intent_metadata.clone(),
                latest_charge: None,
                last_payment_error: None,
                method,
                canceled_at: None,
            };
            store.payment_intents.insert(id.clone(), pi);
            session.payment_intent = Some(id.clone());
            id
        }
    };
    let mut pi = store.payment_intents[&pi_id].clone();
    pi.amount = amount;
    pi.method = method;
    let paid_with = match &choice {
        PaymentChoice::Card {
            number,
            exp_month,
            exp_year,
        } => PaidWith::Card {
            brand: match card_behaviour(number) {
                CardBehaviour::Pays(brand) => brand,
                CardBehaviour::Declines { .. } => "visa",
            },
            last4: number[number.len() - 4..].to_string(),
            exp_month: *exp_month,
            exp_year: *exp_year,
        },
        PaymentChoice::BankDebit { .. } => PaidWith::BankDebit,
    };
    let mut charge = Charge {
        id: new_id("ch_"),
        created: now,
        amount,
        currency: session.currency.clone(),
        payment_intent: pi_id.clone(),
        customer: session.customer.clone(),
        status: "pending",
        amount_refunded: 0,
        failure_code: None,
        failure_message: None,
        decline_code: None,
        email: Some(email.to_string()),
        paid_with,
        metadata: Map::new(),
    };
    pi.latest_charge = Some(charge.id.clone());
    session.paid_email = Some(email.to_string());

    match choice {
        PaymentChoice::Card { number, .. } => match card_behaviour(&number) {
            CardBehaviour::Pays(_) => {
                charge.status = "succeeded";
                pi.status = "succeeded";
                pi.last_payment_error = None;
                session.status = SessionStatus::Complete;
                session.payment_status = PaymentStatus::Paid;
                redeem(store, &session);
                store.charges.insert(charge.id.clone(), charge.clone());
                store.payment_intents.insert(pi.id.clone(), pi.clone());
                store.sessions.insert(session.id.clone(), session.clone());
                let charge_json = charge.to_json(store);
                store.emit("charge.succeeded", charge_json, None);
                store.emit("payment_intent.succeeded", pi.to_json(), None);
                store.emit("checkout.session.completed", session.to_json(), None);
                Ok(PayOutcome::Completed(success_redirect(&session)))
            }
            CardBehaviour::Declines {
                decline_code,
                message,
            } => {
                charge.status = "failed";
                charge.failure_code = Some("card_declined");
                charge.failure_message = Some(message.to_string());
                charge.decline_code = Some(decline_code);
                pi.status = "requires_payment_method";
                pi.last_payment_error = Some(json!({
                    "type": "card_error", "code": "card_declined",
                    "decline_code": decline_code, "message": message,
                    "charge": charge.id, "payment_method_type": "card",
                    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                }));
                // The customer may try again with another card.
                session.paid_email = None;
                store.charges.insert(charge.id.clone(), charge.clone());
                store.payment_intents.insert(pi.id.clone(), pi.clone());
                store.sessions.insert(session.id.clone(), session);
                let charge_json = charge.to_json(store);
                store.emit("charge.failed", charge_json, None);
                store.emit("payment_intent.payment_failed", pi.to_json(), None);
                Ok(PayOutcome::Declined(message.to_string()))
            }
        },
        PaymentChoice::BankDebit { succeeds } => {
            pi.status = "processing";
            pi.last_payment_error = None;
            session.status = SessionStatus::Complete;
            session.payment_status = PaymentStatus::Unpaid;
            session.pending_settlement = Some(PendingSettlement {
                succeeds,
                due_ms: store.clock.now_ms() + store.settlement_delay_ms,
            });
            redeem(store, &session);
            store.charges.insert(charge.id.clone(), charge.clone());
            store.payment_intents.insert(pi.id.clone(), pi.clone());
            store.sessions.insert(session.id.clone(), session.clone());
            let charge_json = charge.to_json(store);
            store.emit("charge.pending", charge_json, None);
            store.emit("payment_intent.processing", pi.to_json(), None);
            store.emit("checkout.session.completed", session.to_json(), None);
            Ok(PayOutcome::Completed(success_redirect(&session)))
        }
    }
}

fn redeem(store: &mut Store, session: &Session) {
    if let Some(promo_id) = &session.promotion_code
        && let Some(promo) = store.promotion_codes.get_mut(promo_id)
    {
        promo.times_redeemed += 1;
        let coupon = promo.coupon.clone();
        if let Some(c) = store.coupons.get_mut(&coupon) {
            c.times_redeemed += 1;
        }
    }
}

/// Settles a pending bank debit now; false when the session has nothing pending.
pub fn settle(store: &mut Store, session_id: &str) -> bool {
    let Some(mut session) = store.sessions.get(session_id).cloned() else {
        return false;
    };
    let Some(pending) = session.pending_settlement.take() else {
        return false;
    };
    let Some(pi_id) = session.payment_intent.clone() else {
        return false;
    };
    let mut pi = store.payment_intents[&pi_id].clone();
    let charge_id = pi.latest_charge.clone().unwrap_or_default();
    let Some(mut charge) = store.charges.get(&charge_id).cloned() else {
        return false;
    };
    if pending.succeeds {
        charge.status = "succeeded";
        pi.status = "succeeded";
        session.payment_status = PaymentStatus::Paid;
    } else {
        charge.status = "failed";
        charge.failure_code = Some("insufficient_funds");
        charge.failure_message =
            Some("The customer's account has insufficient funds to cover this payment.".into());
        pi.status = "requires_payment_method";
        pi.last_payment_error = Some(json!({
            "type": "invalid_request_error", "code": "payment_method_provider_decline",
            "message": "The customer's bank could not debit the account.",
            "charge": charge.id, "payment_method_type": "sepa_debit",
        }));
    }
    store.charges.insert(charge.id.clone(), charge.clone());
    store.payment_intents.insert(pi.id.clone(), pi.clone());
    store.sessions.insert(session.id.clone(), session.clone());
    let charge_json = charge.to_json(store);
    if pending.succeeds {
        store.emit("charge.succeeded", charge_json, None);
        store.emit("payment_intent.succeeded", pi.to_json(), None);
        store.emit(
            "checkout.session.async_payment_succeeded",
            session.to_json(),
            None,
        );
    } else {
        store.emit("charge.failed", charge_json, None);
        store.emit("payment_intent.payment_failed", pi.to_json(), None);
        store.emit(
            "checkout.session.async_payment_failed",
            session.to_json(),
            None,
        );
    }
    true
}

pub fn expire(store: &mut Store, session_id: &str) -> ApiResult<Session> {
    let mut session = store
        .sessions
        .get(session_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("checkout.session", session_id))?;
    if session.status != SessionStatus::Open {
        return Err(ApiError::invalid(format!(
            "Only Checkout Sessions with a status of `open` can be expired. This session has a status of `{}`.",
            session.status.as_str()
        ))
        .param("session"));
    }
    session.status = SessionStatus::Expired;
    store.sessions.insert(session.id.clone(), session.clone());
    if let Some(pi_id) = &session.payment_intent
        && let Some(pi) = store.payment_intents.get_mut(pi_id)
        && pi.status == "requires_payment_method"
    {
        pi.status = "canceled";
        pi.canceled_at = Some(store.clock.now());
        let json = pi.to_json();
        store.emit("payment_intent.canceled", json, None);
    }
    store.emit("checkout.session.expired", session.to_json(), None);
    Ok(session)
}

/// Runs what time makes happen: open sessions past `expires_at` expire and due bank debits settle.
pub fn tick(store: &mut Store) {
    let now = store.now();
    let now_ms = store.clock.now_ms();
    let expired: Vec<String> = store
        .sessions
        .values()
        .filter(|s| s.status == SessionStatus::Open && now >= s.expires_at)
        .map(|s| s.id.clone())
        .collect();
    for id in expired {
        // Only open sessions were collected, so expiring cannot fail here.
        let _ = expire(store, &id);
    }
    let due: Vec<String> = store
        .sessions
        .values()
        .filter(|s| s.pending_settlement.is_some_and(|p| now_ms >= p.due_ms))
        .map(|s| s.id.clone())
        .collect();
    for id in due {
        settle(store, &id);
    }
}

pub fn create_refund(store: &mut Store, p: &Params) -> ApiResult<Refund> {
    let charge_id = match (p.str("charge"), p.str("payment_intent")) {
        (None, None) => {
            return Err(ApiError::invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
            )
            .param("payment_intent"));
        }
        (Some(ch), pi) => {
            let charge = store
                .charges
                .get(ch)
                .ok_or_else(|| ApiError::no_such("charge", ch, "charge"))?;
            if let Some(pi) = pi
                && charge.payment_intent != pi
            {
                return Err(ApiError::invalid(format!(
                    "The charge {ch} does not belong to the payment intent {pi}."
                ))
                .param("charge"));
            }
            ch.to_string()
        }
        (None, Some(pi_id)) => {
            let pi = store
                .payment_intents
                .get(pi_id)
                .ok_or_else(|| ApiError::no_such("payment_intent", pi_id, "payment_intent"))?;
            if pi.status != "succeeded" {
                return Err(ApiError::invalid(format!(
                    "This PaymentIntent ({pi_id}) does not have a successful charge to refund."
                ))
                .param("payment_intent"));
            }
            pi.latest_charge.clone().unwrap_or_default()
        }
    };
    let charge = store.charges[&charge_id].clone();
    if charge.status != "succeeded" {
        return Err(ApiError::invalid(format!(
            "Charge {charge_id} has not succeeded and cannot be refunded."
        ))
        .param("charge"));
    }
    let remaining = charge.remaining();
    if remaining == 0 {
        return Err(
            ApiError::invalid(format!("Charge {charge_id} has already been refunded."))
                .code("charge_already_refunded")
                .param("charge"),
        );
    }
    let amount = p.int("amount").unwrap_or(remaining);
    if amount <= 0 {
        return Err(ApiError::invalid("Refund amount must be a positive integer.").param("amount"));
    }
    if amount > remaining {
        return Err(ApiError::invalid(format!(
            "Refund amount ({}) is greater than unrefunded amount on charge ({}).",
            money::format(amount, &charge.currency),
            money::format(remaining, &charge.currency)
        ))
        .code("amount_too_large")
        .param("amount"));
    }
    let mut metadata = Map::new();
    merge_metadata(&mut metadata, p.raw("metadata"));
    let refund = Refund {
        id: new_id("re_"),
        created: store.now(),
        amount,
        currency: charge.currency.clone(),
        charge: charge_id.clone(),
        payment_intent: charge.payment_intent.clone(),
        reason: p.str("reason").map(str::to_string),
        metadata,
    };
    let before = charge.to_json(store);
    store.refunds.insert(refund.id.clone(), refund.clone());
    if let Some(c) = store.charges.get_mut(&charge_id) {
        c.amount_refunded += amount;
    }
    let after = store.charges[&charge_id].to_json(store);
    store.emit("refund.created", refund.to_json(), None);
    let prev = previous_attributes(&before, &after);
    store.emit("charge.refunded", after, Some(prev));
    Ok(refund)
}
