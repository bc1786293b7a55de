//! Stripe's REST surface: authentication, idempotency, version echo, and one handler per
//! operation in `schema::Op`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::Shared;
use crate::checkout;
use crate::error::{ApiError, ApiResult};
use crate::model::{Coupon, CouponOff, Customer, Price, Product, PromotionCode, WebhookEndpoint};
use crate::money;
use crate::params::{Node, Params, merge_metadata, parse_form, validate};
use crate::schema::Op;
use crate::store::{Store, new_id, paginate, previous_attributes};

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

// ---- products -------------------------------------------------------------------------

pub async fn create_product(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CreateProduct)?;
    let mut store = app.store();
    let now = store.now();
    let product = Product {
        id: new_id("prod_"),
        created: now,
        updated: now,
        name: p.str("name").unwrap_or_default().to_string(),
        active: p.bool("active").unwrap_or(true),
        description: p.str("description").map(str::to_string),
        images: p.strings("images"),
        url: p.str("url").map(str::to_string),
        metadata: metadata_of(&p),
    };
    store.products.insert(product.id.clone(), product.clone());
    store.emit("product.created", product.to_json(), None);
    respond(&store, product.to_json(), &p)
}

pub async fn retrieve_product(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrieveProduct)?;
    let store = app.store();
    let product = store
        .products
        .get(&id)
        .ok_or_else(|| ApiError::not_found("product", &id))?;
    respond(&store, product.to_json(), &p)
}

pub async fn update_product(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::UpdateProduct)?;
    let mut store = app.store();
    let now = store.now();
    let mut product = store
        .products
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("product", &id))?;
    let before = product.to_json();
    if let Some(name) = p.str("name") {
        product.name = name.to_string();
    }
    if let Some(active) = p.bool("active") {
        product.active = active;
    }
    if let Some(d) = p.str("description") {
        product.description = Some(d.to_string());
    }
    if p.has("images") {
        product.images = p.strings("images");
    }
    if let Some(u) = p.str("url") {
        product.url = Some(u.to_string());
    }
    merge_metadata(&mut product.metadata, p.raw("metadata"));
    product.updated = now;
    store.products.insert(id, product.clone());
    let after = product.to_json();
    let prev = previous_attributes(&before, &after);
    store.emit("product.updated", after.clone(), Some(prev));
    respond(&store, after, &p)
}

pub async fn list_products(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListProducts)?;
    let store = app.store();
    let items = store
        .products
        .values()
        .rev()
        .filter(|x| p.bool("active").is_none_or(|a| x.active == a))
        .map(Product::to_json)
        .collect();
    list(&store, items, "/v1/products", &p)
}

fn list(store: &Store, items: Vec<Value>, url: &str, p: &Params) -> ApiResult<Json<Value>> {
    let value = paginate(
        items,
        url,
        p.int("limit"),
        p.str("starting_after"),
        p.str("ending_before"),
    )?;
    respond(store, value, p)
}

// ---- prices ---------------------------------------------------------------------------

pub async fn create_price(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CreatePrice)?;
    let currency = currency_param(&p, "currency")?;
    let unit_amount = p
        .int("unit_amount")
        .ok_or_else(|| ApiError::missing_param("unit_amount"))?;
    if unit_amount < 0 {
        return Err(
            ApiError::invalid("This value must be greater than or equal to 0.")
                .param("unit_amount"),
        );
    }
    let mut store = app.store();
    let now = store.now();
    let product = match (p.str("product"), p.obj("product_data")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: product, product_data.",
            )
            .code("parameters_exclusive")
            .param("product_data"));
        }
        (None, None) => return Err(ApiError::missing_param("product")),
        (Some(id), None) => {
            if !store.products.contains_key(id) {
                return Err(ApiError::no_such("product", id, "product"));
            }
            id.to_string()
        }
        (None, Some(pd)) => {
            let product = Product {
                id: new_id("prod_"),
                created: now,
                updated: now,
                name: pd.str("name").unwrap_or_default().to_string(),
                active: pd.bool("active").unwrap_or(true),
                description: None,
                images: vec![],
                url: None,
                metadata: metadata_of(&pd),
            };
            store.products.insert(product.id.clone(), product.clone());
            store.emit("product.created", product.to_json(), None);
            product.id
        }
    };
    let price = Price {
        id: new_id("price_"),
        created: now,
        product,
        currency,
        unit_amount,
        active: p.bool("active").unwrap_or(true),
        nickname: p.str("nickname").map(str::to_string),
        lookup_key: p.str("lookup_key").map(str::to_string),
        metadata: metadata_of(&p),
    };
    store.prices.insert(price.id.clone(), price.clone());
    store.emit("price.created", price.to_json(), None);
    respond(&store, price.to_json(), &p)
}

