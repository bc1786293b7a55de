//! The events endpoints: retrieve, and list with Stripe's `type` filter.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{App, RawParams, list, respond};
use crate::error::{ApiError, ApiResult};
use crate::schema::Op;

pub async fn retrieve_event(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrieveEvent)?;
    let store = app.store();
    let event = store
        .events
        .get(&id)
        .ok_or_else(|| ApiError::not_found("event", &id))?;
    respond(&store, store.event_json(event), &p)
}

pub async fn list_events(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListEvents)?;
    let store = app.store();
    let wanted = p.str("type");
    let items = store
        .events
        .values()
        .rev()
        .filter(|e| wanted.is_none_or(|w| type_matches(w, &e.kind)))
        .map(|e| store.event_json(e))
        .collect();
    list(&store, items, "/v1/events", &p)
}

/// Stripe's `type` filter takes an exact type or a `*` wildcard such as `checkout.session.*`.
fn type_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}
