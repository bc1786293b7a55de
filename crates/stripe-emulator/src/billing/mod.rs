//! Stripe Billing: subscriptions started by a subscription-mode Checkout Session, their invoices
//! (each finalized, numbered and charged to the saved card), renewals when the clock passes a
//! period's end, failed renewals (past due) and paying an open invoice, cancelling now or at
//! the period's end, and paused collection.
//!
//! Simplifications, each documented in the README: no proration (quantity and price changes
//! apply from the next period, Stripe's `proration_behavior=none`), no automatic retries of a
//! failed invoice (a past-due subscription keeps renewing and its invoices stay open until
//! paid), and a discount or tax computed at checkout applies to the first invoice only.

pub mod objects;
pub mod pdf;

use chrono::{DateTime, Months};
use serde_json::Value;

use crate::checkout::{self, CardBehaviour, PayOutcome, Payer, PaymentChoice};
use crate::model::{
    Charge, Customer, MethodKind, PaidWith, PaymentIntent, PaymentStatus, Recurring, Session,
    SessionStatus,
};
use crate::store::{Store, new_id, previous_attributes};
pub use objects::{
    Invoice, InvoiceLine, InvoiceStatus, PauseBehavior, PaymentMethod, PortalSession, Subscription,
    SubscriptionItem, SubscriptionStatus,
};

/// The end of the `n`th period after `anchor`. Months and years are counted on the calendar
/// from the anchor (a period ending on the 31st ends on the last day of shorter months).
pub fn period_end(anchor: i64, recurring: &Recurring, n: i64) -> i64 {
    let steps = recurring.interval_count * n;
    let months = match recurring.interval.as_str() {
        "day" => return anchor + steps * 86_400,
        "week" => return anchor + steps * 7 * 86_400,
        "year" => steps * 12,
        _ => steps,
    };
    let start = DateTime::from_timestamp(anchor, 0).unwrap_or_default();
    u32::try_from(months)
        .ok()
        .and_then(|m| start.checked_add_months(Months::new(m)))
        .map_or(i64::MAX, |t| t.timestamp())
}

/// "month", "3 months": a period as the hosted pages write it.
pub fn period_words(recurring: &Recurring) -> String {
    if recurring.interval_count == 1 {
        recurring.interval.clone()
    } else {
        format!("{} {}s", recurring.interval_count, recurring.interval)
    }
}

/// Completes a subscription-mode session paid by card: the customer (made if the session named
/// none), the card saved on it, the subscription, and its first invoice — the recurring lines'
/// first period (free in a trial) and the one-time lines — charged at once. A card that would
/// be declined leaves the session open with nothing created.
pub fn subscribe(
    store: &mut Store,
    mut session: Session,
    payer: &Payer,
    choice: PaymentChoice,
) -> PayOutcome {
    let PaymentChoice::Card {
        number,
        exp_month,
        exp_year,
    } = choice
    else {
        return PayOutcome::Declined(
            "Subscriptions are paid by card here: bank debits are for one-time payments.".into(),
        );
    };
    let amount = session.amount_total();
    let refusal = match checkout::card_behaviour(&number) {
        CardBehaviour::Declines { message, .. } if amount > 0 => Some(message),
        _ if !checkout::card_attaches(&number) => Some("Your card was declined."),
        _ => None,
    };
    if let Some(message) = refusal {
        return PayOutcome::Declined(message.to_string());
    }
    let now = store.now();
    let email = payer.email.clone();
    let customer = ensure_customer(store, &mut session, &email);
    let pm = save_card(store, &customer, &email, &number, exp_month, exp_year);
    let sub = start_subscription(store, &session, &customer, &pm, now);
    let invoice = first_invoice(store, &session, &sub, now);
    let invoice_id = invoice.id.clone();
    store.invoices.insert(invoice_id.clone(), invoice);
    finalize(store, &invoice_id);
    if amount > 0 {
        // The card was checked above: this charge succeeds.
        let _ = charge_invoice(store, &invoice_id, &pm);
    } else {
        mark_paid(store, &invoice_id);
    }
    session.status = SessionStatus::Complete;
    session.payment_status = if amount > 0 {
        PaymentStatus::Paid
    } else {
        PaymentStatus::NoPaymentRequired
    };
    session.paid_email = Some(email);
    session.subscription = Some(sub);
    session.invoice = Some(invoice_id);
    checkout::redeem(store, &session);
    checkout::save_address(store, &session);
    let redirect = checkout::success_redirect(&session);
    store.sessions.insert(session.id.clone(), session.clone());
    store.emit("checkout.session.completed", session.to_json(), None);
    PayOutcome::Completed(redirect)
}

