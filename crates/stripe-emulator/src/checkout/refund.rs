//! Refunding a charge, fully or in part, by its id or its PaymentIntent's.

use serde_json::Map;

use crate::error::{ApiError, ApiResult};
use crate::model::{Charge, Refund};
use crate::money;
use crate::params::{Params, merge_metadata};
use crate::store::{Store, new_id, previous_attributes};

pub fn create_refund(store: &mut Store, p: &Params) -> ApiResult<Refund> {
    let charge_id = charge_to_refund(store, p)?;
    let charge = store.charges[&charge_id].clone();
    let amount = refund_amount(p, &charge_id, &charge)?;
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

/// The id of the charge a refund names, by `charge` or by its `payment_intent`'s latest charge.
fn charge_to_refund(store: &Store, p: &Params) -> ApiResult<String> {
    match (p.str("charge"), p.str("payment_intent")) {
        (None, None) => Err(ApiError::invalid(
            "One of the following params should be provided for this request: payment_intent or charge.",
        )
        .param("payment_intent")),
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
            Ok(ch.to_string())
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
            Ok(pi.latest_charge.clone().unwrap_or_default())
        }
    }
}

/// The amount to refund: `amount`, or all that remains, never more than remains.
fn refund_amount(p: &Params, charge_id: &str, charge: &Charge) -> ApiResult<i64> {
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
    Ok(amount)
}
