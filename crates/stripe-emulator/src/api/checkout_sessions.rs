//! The checkout sessions endpoints: create, retrieve, list, their line items, and expire; the
//! journey itself is in `checkout`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{App, RawParams, list, respond};
use crate::checkout;
use crate::error::{ApiError, ApiResult};
use crate::schema::Op;

pub async fn create_session(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CreateSession)?;
    let mut store = app.store();
    let session = checkout::create_session(&mut store, &p)?;
    respond(&store, session.to_json(), &p)
}

pub async fn retrieve_session(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrieveSession)?;
    let store = app.store();
    let session = store
        .sessions
        .get(&id)
        .ok_or_else(|| ApiError::not_found("checkout.session", &id))?;
    respond(&store, session.to_json(), &p)
}

pub async fn list_sessions(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListSessions)?;
    let store = app.store();
    let items = store
        .sessions
        .values()
        .rev()
        .filter(|x| {
            p.str("payment_intent")
                .is_none_or(|v| x.payment_intent.as_deref() == Some(v))
        })
        .filter(|x| {
            p.str("customer")
                .is_none_or(|v| x.customer.as_deref() == Some(v))
        })
        .map(|s| s.to_json())
        .collect();
    list(&store, items, "/v1/checkout/sessions", &p)
}

pub async fn list_line_items(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListLineItems)?;
    let store = app.store();
    let session = store
        .sessions
        .get(&id)
        .ok_or_else(|| ApiError::not_found("checkout.session", &id))?;
    let items = session
        .line_items
        .iter()
        .map(|l| l.to_json(&store))
        .collect();
    list(
        &store,
        items,
        &format!("/v1/checkout/sessions/{id}/line_items"),
        &p,
    )
}

pub async fn expire_session(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ExpireSession)?;
    let mut store = app.store();
    let session = checkout::expire(&mut store, &id)?;
    respond(&store, session.to_json(), &p)
}
