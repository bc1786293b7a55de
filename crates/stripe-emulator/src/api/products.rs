//! The products endpoints: create, retrieve, update and list.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{App, RawParams, list, metadata_of, respond};
use crate::error::{ApiError, ApiResult};
use crate::model::Product;
use crate::params::merge_metadata;
use crate::schema::Op;
use crate::store::{new_id, previous_attributes};

pub async fn create_product(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CreateProduct)?;
    if let Some(code) = p.str("tax_code") {
        check_tax_code(code, "tax_code")?;
    }
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
        tax_code: p.str("tax_code").map(str::to_string),
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
    if let Some(code) = p.str("tax_code") {
        check_tax_code(code, "tax_code")?;
        product.tax_code = Some(code.to_string());
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

/// A product tax code is `txcd_` and eight digits; Stripe refuses any other.
pub fn check_tax_code(code: &str, param: &str) -> ApiResult<()> {
    let digits = code.strip_prefix("txcd_").unwrap_or_default();
    if digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("Invalid tax code: {code}")).param(param))
    }
}
