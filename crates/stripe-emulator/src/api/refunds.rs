//! The refunds endpoints: create (the rules are in `checkout::create_refund`), retrieve and list.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{App, RawParams, list, respond};
use crate::checkout;
use crate::error::{ApiError, ApiResult};
use crate::schema::Op;

pub async fn create_refund(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CreateRefund)?;
    let mut store = app.store();
    let refund = checkout::create_refund(&mut store, &p)?;
    respond(&store, refund.to_json(), &p)
}

pub async fn retrieve_refund(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrieveRefund)?;
    let store = app.store();
    let refund = store
        .refunds
        .get(&id)
        .ok_or_else(|| ApiError::not_found("refund", &id))?;
    respond(&store, refund.to_json(), &p)
}

pub async fn list_refunds(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListRefunds)?;
    let store = app.store();
    let items = store
        .refunds
        .values()
        .rev()
        .filter(|x| {
            p.str("payment_intent")
                .is_none_or(|v| x.payment_intent == v)
        })
        .filter(|x| p.str("charge").is_none_or(|v| x.charge == v))
        .map(|r| r.to_json())
        .collect();
    list(&store, items, "/v1/refunds", &p)
}
