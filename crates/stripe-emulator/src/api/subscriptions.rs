//! The subscriptions endpoints: retrieve, list, update (cancel at period end, pause collection,
//! quantity and price from the next period, card, metadata) and cancel now. Subscriptions are
//! made by Checkout in `subscription` mode; their lifecycle is in `billing`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{App, RawParams, list, respond};
use crate::billing::{self, Changes, PauseBehavior, SubscriptionStatus};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::schema::Op;
use crate::store::Store;

fn find<'a>(store: &'a Store, id: &str) -> ApiResult<&'a billing::Subscription> {
    store
        .subscriptions
        .get(id)
        .ok_or_else(|| ApiError::not_found("subscription", id))
}

pub async fn retrieve_subscription(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrieveSubscription)?;
    let store = app.store();
    let sub = find(&store, &id)?;
    respond(&store, sub.to_json(&store), &p)
}

/// Stripe lists every status but `canceled` unless `status` says otherwise (`all`, `ended`).
pub async fn list_subscriptions(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListSubscriptions)?;
    let store = app.store();
    let status = p.str("status");
    let items = store
        .subscriptions
        .values()
        .rev()
        .filter(|s| p.str("customer").is_none_or(|c| s.customer == c))
        .filter(|s| {
            p.str("price")
                .is_none_or(|pr| s.items.iter().any(|i| i.price == pr))
        })
        .filter(|s| match status {
            None => s.status != SubscriptionStatus::Canceled,
            Some("all") => true,
            Some("ended") => s.status == SubscriptionStatus::Canceled,
            Some(wanted) => s.status.as_str() == wanted,
        })
        .map(|s| s.to_json(&store))
        .collect();
    list(&store, items, "/v1/subscriptions", &p)
}

pub async fn update_subscription(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::UpdateSubscription)?;
    let mut store = app.store();
    let sub = find(&store, &id)?;
    if sub.status == SubscriptionStatus::Canceled {
        return Err(ApiError::invalid(
            "A canceled subscription can only update its cancellation_details.",
        ));
    }
    let changes = changes_of(&store, sub, &p)?;
    let sub = billing::change(&mut store, &id, changes);
    respond(&store, sub.to_json(&store), &p)
}

/// Checks an update's parameters against the subscription and the store.
fn changes_of(store: &Store, sub: &billing::Subscription, p: &Params) -> ApiResult<Changes> {
    // The emulator does not prorate: changes apply from the next period, which is Stripe's
    // `proration_behavior=none` (also what an omitted value means here).
    if let Some(other) = p.str("proration_behavior").filter(|b| *b != "none") {
        return Err(ApiError::invalid(format!(
            "The emulator does not prorate: `proration_behavior` must be `none`, not `{other}`."
        ))
        .param("proration_behavior"));
    }
    let pause_collection = match p.raw("pause_collection") {
        None => None,
        Some(Value::String(_)) => Some(None),
        Some(_) => Some(
            p.obj("pause_collection")
                .and_then(|o| o.str("behavior").and_then(PauseBehavior::parse)),
        ),
    };
    let mut items = Vec::new();
    for (i, raw) in p.list("items").iter().enumerate() {
        let item = Params(raw.as_object().cloned().unwrap_or_default());
        let at = |k: &str| format!("items[{i}][{k}]");
        let item_id = item.str("id").ok_or_else(|| {
            ApiError::invalid("The emulator changes existing items only: give each item's `id`.")
                .param(at("id"))
        })?;
        if !sub.items.iter().any(|x| x.id == item_id) {
            return Err(ApiError::invalid(format!(
                "The subscription item {item_id} does not belong to this subscription."
            ))
            .param(at("id")));
        }
        let quantity = item.int("quantity");
        if quantity.is_some_and(|q| !(1..=999_999).contains(&q)) {
            return Err(
                ApiError::invalid("Quantity must be between 1 and 999999.").param(at("quantity"))
            );
        }
        let price = item.str("price").map(str::to_string);
        if let Some(price_id) = &price {
            let price = store
                .prices
                .get(price_id)
                .ok_or_else(|| ApiError::no_such("price", price_id, &at("price")))?;
            if price.currency != sub.currency || price.recurring.as_ref() != Some(&sub.recurring) {
                return Err(ApiError::invalid(
                    "The price must be recurring on the subscription's interval and in its currency.",
                )
                .param(at("price")));
            }
        }
        items.push((item_id.to_string(), price, quantity));
    }
    let default_payment_method = p.str("default_payment_method").map(str::to_string);
    if let Some(pm) = &default_payment_method
        && store
            .payment_methods
            .get(pm)
            .is_none_or(|m| m.customer.as_deref() != Some(&sub.customer))
    {
        return Err(ApiError::no_such(
            "payment_method",
            pm,
            "default_payment_method",
        ));
    }
    Ok(Changes {
        cancel_at_period_end: p.bool("cancel_at_period_end"),
        pause_collection,
        items,
        default_payment_method,
        description: p.str("description").map(str::to_string),
        metadata: p.raw("metadata").cloned(),
    })
}

/// Cancels at once (`customer.subscription.deleted`); open invoices stay open.
pub async fn cancel_subscription(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CancelSubscription)?;
    if p.bool("invoice_now") == Some(true) || p.bool("prorate") == Some(true) {
        return Err(ApiError::invalid(
            "The emulator cancels without a final invoice: `invoice_now` and `prorate` must be false.",
        ));
    }
    let mut store = app.store();
    if find(&store, &id)?.status == SubscriptionStatus::Canceled {
        return Err(ApiError::invalid(format!(
            "The subscription {id} has already been canceled."
        )));
    }
    let now = store.now();
    billing::end(&mut store, &id, now);
    let sub = find(&store, &id)?;
    respond(&store, sub.to_json(&store), &p)
}
