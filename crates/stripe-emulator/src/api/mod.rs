//! Stripe's REST surface shared by every endpoint: authentication, idempotency, the version echo,
//! unknown routes, and the helpers that read parameters and shape answers. The handlers, one per
//! operation in `schema::Op`, are in one module per resource.

pub mod billing_portal;
pub mod checkout_sessions;
pub mod coupons;
pub mod customers;
pub mod events;
pub mod invoices;
pub mod payment_intents;
pub mod prices;
pub mod products;
pub mod refunds;
pub mod subscriptions;
pub mod webhook_endpoints;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::money;
use crate::params::{Node, Params, in_range, merge_metadata, parse_form, validate};
use crate::schema::Op;
use crate::store::{Store, new_id, paginate};

pub type App = Arc<Shared>;

/// The request's parameters before validation: the form body of a POST, the query otherwise.
pub struct RawParams(IndexMap<String, Node>);

impl<S: Send + Sync> FromRequest<S> for RawParams {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if req.method() == Method::POST {
            let body = Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::invalid(format!("Could not read the request body: {e}")))?;
            let text = std::str::from_utf8(&body)
                .map_err(|_| ApiError::invalid("The request body is not valid UTF-8."))?;
            Ok(Self(parse_form(text)?))
        } else {
            Ok(Self(parse_form(req.uri().query().unwrap_or_default())?))
        }
    }
}

impl RawParams {
    pub fn inner(&self) -> &IndexMap<String, Node> {
        &self.0
    }

    fn check(&self, op: Op) -> ApiResult<Params> {
        validate(&self.0, &op.params())
    }
}

fn respond(store: &Store, mut value: Value, p: &Params) -> ApiResult<Json<Value>> {
    store.expand(&mut value, &p.strings("expand"))?;
    Ok(Json(value))
}

/// A list object of `items` (newest first), kept to those whose `created` passes the request's
/// `created` filter (when the endpoint takes one), then paged by its cursors.
fn list(store: &Store, items: Vec<Value>, url: &str, p: &Params) -> ApiResult<Json<Value>> {
    let created = p.raw("created");
    let items = items
        .into_iter()
        .filter(|item| {
            created.is_none()
                || item["created"]
                    .as_i64()
                    .is_some_and(|c| in_range(created, c))
        })
        .collect();
    let value = paginate(
        items,
        url,
        p.int("limit"),
        p.str("starting_after"),
        p.str("ending_before"),
    )?;
    respond(store, value, p)
}

fn metadata_of(p: &Params) -> Map<String, Value> {
    let mut m = Map::new();
    merge_metadata(&mut m, p.raw("metadata"));
    m
}

fn currency_param(p: &Params, key: &str) -> ApiResult<String> {
    money::parse_currency(p.str(key).unwrap_or_default()).ok_or_else(|| {
        ApiError::invalid("Invalid currency: must be a three-letter ISO code").param(key)
    })
}

/// Accepts `Bearer sk_test_...` or basic auth with the key as user name; a configured key must
/// match exactly.
pub async fn authenticate(State(app): State<App>, req: Request, next: Next) -> Response {
    let key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            if let Some(token) = h.strip_prefix("Bearer ") {
                Some(token.trim().to_string())
            } else {
                let encoded = h.strip_prefix("Basic ")?;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()?;
                let text = String::from_utf8(decoded).ok()?;
                Some(text.split(':').next().unwrap_or_default().to_string())
            }
        });
    let Some(key) = key else {
        return ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
        .into_response();
    };
    let well_formed = key.strip_prefix("sk_test_").is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    let accepted = match &app.api_key {
        Some(expected) => well_formed && key == *expected,
        None => well_formed,
    };
    if !accepted {
        let shown: String = key.chars().take(8).collect();
        return ApiError::unauthorized(format!(
            "Invalid API Key provided: {shown}****. The emulator accepts test-mode secret keys (sk_test_...)."
        ))
        .into_response();
    }
    next.run(req).await
}

/// Echoes `Stripe-Version` (or states the emulator's) and gives each response a request id.
pub async fn stripe_headers(State(app): State<App>, req: Request, next: Next) -> Response {
    let version = req
        .headers()
        .get("stripe-version")
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&app.api_version).unwrap_or(HeaderValue::from_static(""))
        });
    let mut res = next.run(req).await;
    res.headers_mut().insert("stripe-version", version);
    if let Ok(id) = HeaderValue::from_str(&new_id("req_")) {
        res.headers_mut().insert("request-id", id);
    }
    res
}

#[derive(Clone)]
pub struct CachedResponse {
    fingerprint: String,
    status: StatusCode,
    body: Bytes,
}

pub type IdempotencyCache = tokio::sync::Mutex<HashMap<String, CachedResponse>>;

/// Stripe's idempotency: the same key and parameters replay the first successful response; the
/// same key with other parameters is refused. Requests with keys are serialised by the lock so
/// that two concurrent retries cannot both execute.
pub async fn idempotency(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(key) = req
        .headers()
        .get("idempotency-key")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
    else {
        return next.run(req).await;
    };
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    if key.is_empty() || key.len() > 255 {
        return ApiError::invalid("Idempotency-Key must be 1 to 255 characters long.")
            .param("Idempotency-Key")
            .into_response();
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return ApiError::invalid("The request body is too large.").into_response();
    };
    let fingerprint = format!(
        "{} {} {}",
        parts.method,
        parts.uri.path(),
        String::from_utf8_lossy(&bytes)
    );
    let mut cache = app.idempotency.lock().await;
    if let Some(hit) = cache.get(&key) {
        if hit.fingerprint != fingerprint {
            return ApiError::idempotency(format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
            ))
            .into_response();
        }
        let mut res = (hit.status, hit.body.clone()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(&key) {
            res.headers_mut().insert("idempotency-key", v);
        }
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return res;
    }
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = res.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    // Stripe saves only requests that executed; a refused request may be retried with the key.
    if parts.status.is_success() {
        cache.insert(
            key.clone(),
            CachedResponse {
                fingerprint,
                status: parts.status,
                body: body.clone(),
            },
        );
    }
    let mut res = Response::from_parts(parts, Body::from(body));
    if let Ok(v) = HeaderValue::from_str(&key) {
        res.headers_mut().insert("idempotency-key", v);
    }
    res
}

pub async fn unknown_route(method: Method, uri: axum::http::Uri) -> ApiError {
    let mut e = ApiError::invalid(format!(
        "Unrecognized request URL ({method}: {}). The emulator implements a subset of Stripe's API; see its README.",
        uri.path()
    ));
    e.status = StatusCode::NOT_FOUND;
    e
}
