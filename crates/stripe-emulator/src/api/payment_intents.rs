//! Retrieving payment intents and charges, which only paying a checkout session creates.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{App, RawParams, respond};
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