pub async fn retrieve_price(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrievePrice)?;
    let store = app.store();
    let price = store
        .prices
        .get(&id)
        .ok_or_else(|| ApiError::not_found("price", &id))?;
    respond(&store, price.to_json(), &p)
}

pub async fn update_price(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::UpdatePrice)?;
    let mut store = app.store();
    let mut price = store
        .prices
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("price", &id))?;
    let before = price.to_json();
    if let Some(active) = p.bool("active") {
        price.active = active;
    }
    if let Some(n) = p.str("nickname") {
        price.nickname = Some(n.to_string());
    }
    if let Some(k) = p.str("lookup_key") {
        price.lookup_key = Some(k.to_string());
    }
    merge_metadata(&mut price.metadata, p.raw("metadata"));
    store.prices.insert(id, price.clone());
    let after = price.to_json();
    let prev = previous_attributes(&before, &after);
    store.emit("price.updated", after.clone(), Some(prev));
    respond(&store, after, &p)
}

pub async fn list_prices(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListPrices)?;
    let store = app.store();
    let items = store
        .prices
        .values()
        .rev()
        .filter(|x| p.bool("active").is_none_or(|a| x.active == a))
        .filter(|x| p.str("product").is_none_or(|v| x.product == v))
        .filter(|x| {
            p.str("currency")
                .is_none_or(|v| x.currency.eq_ignore_ascii_case(v))
        })
        .map(Price::to_json)
        .collect();
    list(&store, items, "/v1/prices", &p)
}

// ---- customers ------------------------------------------------------------------------

pub async fn create_customer(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CreateCustomer)?;
    let mut store = app.store();
    let customer = Customer {
        id: new_id("cus_"),
        created: store.now(),
        email: p.str("email").map(str::to_string),
        name: p.str("name").map(str::to_string),
        phone: p.str("phone").map(str::to_string),
        description: p.str("description").map(str::to_string),
        metadata: metadata_of(&p),
    };
    store
        .customers
        .insert(customer.id.clone(), customer.clone());
    store.emit("customer.created", customer.to_json(), None);
    respond(&store, customer.to_json(), &p)
}

pub async fn retrieve_customer(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrieveCustomer)?;
    let store = app.store();
    let customer = store
        .customers
        .get(&id)
        .ok_or_else(|| ApiError::not_found("customer", &id))?;
    respond(&store, customer.to_json(), &p)
}

pub async fn update_customer(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::UpdateCustomer)?;
    let mut store = app.store();
    let mut customer = store
        .customers
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("customer", &id))?;
    let before = customer.to_json();
    for (key, field) in [
        ("email", &mut customer.email),
        ("name", &mut customer.name),
        ("phone", &mut customer.phone),
        ("description", &mut customer.description),
    ] {
        if let Some(v) = p.str(key) {
            *field = Some(v.to_string());
        }
    }
    merge_metadata(&mut customer.metadata, p.raw("metadata"));
    store.customers.insert(id, customer.clone());
    let after = customer.to_json();
    let prev = previous_attributes(&before, &after);
    store.emit("customer.updated", after.clone(), Some(prev));
    respond(&store, after, &p)
}

pub async fn list_customers(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListCustomers)?;
    let store = app.store();
    let items = store
        .customers
        .values()
        .rev()
        .filter(|x| p.str("email").is_none_or(|e| x.email.as_deref() == Some(e)))
        .map(Customer::to_json)
        .collect();
    list(&store, items, "/v1/customers", &p)
}

// ---- checkout sessions ----------------------------------------------------------------

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

// ---- payment intents, charges, refunds ------------------------------------------------

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

// ---- coupons and promotion codes ------------------------------------------------------

pub async fn create_coupon(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CreateCoupon)?;
    let off = match (p.int("percent_off"), p.int("amount_off")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: amount_off, percent_off.",
            )
            .code("parameters_exclusive")
            .param("percent_off"));
        }
        (None, None) => {
            return Err(
                ApiError::invalid("You must pass either `percent_off` or `amount_off`.")
                    .param("percent_off"),
            );
        }
        (Some(h), None) => {
            if !(1..=10_000).contains(&h) {
                return Err(ApiError::invalid(
                    "percent_off must be greater than 0 and at most 100.",
                )
                .param("percent_off"));
            }
            CouponOff::Percent(h)
        }
        (None, Some(minor)) => {
            if minor <= 0 {
                return Err(
                    ApiError::invalid("amount_off must be a positive integer.").param("amount_off")
                );
            }
            if !p.has("currency") {
                return Err(ApiError::missing_param("currency"));
            }
            CouponOff::Amount {
                minor,
                currency: currency_param(&p, "currency")?,
            }
        }
    };
    let duration = p.str("duration").unwrap_or("once").to_string();
    if duration == "repeating" && !p.has("duration_in_months") {
        return Err(ApiError::missing_param("duration_in_months"));
    }
    if let Some(m) = p.int("max_redemptions")
        && m < 1
    {
        return Err(
            ApiError::invalid("max_redemptions must be a positive integer.")
                .param("max_redemptions"),
        );
    }
    let mut store = app.store();
    let id = p
        .str("id")
        .map(str::to_string)
        .unwrap_or_else(|| new_id("")[..8].to_string());
    if store.coupons.contains_key(&id) {
        return Err(ApiError::invalid(format!("Coupon already exists: {id}"))
            .code("resource_already_exists")
            .param("id"));
    }
    let coupon = Coupon {
        id: id.clone(),
        created: store.now(),
        name: p.str("name").map(str::to_string),
        off,
        duration,
        duration_in_months: p.int("duration_in_months"),
        max_redemptions: p.int("max_redemptions"),
        redeem_by: p.int("redeem_by"),
        times_redeemed: 0,
        metadata: metadata_of(&p),
    };
    store.coupons.insert(id, coupon.clone());
    let now = store.now();
    store.emit("coupon.created", coupon.to_json(now), None);
    respond(&store, coupon.to_json(now), &p)
}

