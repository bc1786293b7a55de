//! Paying a checkout session on the hosted page: Stripe's test cards and bank debits, the
//! PaymentIntent and Charge each attempt makes, and the later settlement of a bank debit.

use serde_json::{Map, json};

use crate::model::{
    Address, Charge, MethodKind, PaidWith, PaymentIntent, PaymentStatus, PendingSettlement,
    Session, SessionMode, SessionStatus,
};
use crate::store::{Store, new_id, previous_attributes};

use super::success_redirect;

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
pub(crate) enum CardBehaviour {
    Pays(&'static str),
    Declines {
        decline_code: &'static str,
        message: &'static str,
    },
}

/// `4000000000000341`: saving the card on a customer succeeds, every charge to it fails.
pub(crate) const ATTACHES_THEN_DECLINES: &str = "4000000000000341";

/// Whether the card can be saved on a customer (every card that pays, and the one that only
/// attaches).
pub(crate) fn card_attaches(number: &str) -> bool {
    number == ATTACHES_THEN_DECLINES || matches!(card_behaviour(number), CardBehaviour::Pays(_))
}

/// The brand a card number shows (declining test cards are all Visa numbers).
pub(crate) fn card_brand(number: &str) -> &'static str {
    match card_behaviour(number) {
        CardBehaviour::Pays(brand) => brand,
        CardBehaviour::Declines { .. } => "visa",
    }
}