/// The session's customer, or a new one with the payer's email (`customer.created`).
fn ensure_customer(store: &mut Store, session: &mut Session, email: &str) -> String {
    if let Some(id) = &session.customer {
        return id.clone();
    }
    let customer = Customer {
        id: new_id("cus_"),
        created: store.now(),
        email: Some(email.to_string()),
        name: None,
        phone: None,
        description: None,
        address: session.paid_address.clone(),
        metadata: serde_json::Map::new(),
        next_invoice_sequence: 1,
        default_payment_method: None,
    };
    let id = customer.id.clone();
    store.customers.insert(id.clone(), customer.clone());
    store.emit("customer.created", customer.to_json(), None);
    session.customer = Some(id.clone());
    id
}

/// Saves a card on the customer and makes it their default (`payment_method.attached`).
pub fn save_card(
    store: &mut Store,
    customer: &str,
    email: &str,
    number: &str,
    exp_month: i64,
    exp_year: i64,
) -> String {
    let pm = PaymentMethod {
        id: new_id("pm_"),
        created: store.now(),
        customer: Some(customer.to_string()),
        email: Some(email.to_string()),
        brand: checkout::card_brand(number),
        last4: number[number.len().saturating_sub(4)..].to_string(),
        exp_month,
        exp_year,
        number: number.to_string(),
    };
    let id = pm.id.clone();
    store.emit("payment_method.attached", pm.to_json(), None);
    store.payment_methods.insert(id.clone(), pm);
    if let Some(c) = store.customers.get_mut(customer) {
        c.default_payment_method = Some(id.clone());
    }
    id
}

/// The session's recurring lines as a subscription (`customer.subscription.created`): trialing
/// until the trial's end, which anchors its periods, or active with its first period from now.
fn start_subscription(
    store: &mut Store,
    session: &Session,
    customer: &str,
    pm: &str,
    now: i64,
) -> String {
    let recurring_lines: Vec<(&str, i64, Recurring)> = session
        .line_items
        .iter()
        .filter_map(|l| {
            let recurring = store.prices.get(&l.price)?.recurring.clone()?;
            Some((l.price.as_str(), l.quantity, recurring))
        })
        .collect();
    // Checkout refused a subscription session without a recurring line.
    let recurring = recurring_lines[0].2.clone();
    let trial_end = session
        .subscription_data
        .trial_period_days
        .map(|d| now + d * 86_400);
    let anchor = trial_end.unwrap_or(now);
    let periods = i64::from(trial_end.is_none());
    let sub = Subscription {
        id: new_id("sub_"),
        created: now,
        customer: customer.to_string(),
        currency: session.currency.clone(),
        status: if trial_end.is_some() {
            SubscriptionStatus::Trialing
        } else {
            SubscriptionStatus::Active
        },
        items: recurring_lines
            .iter()
            .map(|(price, quantity, _)| SubscriptionItem {
                id: new_id("si_"),
                created: now,
                price: price.to_string(),
                quantity: *quantity,
            })
            .collect(),
        billing_cycle_anchor: anchor,
        current_period_start: now,
        current_period_end: period_end(anchor, &recurring, periods),
        periods,
        recurring,
        cancel_at_period_end: false,
        canceled_at: None,
        ended_at: None,
        trial_start: trial_end.map(|_| now),
        trial_end,
        pause_collection: None,
        default_payment_method: Some(pm.to_string()),
        latest_invoice: None,
        description: session.subscription_data.description.clone(),
        metadata: session.subscription_data.metadata.clone(),
    };
    let id = sub.id.clone();
    let json = sub.to_json(store);
    store.subscriptions.insert(id.clone(), sub);
    store.emit("customer.subscription.created", json, None);
    id
}

/// A line's description as Stripe writes it: "1 × Retainer (at $149.00 / month)".
fn item_description(store: &Store, price_id: &str, quantity: i64) -> String {
    let Some(price) = store.prices.get(price_id) else {
        return String::new();
    };
    let name = store
        .products
        .get(&price.product)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    match &price.recurring {
        Some(r) => format!(
            "{quantity} × {name} (at {} / {})",
            crate::money::format(price.unit_amount, &price.currency),
            period_words(r)
        ),
        None => name,
    }
}

