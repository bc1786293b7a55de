//! The prices endpoints: create (for an existing product or with `product_data`), retrieve,
//! update and list.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{App, RawParams, currency_param, list, metadata_of, respond};
use crate::error::{ApiError, ApiResult};
use crate::model::{Price, Product, Recurring};
use crate::params::merge_metadata;
use crate::schema::Op;
use crate::store::{new_id, previous_attributes};

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
    let recurring = p
        .obj("recurring")
        .map(|r| recurring_of(&r, "recurring"))
        .transpose()?;
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
                tax_code: None,
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
        recurring,
        tax_behavior: p.str("tax_behavior").unwrap_or("unspecified").to_string(),
    };
    store.prices.insert(price.id.clone(), price.clone());
    store.emit("price.created", price.to_json(), None);
    respond(&store, price.to_json(), &p)
}

/// A `recurring` hash: its interval (checked against the spec's enum already) and count, at
/// most a year in all; licensed usage only. `at` names the hash in errors (`recurring`, or a
/// session line's `line_items[0][price_data][recurring]`).
pub(crate) fn recurring_of(r: &crate::params::Params, at: &str) -> ApiResult<Recurring> {
    let interval = r
        .str("interval")
        .ok_or_else(|| ApiError::missing_param(&format!("{at}[interval]")))?;
    if r.str("usage_type").is_some_and(|u| u != "licensed") {
        return Err(
            ApiError::invalid("The emulator supports `licensed` usage only.")
                .param(format!("{at}[usage_type]")),
        );
    }
    let interval_count = r.int("interval_count").unwrap_or(1);
    let most = match interval {
        "day" => 365,
        "week" => 52,
        "month" => 12,
        _ => 1,
    };
    if !(1..=most).contains(&interval_count) {
        return Err(ApiError::invalid(format!(
            "Invalid {at}[interval_count]: it must be from 1 to {most} for `{interval}` \
             (the longest interval is one year: 1 year, 12 months, 52 weeks or 365 days)."
        ))
        .param(format!("{at}[interval_count]")));
    }
    Ok(Recurring {
        interval: interval.to_string(),
        interval_count,
    })
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
        .filter(|x| {
            p.str("type")
                .is_none_or(|t| (t == "recurring") == x.recurring.is_some())
        })
        .filter(|x| {
            p.obj("recurring")
                .and_then(|r| r.str("interval").map(str::to_string))
                .is_none_or(|i| x.recurring.as_ref().is_some_and(|r| r.interval == i))
        })
        .map(Price::to_json)
        .collect();
    list(&store, items, "/v1/prices", &p)
}