pub(crate) fn card_behaviour(number: &str) -> CardBehaviour {
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
        ATTACHES_THEN_DECLINES => CardBehaviour::Declines {
            decline_code: "generic_decline",
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

/// Who pays: the email and, when the page asked for one, the billing address.
#[derive(Debug, Clone)]
pub struct Payer {
    pub email: String,
    pub address: Option<Address>,
    /// `(type, value)`, when the page asked for a tax ID and one was given.
    pub tax_id: Option<(String, String)>,
}

/// Pays an open session; a decline leaves it open and records the failure as Stripe does.
pub fn pay(
    store: &mut Store,
    session_id: &str,
    payer: &Payer,
    choice: PaymentChoice,
) -> Result<PayOutcome, String> {
    let email = payer.email.as_str();
    let now = store.now();
    let mut session = store
        .sessions
        .get(session_id)
        .cloned()
        .ok_or("Unknown session")?;
    if session.status != SessionStatus::Open {
        return Err("This checkout session is no longer open.".into());
    }
    session.paid_address = payer.address.clone();
    session.paid_tax_id = payer.tax_id.clone();
    // The tax is now due where the address entered says.
    super::recompute_totals(store, &mut session);
    if session.mode == SessionMode::Subscription {
        return Ok(crate::billing::subscribe(store, session, payer, choice));
    }
    let amount = session.amount_total();
    if amount == 0 {
        return Ok(complete_without_payment(store, session, email));
    }
    let method = match choice {
        PaymentChoice::Card { .. } => MethodKind::Card,
        PaymentChoice::BankDebit { .. } => MethodKind::BankDebit,
    };
    let pi_id = payment_intent_for(store, &mut session, amount, method, now);
    let mut pi = store.payment_intents[&pi_id].clone();
    pi.amount = amount;
    pi.method = method;
    let charge = new_charge(&session, &pi_id, amount, email, &choice, now);
    pi.latest_charge = Some(charge.id.clone());
    session.paid_email = Some(email.to_string());
    let attempt = PaymentAttempt {
        session,
        pi,
        charge,
    };
    match choice {
        PaymentChoice::Card { number, .. } => match card_behaviour(&number) {
            CardBehaviour::Pays(_) => Ok(card_pays(store, attempt)),
            CardBehaviour::Declines {
                decline_code,
                message,
            } => Ok(card_declines(store, attempt, decline_code, message)),
        },
        PaymentChoice::BankDebit { succeeds } => Ok(bank_debit_submitted(store, attempt, succeeds)),
    }
}

/// A session whose total is zero completes as soon as the customer confirms.
fn complete_without_payment(store: &mut Store, mut session: Session, email: &str) -> PayOutcome {
    session.status = SessionStatus::Complete;
    session.payment_status = PaymentStatus::NoPaymentRequired;
    session.paid_email = Some(email.to_string());
    redeem(store, &session);
    save_address(store, &session);
    let redirect = success_redirect(&session);
    store.sessions.insert(session.id.clone(), session.clone());
    store.emit("checkout.session.completed", session.to_json(), None);
    PayOutcome::Completed(redirect)
}

/// One PaymentIntent per session, reused across attempts, like Checkout does.
fn payment_intent_for(
    store: &mut Store,
    session: &mut Session,
    amount: i64,
    method: MethodKind,
    now: i64,
) -> String {
    if let Some(id) = &session.payment_intent {
        return id.clone();
    }
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
        invoice: None,
    };
    store.payment_intents.insert(id.clone(), pi);
    session.payment_intent = Some(id.clone());
    id
}

/// A pending charge for this attempt; its outcome is set by the method's behaviour.
fn new_charge(
    session: &Session,
    pi_id: &str,
    amount: i64,
    email: &str,
    choice: &PaymentChoice,
    now: i64,
) -> Charge {
    let paid_with = match choice {
        PaymentChoice::Card {
            number,
            exp_month,
            exp_year,
        } => PaidWith::Card {
            brand: card_brand(number),
            last4: number[number.len() - 4..].to_string(),
            exp_month: *exp_month,
            exp_year: *exp_year,
        },
        PaymentChoice::BankDebit { .. } => PaidWith::BankDebit,
    };
    Charge {
        id: new_id("ch_"),
        created: now,
        amount,
        currency: session.currency.clone(),
        payment_intent: pi_id.to_string(),
        customer: session.customer.clone(),
        status: "pending",
        amount_refunded: 0,
        failure_code: None,
        failure_message: None,
        decline_code: None,
        email: Some(email.to_string()),
        billing_address: session.paid_address.clone(),
        paid_with,
        metadata: Map::new(),
        invoice: None,
    }
}

/// The objects one payment attempt changes, stored together once its outcome is known.
struct PaymentAttempt {
    session: Session,
    pi: PaymentIntent,
    charge: Charge,
}

impl PaymentAttempt {
    fn store(&self, store: &mut Store) {
        store
            .charges
            .insert(self.charge.id.clone(), self.charge.clone());
        store
            .payment_intents
            .insert(self.pi.id.clone(), self.pi.clone());
        store
            .sessions
            .insert(self.session.id.clone(), self.session.clone());
    }
}

fn card_pays(store: &mut Store, mut a: PaymentAttempt) -> PayOutcome {
    a.charge.status = "succeeded";
    a.pi.status = "succeeded";
    a.pi.last_payment_error = None;
    a.session.status = SessionStatus::Complete;
    a.session.payment_status = PaymentStatus::Paid;
    redeem(store, &a.session);
    save_address(store, &a.session);
    a.store(store);
    let charge_json = a.charge.to_json(store);
    store.emit("charge.succeeded", charge_json, None);
    store.emit("payment_intent.succeeded", a.pi.to_json(), None);
    store.emit("checkout.session.completed", a.session.to_json(), None);
    PayOutcome::Completed(success_redirect(&a.session))
}

fn card_declines(
    store: &mut Store,
    mut a: PaymentAttempt,
    decline_code: &'static str,
    message: &'static str,
) -> PayOutcome {
    a.charge.status = "failed";
    a.charge.failure_code = Some("card_declined");
    a.charge.failure_message = Some(message.to_string());
    a.charge.decline_code = Some(decline_code);
    a.pi.status = "requires_payment_method";
    a.pi.last_payment_error = Some(json!({
        "type": "card_error", "code": "card_declined",
        "decline_code": decline_code, "message": message,
        "charge": a.charge.id, "payment_method_type": "card",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
    }));
    // The customer may try again with another card.
    a.session.paid_email = None;
    a.session.paid_address = None;
    a.session.paid_tax_id = None;
    a.store(store);
    let charge_json = a.charge.to_json(store);
    store.emit("charge.failed", charge_json, None);
    store.emit("payment_intent.payment_failed", a.pi.to_json(), None);
    PayOutcome::Declined(message.to_string())
}

/// The session completes at once; the debit settles after the configured delay.
fn bank_debit_submitted(store: &mut Store, mut a: PaymentAttempt, succeeds: bool) -> PayOutcome {
    a.pi.status = "processing";
    a.pi.last_payment_error = None;
    a.session.status = SessionStatus::Complete;
    a.session.payment_status = PaymentStatus::Unpaid;
    a.session.pending_settlement = Some(PendingSettlement {
        succeeds,
        due_ms: store.clock.now_ms() + store.settlement_delay_ms,
    });
    redeem(store, &a.session);
    save_address(store, &a.session);
    a.store(store);
    let charge_json = a.charge.to_json(store);
    store.emit("charge.pending", charge_json, None);
    store.emit("payment_intent.processing", a.pi.to_json(), None);
    store.emit("checkout.session.completed", a.session.to_json(), None);
    PayOutcome::Completed(success_redirect(&a.session))
}

pub(crate) fn redeem(store: &mut Store, session: &Session) {
    let coupon = match &session.promotion_code {
        Some(promo_id) => store.promotion_codes.get_mut(promo_id).map(|promo| {
            promo.times_redeemed += 1;
            promo.coupon.clone()
        }),
        None => session.coupon.clone(),
    };
    if let Some(c) = coupon.and_then(|c| store.coupons.get_mut(&c)) {
        c.times_redeemed += 1;
    }
}

/// With `customer_update[address]=auto`, the address the customer entered becomes the
/// customer's, when the session completes (`customer.updated`).
pub(crate) fn save_address(store: &mut Store, session: &Session) {
    if !session.save_address_to_customer {
        return;
    }
    let (Some(address), Some(customer_id)) = (&session.paid_address, &session.customer) else {
        return;
    };
    let Some(customer) = store.customers.get_mut(customer_id) else {
        return;
    };
    if customer.address.as_ref() == Some(address) {
        return;
    }
    let before = customer.to_json();
    customer.address = Some(address.clone());
    let after = customer.to_json();
    let prev = previous_attributes(&before, &after);
    store.emit("customer.updated", after, Some(prev));
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