/// The first invoice: the session's lines with the amounts Checkout showed (discount and tax
/// included), recurring lines over the first period (or the trial).
fn first_invoice(store: &mut Store, session: &Session, sub_id: &str, now: i64) -> Invoice {
    let sub = &store.subscriptions[sub_id];
    let in_trial = sub.status == SubscriptionStatus::Trialing;
    let lines = session
        .line_items
        .iter()
        .map(|l| {
            let item = sub.items.iter().find(|i| i.price == l.price);
            let description = match item {
                Some(_) if in_trial => format!("Trial period for {}", l.description),
                _ => item_description(store, &l.price, l.quantity),
            };
            let (start, end) = match item {
                Some(_) => (sub.current_period_start, sub.current_period_end),
                None => (now, now),
            };
            InvoiceLine {
                id: new_id("il_"),
                price: l.price.clone(),
                quantity: l.quantity,
                description,
                amount: l.amount_subtotal,
                discount: l.amount_discount,
                tax: l.tax_added(),
                period_start: start,
                period_end: end,
                subscription_item: item.map(|i| i.id.clone()),
            }
        })
        .collect();
    let (start, end) = (sub.current_period_start, sub.current_period_start);
    new_invoice(store, sub_id, "subscription_create", lines, start, end)
}

/// A draft invoice of a subscription (`invoice.created` is emitted when it is finalized or,
/// for a kept draft, when it is stored).
fn new_invoice(
    store: &Store,
    sub_id: &str,
    billing_reason: &'static str,
    lines: Vec<InvoiceLine>,
    period_start: i64,
    period_end: i64,
) -> Invoice {
    let sub = &store.subscriptions[sub_id];
    let customer = store.customers.get(&sub.customer);
    Invoice {
        id: new_id("in_"),
        created: store.now(),
        customer: sub.customer.clone(),
        subscription: Some(sub.id.clone()),
        currency: sub.currency.clone(),
        number: None,
        status: InvoiceStatus::Draft,
        billing_reason,
        lines,
        period_start,
        period_end,
        attempt_count: 0,
        payment_intent: None,
        charge: None,
        finalized_at: None,
        paid_at: None,
        voided_at: None,
        marked_uncollectible_at: None,
        customer_email: customer.and_then(|c| c.email.clone()),
        customer_name: customer.and_then(|c| c.name.clone()),
        subscription_metadata: Some(sub.metadata.clone()),
    }
}

/// Emits an invoice's event with its current state.
fn emit_invoice(store: &mut Store, kind: &str, invoice_id: &str) {
    let json = store.invoices[invoice_id].to_json(store);
    store.emit(kind, json, None);
}

/// Numbers a draft invoice from its customer's sequence and opens it (`invoice.created`,
/// `invoice.finalized`); the subscription's latest invoice becomes this one.
fn finalize(store: &mut Store, invoice_id: &str) {
    let now = store.now();
    let customer_id = store.invoices[invoice_id].customer.clone();
    let number = store.customers.get_mut(&customer_id).map(|c| {
        let n = c.next_invoice_sequence;
        c.next_invoice_sequence += 1;
        format!("{}-{n:04}", c.invoice_prefix())
    });
    let invoice = store.invoices.get_mut(invoice_id).expect("stored invoice");
    invoice.number = number;
    invoice.status = InvoiceStatus::Open;
    invoice.finalized_at = Some(now);
    let sub_id = invoice.subscription.clone();
    if let Some(sub) = sub_id.and_then(|s| store.subscriptions.get_mut(&s)) {
        sub.latest_invoice = Some(invoice_id.to_string());
    }
    emit_invoice(store, "invoice.created", invoice_id);
    emit_invoice(store, "invoice.finalized", invoice_id);
}

/// Marks an open invoice paid (`invoice.paid`, `invoice.payment_succeeded`).
fn mark_paid(store: &mut Store, invoice_id: &str) {
    let now = store.now();
    let invoice = store.invoices.get_mut(invoice_id).expect("stored invoice");
    invoice.status = InvoiceStatus::Paid;
    invoice.paid_at = Some(now);
    emit_invoice(store, "invoice.paid", invoice_id);
    emit_invoice(store, "invoice.payment_succeeded", invoice_id);
}

