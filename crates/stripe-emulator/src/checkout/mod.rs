//! The payment journey: a checkout session's totals (discount and tax), its promotion code, its
//! expiry and what the clock makes happen; creating sessions, paying (with settlement) and
//! refunding each have a submodule.

mod payment;
mod refund;
mod session;

pub(crate) use payment::{
    CardBehaviour, card_attaches, card_behaviour, card_brand, redeem, save_address,
};
pub use payment::{PayOutcome, Payer, PaymentChoice, luhn_valid, pay, settle};
pub use refund::create_refund;
pub use session::create_session;

use crate::error::{ApiError, ApiResult};
use crate::model::{
    Coupon, CouponOff, LineItem, LineTax, PromotionCode, Session, SessionStatus, TaxRate,
};
use crate::money;
use crate::store::Store;

/// Stripe's tax code for what is not subject to tax: lines with it are taxed nothing.
pub const NONTAXABLE: &str = "txcd_00000000";

/// Spreads the discount over the lines in proportion and, with automatic tax, taxes each line
/// at the configured rate (a price that includes tax has it taken out of its amount, one that
/// excludes it has it added), so that line totals always add up to the session's totals.
pub fn recompute_totals(store: &Store, session: &mut Session) {
    let coupon = session_coupon(store, session);
    // Only the lines the coupon applies to are discounted, in proportion.
    let weights: Vec<i64> = session
        .line_items
        .iter()
        .map(|l| match coupon {
            Some(c) if c.applies_to_product(line_product(store, l)) => l.amount_subtotal,
            _ => 0,
        })
        .collect();
    let base: i64 = weights.iter().sum();
    let discount = coupon
        .map(|c| match &c.off {
            CouponOff::Percent(h) => money::apply_basis_points(base, *h),
            CouponOff::Amount { .. } => c.amount_in(&session.currency).unwrap_or(0).min(base),
        })
        .unwrap_or(0);
    let discounts = money::allocate(discount, &weights);
    let country = tax_country(store, session);
    for (line, d) in session.line_items.iter_mut().zip(discounts) {
        line.amount_discount = d;
        let exempt = store
            .prices
            .get(&line.price)
            .and_then(|p| store.products.get(&p.product))
            .and_then(|p| p.tax_code.as_deref())
            == Some(NONTAXABLE);
        line.taxes = if session.automatic_tax && !exempt && store.tax_rate_bps > 0 {
            let base = line.amount_subtotal - d;
            let (amount, taxable_amount) = if line.tax_inclusive {
                let tax = money::included_part(base, store.tax_rate_bps);
                (tax, base - tax)
            } else {
                (money::apply_basis_points(base, store.tax_rate_bps), base)
            };
            vec![LineTax {
                rate: TaxRate {
                    bps: store.tax_rate_bps,
                    inclusive: line.tax_inclusive,
                    country: country.clone(),
                },
                amount,
                taxable_amount,
            }]
        } else {
            Vec::new()
        };
    }
}

/// The coupon a session's discount comes from: its promotion code's, or one applied directly.
pub fn session_coupon<'a>(store: &'a Store, session: &Session) -> Option<&'a Coupon> {
    let id = match &session.promotion_code {
        Some(p) => &store.promotion_codes.get(p)?.coupon,
        None => session.coupon.as_ref()?,
    };
    store.coupons.get(id)
}

/// A line item's `discounts` (includable): the session's discount on the line, with the
/// coupon whole and the promotion code by id (expandable), as Stripe renders them.
pub fn line_discounts(store: &Store, session: &Session, line: &LineItem) -> serde_json::Value {
    let Some(coupon) = session_coupon(store, session).filter(|_| line.amount_discount > 0) else {
        return serde_json::json!([]);
    };
    serde_json::json!([{
        "amount": line.amount_discount,
        "discount": {
            "id": format!("di_{}", session.id.trim_start_matches("cs_test_")),
            "object": "discount", "checkout_session": session.id,
            "coupon": coupon.to_json(store.clock.now()), "customer": session.customer,
            "end": null, "invoice": null, "invoice_item": null,
            "promotion_code": session.promotion_code, "start": session.created,
            "subscription": null,
        },
    }])
}