pub async fn retrieve_coupon(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrieveCoupon)?;
    let store = app.store();
    let coupon = store
        .coupons
        .get(&id)
        .ok_or_else(|| ApiError::not_found("coupon", &id))?;
    respond(&store, coupon.to_json(store.now()), &p)
}

pub async fn list_coupons(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListCoupons)?;
    let store = app.store();
    let now = store.now();
    let items = store
        .coupons
        .values()
        .rev()
        .map(|c| c.to_json(now))
        .collect();
    list(&store, items, "/v1/coupons", &p)
}

pub async fn create_promotion_code(
    State(app): State<App>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CreatePromotionCode)?;
    let mut store = app.store();
    let coupon = p.str("coupon").unwrap_or_default().to_string();
    if !store.coupons.contains_key(&coupon) {
        return Err(ApiError::no_such("coupon", &coupon, "coupon"));
    }
    let code = match p.str("code") {
        Some(c) => {
            if !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
                || c.len() > 500
            {
                return Err(ApiError::invalid(
                    "A promotion code may contain only letters, digits, dashes and underscores.",
                )
                .param("code"));
            }
            c.to_string()
        }
        None => new_id("")[..8].to_uppercase(),
    };
    if store
        .promotion_codes
        .values()
        .any(|x| x.active && x.code.eq_ignore_ascii_case(&code))
    {
        return Err(ApiError::invalid(format!(
            "An active promotion code with `code: {code}` already exists."
        ))
        .code("resource_already_exists")
        .param("code"));
    }
    let restrictions = p.obj("restrictions").unwrap_or_default();
    let minimum_amount = match (
        restrictions.int("minimum_amount"),
        restrictions.has("minimum_amount_currency"),
    ) {
        (Some(amount), true) => Some((
            amount,
            currency_param(&restrictions, "minimum_amount_currency")
                .map_err(|e| e.param("restrictions[minimum_amount_currency]"))?,
        )),
        (Some(_), false) => {
            return Err(ApiError::missing_param(
                "restrictions[minimum_amount_currency]",
            ));
        }
        (None, true) => return Err(ApiError::missing_param("restrictions[minimum_amount]")),
        (None, false) => None,
    };
    let promo = PromotionCode {
        id: new_id("promo_"),
        created: store.now(),
        code,
        coupon,
        active: p.bool("active").unwrap_or(true),
        max_redemptions: p.int("max_redemptions"),
        expires_at: p.int("expires_at"),
        times_redeemed: 0,
        minimum_amount,
        metadata: metadata_of(&p),
    };
    store
        .promotion_codes
        .insert(promo.id.clone(), promo.clone());
    let json = promo.to_json(&store);
    store.emit("promotion_code.created", json.clone(), None);
    respond(&store, json, &p)
}

pub async fn retrieve_promotion_code(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrievePromotionCode)?;
    let store = app.store();
    let promo = store
        .promotion_codes
        .get(&id)
        .ok_or_else(|| ApiError::not_found("promotion_code", &id))?;
    respond(&store, promo.to_json(&store), &p)
}

pub async fn list_promotion_codes(
    State(app): State<App>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListPromotionCodes)?;
    let store = app.store();
    let items = store
        .promotion_codes
        .values()
        .rev()
        .filter(|x| p.str("code").is_none_or(|v| x.code.eq_ignore_ascii_case(v)))
        .filter(|x| p.str("coupon").is_none_or(|v| x.coupon == v))
        .filter(|x| p.bool("active").is_none_or(|v| x.active == v))
        .map(|x| x.to_json(&store))
        .collect();
    list(&store, items, "/v1/promotion_codes", &p)
}

// ---- events and webhook endpoints -----------------------------------------------------

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