/// Charges an open invoice's total to a saved card, with its PaymentIntent and Charge and their
/// events; on success the invoice is paid, on a decline it stays open with the attempt counted
/// (`invoice.payment_failed`) and the decline's message is returned.
fn charge_invoice(store: &mut Store, invoice_id: &str, pm_id: &str) -> Result<(), String> {
    let now = store.now();
    let invoice = store.invoices[invoice_id].clone();
    let pm = store.payment_methods[pm_id].clone();
    let (brand, decline) = match checkout::card_behaviour(&pm.number) {
        CardBehaviour::Pays(brand) => (brand, None),
        CardBehaviour::Declines {
            decline_code,
            message,
        } => (pm.brand, Some((decline_code, message))),
    };
    let pi_id = invoice
        .payment_intent
        .clone()
        .unwrap_or_else(|| new_id("pi_"));
    let charge = Charge {
        id: new_id("ch_"),
        created: now,
        amount: invoice.total(),
        currency: invoice.currency.clone(),
        payment_intent: pi_id.clone(),
        customer: Some(invoice.customer.clone()),
        status: if decline.is_some() {
            "failed"
        } else {
            "succeeded"
        },
        amount_refunded: 0,
        failure_code: decline.map(|_| "card_declined"),
        failure_message: decline.map(|(_, m)| m.to_string()),
        decline_code: decline.map(|(code, _)| code),
        email: pm.email.clone(),
        billing_address: None,
        paid_with: PaidWith::Card {
            brand,
            last4: pm.last4.clone(),
            exp_month: pm.exp_month,
            exp_year: pm.exp_year,
        },
        metadata: serde_json::Map::new(),
        invoice: Some(invoice_id.to_string()),
    };
    let pi = PaymentIntent {
        id: pi_id.clone(),
        created: now,
        amount: invoice.total(),
        currency: invoice.currency.clone(),
        status: if decline.is_some() {
            "requires_payment_method"
        } else {
            "succeeded"
        },
        customer: Some(invoice.customer.clone()),
        description: Some("Subscription update".into()),
        metadata: serde_json::Map::new(),
        latest_charge: Some(charge.id.clone()),
        last_payment_error: decline.map(|(code, message)| {
            serde_json::json!({
                "type": "card_error", "code": "card_declined", "decline_code": code,
                "message": message, "charge": charge.id, "payment_method_type": "card",
            })
        }),
        method: MethodKind::Card,
        canceled_at: None,
        client_secret: format!("{pi_id}_secret_{}", &new_id("")[..16]),
        invoice: Some(invoice_id.to_string()),
    };
    store.charges.insert(charge.id.clone(), charge.clone());
    store.payment_intents.insert(pi_id.clone(), pi.clone());
    {
        let stored = store.invoices.get_mut(invoice_id).expect("stored invoice");
        stored.payment_intent = Some(pi_id);
        stored.charge = Some(charge.id.clone());
        stored.attempt_count += 1;
    }
    let charge_json = charge.to_json(store);
    match decline {
        None => {
            store.emit("charge.succeeded", charge_json, None);
            store.emit("payment_intent.succeeded", pi.to_json(), None);
            mark_paid(store, invoice_id);
            Ok(())
        }
        Some((_, message)) => {
            store.emit("charge.failed", charge_json, None);
            store.emit("payment_intent.payment_failed", pi.to_json(), None);
            emit_invoice(store, "invoice.payment_failed", invoice_id);
            Err(message.to_string())
        }
    }
}

/// Stores a changed subscription and emits `customer.subscription.updated` with what changed.
fn update(store: &mut Store, sub: Subscription, before: &Value) {
    let after = sub.to_json(store);
    store.subscriptions.insert(sub.id.clone(), sub);
    let previous = previous_attributes(before, &after);
    store.emit("customer.subscription.updated", after, Some(previous));
}

/// Sets a subscription's status (after an invoice failed or was paid), with its event.
fn set_status(store: &mut Store, sub_id: &str, status: SubscriptionStatus) {
    let Some(sub) = store.subscriptions.get(sub_id).cloned() else {
        return;
    };
    if sub.status == status || sub.status == SubscriptionStatus::Canceled {
        return;
    }
    let before = sub.to_json(store);
    update(store, Subscription { status, ..sub }, &before);
}