fn line_product<'a>(store: &'a Store, line: &LineItem) -> Option<&'a str> {
    store.prices.get(&line.price).map(|p| p.product.as_str())
}

/// What a discount is checked against: the currency, each line's product (`None` for one made
/// with the session) and subtotal, and the customer.
pub struct Basket<'a> {
    pub currency: &'a str,
    pub lines: Vec<(Option<String>, i64)>,
    pub customer: Option<&'a str>,
}

impl<'a> Basket<'a> {
    pub fn of(store: &Store, session: &'a Session) -> Self {
        Self {
            currency: &session.currency,
            lines: session
                .line_items
                .iter()
                .map(|l| {
                    (
                        line_product(store, l).map(str::to_string),
                        l.amount_subtotal,
                    )
                })
                .collect(),
            customer: session.customer.as_deref(),
        }
    }
}

/// Whether `coupon` (through `promo`, if given) may discount `basket`; the refusal names the
/// code as the customer typed it (`label`).
pub fn check_discount(
    store: &Store,
    basket: &Basket,
    coupon: &Coupon,
    promo: Option<&PromotionCode>,
    label: &str,
) -> Result<(), String> {
    let now = store.now();
    if promo.is_some_and(|p| {
        !p.active
            || p.expires_at.is_some_and(|t| now >= t)
            || p.max_redemptions.is_some_and(|m| p.times_redeemed >= m)
    }) || !coupon.valid(now)
    {
        return Err(format!("The code {label} has expired or been used up."));
    }
    if matches!(coupon.off, CouponOff::Amount { .. }) && coupon.amount_in(basket.currency).is_none()
    {
        return Err(format!("The code {label} is not valid for this currency."));
    }
    if !basket
        .lines
        .iter()
        .any(|(product, _)| coupon.applies_to_product(product.as_deref()))
    {
        return Err(format!(
            "The code {label} does not apply to anything in this order."
        ));
    }
    if let Some(p) = promo {
        if p.first_time_transaction && basket.customer.is_some_and(|c| has_paid(store, c)) {
            return Err(format!(
                "The code {label} is for first-time customers only."
            ));
        }
        let subtotal: i64 = basket.lines.iter().map(|(_, s)| s).sum();
        if let Some((minimum, currency)) = &p.minimum_amount
            && (currency != basket.currency || subtotal < *minimum)
        {
            return Err(format!(
                "The code {label} needs an order of at least {}.",
                money::format(*minimum, currency)
            ));
        }
    }
    Ok(())
}

/// Whether the customer has paid anything yet (a succeeded payment or a paid invoice).
fn has_paid(store: &Store, customer: &str) -> bool {
    store
        .payment_intents
        .values()
        .any(|pi| pi.customer.as_deref() == Some(customer) && pi.status == "succeeded")
        || store
            .invoices
            .values()
            .any(|i| i.customer == customer && i.status == crate::billing::InvoiceStatus::Paid)
}

/// The country tax is due in: the address entered on the page, else the customer's.
fn tax_country(store: &Store, session: &Session) -> Option<String> {
    session
        .paid_address
        .as_ref()
        .and_then(|a| a.country.clone())
        .or_else(|| {
            session
                .customer
                .as_ref()
                .and_then(|c| store.customers.get(c))
                .and_then(|c| c.address.as_ref())
                .and_then(|a| a.country.clone())
        })
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_ascii_uppercase())
}

/// Finds an active promotion code by what the customer typed and checks it fits the session.
pub fn apply_promotion_code(store: &mut Store, session_id: &str, code: &str) -> Result<(), String> {
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
    check_discount(
        store,
        &Basket::of(store, session),
        coupon,
        Some(promo),
        code,
    )?;
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

pub fn success_redirect(session: &Session) -> String {
    session
        .success_url
        .replace("{CHECKOUT_SESSION_ID}", &session.id)
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
