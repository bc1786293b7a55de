//! Retrieving and listing payment intents and charges, which only paying a checkout session
//! creates.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{App, RawParams, list, respond};
use crate::error::{ApiError, ApiResult};
use crate::schema::Op;

pub async fn retrieve_payment_intent(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrievePaymentIntent)?;
    let store = app.store();
    let pi = store
        .payment_intents
        .get(&id)
        .ok_or_else(|| ApiError::not_found("payment_intent", &id))?;
    respond(&store, pi.to_json(), &p)
}

pub async fn retrieve_charge(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrieveCharge)?;
    let store = app.store();
    let charge = store
        .charges
        .get(&id)
        .ok_or_else(|| ApiError::not_found("charge", &id))?;
    respond(&store, charge.to_json(&store), &p)
}

pub async fn list_payment_intents(
    State(app): State<App>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListPaymentIntents)?;
    let store = app.store();
    let items = store
        .payment_intents
        .values()
        .rev()
        .filter(|x| {
            p.str("customer")
                .is_none_or(|v| x.customer.as_deref() == Some(v))
        })
        .map(|x| x.to_json())
        .collect();
    list(&store, items, "/v1/payment_intents", &p)
}

pub async fn list_charges(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListCharges)?;
    let store = app.store();
    let items = store
        .charges
        .values()
        .rev()
        .filter(|x| {
            p.str("customer")
                .is_none_or(|v| x.customer.as_deref() == Some(v))
        })
        .filter(|x| {
            p.str("payment_intent")
                .is_none_or(|v| x.payment_intent == v)
        })
        .map(|x| x.to_json(&store))
        .collect();
    list(&store, items, "/v1/charges", &p)
}