/// Ends a subscription at `at` (`customer.subscription.deleted`); its open invoices stay open.
pub fn end(store: &mut Store, sub_id: &str, at: i64) {
    let Some(mut sub) = store.subscriptions.get(sub_id).cloned() else {
        return;
    };
    sub.status = SubscriptionStatus::Canceled;
    sub.ended_at = Some(at);
    sub.canceled_at = sub.canceled_at.or(Some(at));
    let json = sub.to_json(store);
    store.subscriptions.insert(sub.id.clone(), sub);
    store.emit("customer.subscription.deleted", json, None);
}

/// Renews every subscription whose period has ended, as many periods as the clock has passed;
/// a subscription set to cancel at its period's end ends instead.
pub fn renew_due(store: &mut Store) {
    let now = store.now();
    let due: Vec<String> = store
        .subscriptions
        .values()
        .filter(|s| s.status != SubscriptionStatus::Canceled && s.current_period_end <= now)
        .map(|s| s.id.clone())
        .collect();
    for id in due {
        while let Some(sub) = store.subscriptions.get(&id)
            && sub.status != SubscriptionStatus::Canceled
            && sub.current_period_end <= now
        {
            renew_once(store, &id);
        }
    }
}

/// Moves a subscription into its next period (`customer.subscription.updated`) and invoices it:
/// charged to the saved card, or left as paused collection says.
fn renew_once(store: &mut Store, sub_id: &str) {
    let mut sub = store.subscriptions[sub_id].clone();
    if sub.cancel_at_period_end {
        end(store, sub_id, sub.current_period_end);
        return;
    }
    let before = sub.to_json(store);
    let previous_start = sub.current_period_start;
    sub.periods += 1;
    sub.current_period_start = sub.current_period_end;
    sub.current_period_end = period_end(sub.billing_cycle_anchor, &sub.recurring, sub.periods);
    if sub.status == SubscriptionStatus::Trialing {
        sub.status = SubscriptionStatus::Active;
    }
    let (start, end) = (sub.current_period_start, sub.current_period_end);
    let pause = sub.pause_collection;
    let pm = sub.default_payment_method.clone();
    update(store, sub, &before);
    let lines = store.subscriptions[sub_id]
        .items
        .iter()
        .map(|item| {
            let unit = store.prices.get(&item.price).map_or(0, |p| p.unit_amount);
            InvoiceLine {
                id: new_id("il_"),
                price: item.price.clone(),
                quantity: item.quantity,
                description: item_description(store, &item.price, item.quantity),
                amount: unit * item.quantity,
                discount: 0,
                tax: 0,
                period_start: start,
                period_end: end,
                subscription_item: Some(item.id.clone()),
            }
        })
        .collect();
    // Like Stripe, a renewal invoice's own period is the one that just ended; its lines carry
    // the period they bill.
    let invoice = new_invoice(
        store,
        sub_id,
        "subscription_cycle",
        lines,
        previous_start,
        start,
    );
    let invoice_id = invoice.id.clone();
    store.invoices.insert(invoice_id.clone(), invoice);
    collect(store, sub_id, &invoice_id, pause, pm.as_deref());
}

/// Collects a renewal's invoice: kept as a draft, voided or marked uncollectible while collection
/// is paused; otherwise finalized and charged, a failure making the subscription past due.
fn collect(
    store: &mut Store,
    sub_id: &str,
    invoice_id: &str,
    pause: Option<PauseBehavior>,
    pm: Option<&str>,
) {
    let now = store.now();
    if pause == Some(PauseBehavior::KeepAsDraft) {
        emit_invoice(store, "invoice.created", invoice_id);
        return;
    }
    finalize(store, invoice_id);
    let closed = match pause {
        Some(PauseBehavior::Void) => Some((InvoiceStatus::Void, "invoice.voided")),
        Some(PauseBehavior::MarkUncollectible) => {
            Some((InvoiceStatus::Uncollectible, "invoice.marked_uncollectible"))
        }
        _ => None,
    };
    if let Some((status, event)) = closed {
        let invoice = store.invoices.get_mut(invoice_id).expect("stored invoice");
        invoice.status = status;
        if status == InvoiceStatus::Void {
            invoice.voided_at = Some(now);
        } else {
            invoice.marked_uncollectible_at = Some(now);
        }
        emit_invoice(store, event, invoice_id);
        return;
    }
    if store.invoices[invoice_id].total() == 0 {
        mark_paid(store, invoice_id);
        return;
    }
    let paid = match pm.filter(|p| store.payment_methods.contains_key(*p)) {
        Some(pm) => charge_invoice(store, invoice_id, pm).is_ok(),
        None => {
            emit_invoice(store, "invoice.payment_failed", invoice_id);
            false
        }
    };
    if !paid {
        set_status(store, sub_id, SubscriptionStatus::PastDue);
    }
}

