//! Test controls under `/_emulator/`, a path no real Stripe has: delivery inspection and
//! replay, holding and ordering deliveries, settling bank debits, and the clock.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::api::{App, RawParams};
use crate::checkout;
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, Ty, arr, obj, opt, req, validate};
use crate::store::{Delivery, DeliveryState};
use crate::webhooks;

impl RawParams {
    fn control(&self, schema: Ty) -> ApiResult<Params> {
        validate(self.inner(), &schema)
    }
}

pub async fn list_deliveries(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.control(obj([opt("event", Ty::Str), opt("type", Ty::Str)]))?;
    let store = app.store();
    let items: Vec<&Delivery> = store
        .deliveries
        .values()
        .filter(|d| p.str("event").is_none_or(|e| d.event == e))
        .filter(|d| p.str("type").is_none_or(|t| d.event_type == t))
        .collect();
    Ok(Json(json!({ "data": items })))
}

fn endpoints_for(app: &App, event_id: &str, only: Option<&str>) -> ApiResult<Vec<String>> {
    let store = app.store();
    if !store.events.contains_key(event_id) {
        return Err(ApiError::not_found("event", event_id));
    }
    match only {
        Some(id) if !store.webhook_endpoints.contains_key(id) => {
            Err(ApiError::no_such("webhook_endpoint", id, "endpoint"))
        }
        Some(id) => Ok(vec![id.to_string()]),
        None => Ok(store.webhook_endpoints.keys().cloned().collect()),
    }
}

/// Sends the event again to every endpoint (or one), as Stripe's dashboard "resend" does.
pub async fn resend_event(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.control(obj([opt("endpoint", Ty::Str)]))?;
    let endpoints = endpoints_for(&app, &id, p.str("endpoint"))?;
    let mut store = app.store();
    let ids: Vec<String> = endpoints
        .iter()
        .filter_map(|e| store.queue_delivery(&id, e))
        .collect();
    Ok(Json(json!({ "deliveries": ids })))
}

/// Delivers the event `times` times to each endpoint concurrently, to test a receiver's
/// de-duplication; answers once every first attempt is done.
pub async fn deliver_event(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.control(obj([req("times", Ty::Int), opt("endpoint", Ty::Str)]))?;
    let times = p.int("times").unwrap_or(1);
    if !(1..=100).contains(&times) {
        return Err(ApiError::invalid("times must be between 1 and 100").param("times"));
    }
    let endpoints = endpoints_for(&app, &id, p.str("endpoint"))?;
    let ids: Vec<String> = {
        let mut store = app.store();
        // Created directly as pending, so the dispatcher does not start them a second time.
        let held = std::mem::replace(&mut store.hold_deliveries, true);
        let ids = endpoints
            .iter()
            .flat_map(|e| (0..times).map(move |_| e.clone()))
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|e| store.queue_delivery(&id, &e))
            .collect();
        store.hold_deliveries = held;
        ids
    };
    let tasks: Vec<_> = ids
        .iter()
        .map(|d| {
            let (app, d) = (app.clone(), d.clone());
            tokio::spawn(async move {
                let ok = webhooks::attempt(&app, &d).await;
                (d, ok)
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        if let Ok((d, ok)) = task.await {
            if !ok {
                tokio::spawn(webhooks::run(app.clone(), d.clone()));
            }
            results.push(json!({"delivery": d, "succeeded": ok}));
        }
    }
    Ok(Json(json!({ "deliveries": results })))
}

pub async fn hold(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    raw.control(obj([]))?;
    app.store().hold_deliveries = true;
    Ok(Json(json!({ "held": true })))
}

/// Releases held deliveries: those of the events named in `order[]` first, one after another in
/// that order, then the rest in the order they were made; new deliveries flow freely again.
pub async fn release(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.control(obj([opt("order", arr(Ty::Str))]))?;
    let order = p.strings("order");
    let queue: Vec<String> = {
        let mut store = app.store();
        for (i, event) in order.iter().enumerate() {
            if !store.events.contains_key(event) {
                return Err(ApiError::no_such("event", event, &format!("order[{i}]")));
            }
        }
        store.hold_deliveries = false;
        let held: Vec<&Delivery> = store
            .deliveries
            .values()
            .filter(|d| d.state == DeliveryState::Held)
            .collect();
        let mut queue: Vec<String> = order
            .iter()
            .flat_map(|e| {
                held.iter()
                    .filter(move |d| &d.event == e)
                    .map(|d| d.id.clone())
            })
            .collect();
        queue.extend(
            held.iter()
                .filter(|d| !order.contains(&d.event))
                .map(|d| d.id.clone()),
        );
        for id in &queue {
            if let Some(d) = store.deliveries.get_mut(id) {
                d.state = DeliveryState::Pending;
            }
        }
        queue
    };
    let mut released = Vec::new();
    for id in queue {
        let ok = webhooks::attempt(&app, &id).await;
        if !ok {
            tokio::spawn(webhooks::run(app.clone(), id.clone()));
        }
        released.push(json!({"delivery": id, "succeeded": ok}));
    }
    Ok(Json(json!({ "released": released })))
}

pub async fn settle(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    raw.control(obj([]))?;
    let mut store = app.store();
    if !store.sessions.contains_key(&id) {
        return Err(ApiError::not_found("checkout.session", &id));
    }
    if !checkout::settle(&mut store, &id) {
        return Err(ApiError::invalid(
            "This Checkout Session has no pending bank debit to settle.",
        )
        .param("session"));
    }
    let session = store.sessions[&id].to_json();
    Ok(Json(session))
}

pub async fn clock(State(app): State<App>) -> Json<Value> {
    Json(json!({ "now": app.store().now() }))
}

/// Moves the emulator's clock forward and runs what the new time makes happen (expiry,
/// settlement, subscription renewals) before answering.
pub async fn advance_clock(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.control(obj([req("seconds", Ty::Int)]))?;
    let seconds = p.int("seconds").unwrap_or(0);
    if seconds < 0 {
        return Err(ApiError::invalid("The clock only moves forward.").param("seconds"));
    }
    let mut store = app.store();
    store.clock.advance(seconds);
    crate::tick(&mut store);
    Ok(Json(json!({ "now": store.now() })))
}
