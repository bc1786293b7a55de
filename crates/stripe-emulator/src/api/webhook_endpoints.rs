//! Managing webhook endpoints over the API: create (the only answer that shows the secret),
//! retrieve, list and delete.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{App, RawParams, list, metadata_of, respond};
use crate::error::{ApiError, ApiResult};
use crate::model::WebhookEndpoint;
use crate::schema::Op;
use crate::store::new_id;

pub async fn create_webhook_endpoint(
    State(app): State<App>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CreateWebhookEndpoint)?;
    let url = p.str("url").unwrap_or_default();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::invalid("Invalid URL: must be an http or https URL").param("url"));
    }
    let events = p.strings("enabled_events");
    if events.is_empty() {
        return Err(ApiError::missing_param("enabled_events"));
    }
    let mut store = app.store();
    let endpoint = WebhookEndpoint {
        id: new_id("we_"),
        created: store.now(),
        url: url.to_string(),
        secret: format!("whsec_{}", uuid::Uuid::new_v4().simple()),
        enabled_events: events,
        description: p.str("description").map(str::to_string),
        metadata: metadata_of(&p),
    };
    store
        .webhook_endpoints
        .insert(endpoint.id.clone(), endpoint.clone());
    respond(&store, endpoint.to_json(true), &p)
}

pub async fn retrieve_webhook_endpoint(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrieveWebhookEndpoint)?;
    let store = app.store();
    let endpoint = store
        .webhook_endpoints
        .get(&id)
        .ok_or_else(|| ApiError::not_found("webhook_endpoint", &id))?;
    respond(&store, endpoint.to_json(false), &p)
}

pub async fn list_webhook_endpoints(
    State(app): State<App>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListWebhookEndpoints)?;
    let store = app.store();
    let items = store
        .webhook_endpoints
        .values()
        .rev()
        .map(|e| e.to_json(false))
        .collect();
    list(&store, items, "/v1/webhook_endpoints", &p)
}

pub async fn delete_webhook_endpoint(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    raw.check(Op::DeleteWebhookEndpoint)?;
    let mut store = app.store();
    store
        .webhook_endpoints
        .shift_remove(&id)
        .ok_or_else(|| ApiError::not_found("webhook_endpoint", &id))?;
    Ok(Json(
        serde_json::json!({"id": id, "object": "webhook_endpoint", "deleted": true}),
    ))
}