/// Pays an open invoice: with a card entered on the hosted invoice page (saved on the customer
/// and made the subscription's card, so later renewals use it) or else the saved card. Once a
/// past-due subscription has no open invoice left it is active again.
pub fn pay_invoice(
    store: &mut Store,
    invoice_id: &str,
    card: Option<(&str, i64, i64)>,
) -> Result<(), String> {
    let invoice = store
        .invoices
        .get(invoice_id)
        .cloned()
        .ok_or("No such invoice.")?;
    if invoice.status != InvoiceStatus::Open {
        return Err(format!(
            "This invoice is {} and cannot be paid.",
            invoice.status.as_str()
        ));
    }
    let sub_id = invoice.subscription.clone().unwrap_or_default();
    let pm = match card {
        Some((number, exp_month, exp_year)) => {
            if !checkout::card_attaches(number) {
                return Err("Your card was declined.".into());
            }
            let email = invoice.customer_email.clone().unwrap_or_default();
            let pm = save_card(
                store,
                &invoice.customer,
                &email,
                number,
                exp_month,
                exp_year,
            );
            if let Some(sub) = store.subscriptions.get_mut(&sub_id) {
                sub.default_payment_method = Some(pm.clone());
            }
            pm
        }
        None => store
            .subscriptions
            .get(&sub_id)
            .and_then(|s| s.default_payment_method.clone())
            .or_else(|| {
                store
                    .customers
                    .get(&invoice.customer)
                    .and_then(|c| c.default_payment_method.clone())
            })
            .ok_or("There is no saved card to charge.")?,
    };
    charge_invoice(store, invoice_id, &pm)?;
    let still_open = store
        .invoices
        .values()
        .any(|i| i.subscription.as_deref() == Some(&sub_id) && i.status == InvoiceStatus::Open);
    if !still_open
        && store
            .subscriptions
            .get(&sub_id)
            .is_some_and(|s| s.status == SubscriptionStatus::PastDue)
    {
        set_status(store, &sub_id, SubscriptionStatus::Active);
    }
    Ok(())
}

/// The changes `POST /v1/subscriptions/{id}` may make (checked by the endpoint).
#[derive(Debug, Default)]
pub struct Changes {
    pub cancel_at_period_end: Option<bool>,
    /// `Some(None)` resumes collection.
    pub pause_collection: Option<Option<PauseBehavior>>,
    /// Item id, new price (if any), new quantity (if any).
    pub items: Vec<(String, Option<String>, Option<i64>)>,
    pub default_payment_method: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<Value>,
}

/// Applies checked changes (`customer.subscription.updated` when anything changed). Setting
/// `cancel_at_period_end` records `canceled_at`, as Stripe does; unsetting it clears it.
pub fn change(store: &mut Store, sub_id: &str, changes: Changes) -> Subscription {
    let mut sub = store.subscriptions[sub_id].clone();
    let before = sub.to_json(store);
    if let Some(cancel) = changes.cancel_at_period_end {
        sub.cancel_at_period_end = cancel;
        sub.canceled_at = cancel.then(|| store.now());
    }
    if let Some(pause) = changes.pause_collection {
        sub.pause_collection = pause;
    }
    for (item_id, price, quantity) in changes.items {
        if let Some(item) = sub.items.iter_mut().find(|i| i.id == item_id) {
            if let Some(price) = price {
                item.price = price;
            }
            if let Some(quantity) = quantity {
                item.quantity = quantity;
            }
        }
    }
    if let Some(pm) = changes.default_payment_method {
        sub.default_payment_method = Some(pm);
    }
    if let Some(description) = changes.description {
        sub.description = Some(description);
    }
    crate::params::merge_metadata(&mut sub.metadata, changes.metadata.as_ref());
    if sub.to_json(store) != before {
        update(store, sub.clone(), &before);
    }
    sub
}
