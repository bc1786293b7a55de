//! The coupons and promotion codes endpoints: create, retrieve and list each.

use axum::Json;
use axum::extract::{Path, State};
use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::model::{Coupon, CouponOff, PromotionCode};
use crate::params::{Params, merge_metadata};
use crate::schema::Op;
use crate::store::{Store, new_id};

use super::{App, RawParams, currency_param, list, metadata_of, respond};

pub async fn create_coupon(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CreateCoupon)?;
    let off = coupon_off(&p)?;
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
    let applies_to = applies_to(&store, &p)?;
    let currency_options = currency_options(&p, &off)?;
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
        applies_to,
        currency_options,
    };
    store.coupons.insert(id, coupon.clone());
    let now = store.now();
    store.emit("coupon.created", coupon.to_json(now), None);
    respond(&store, coupon.to_json(now), &p)
}

/// `applies_to[products]`: products that exist.
fn applies_to(store: &Store, p: &Params) -> ApiResult<Option<Vec<String>>> {
    let Some(a) = p.obj("applies_to") else {
        return Ok(None);
    };
    let products = a.strings("products");
    if let Some(missing) = products.iter().find(|id| !store.products.contains_key(*id)) {
        return Err(ApiError::no_such(
            "product",
            missing,
            "applies_to[products]",
        ));
    }
    Ok(Some(products))
}

/// `currency_options[cur][amount_off]`: an amount coupon's amount in other currencies.
fn currency_options(p: &Params, off: &CouponOff) -> ApiResult<BTreeMap<String, i64>> {
    let Some(options) = p.raw("currency_options").and_then(Value::as_object) else {
        return Ok(BTreeMap::new());
    };
    if matches!(off, CouponOff::Percent(_)) {
        return Err(ApiError::invalid(
            "`currency_options` can only be set on a coupon with `amount_off`.",
        )
        .param("currency_options"));
    }
    let mut out = BTreeMap::new();
    for (currency, option) in options {
        let param = format!("currency_options[{currency}][amount_off]");
        let code = crate::money::parse_currency(currency).ok_or_else(|| {
            ApiError::invalid("Invalid currency: must be a three-letter ISO code")
                .param(format!("currency_options[{currency}]"))
        })?;
        let amount = option
            .get("amount_off")
            .and_then(|v| {
                v.as_str()
                    .and_then(|s| s.parse::<i64>().ok())
                    .or(v.as_i64())
            })
            .ok_or_else(|| ApiError::missing_param(&param))?;
        if amount <= 0 {
            return Err(ApiError::invalid("amount_off must be a positive integer.").param(param));
        }
        out.insert(code, amount);
    }
    Ok(out)
}

/// What a coupon takes off: `percent_off`, or `amount_off` with its `currency`.
fn coupon_off(p: &Params) -> ApiResult<CouponOff> {
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
                currency: currency_param(p, "currency")?,
            }
        }
    };
    Ok(off)
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
    let code = promotion_code_param(&store, &p)?;
    let minimum_amount = minimum_amount(&p)?;
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
        first_time_transaction: p
            .obj("restrictions")
            .and_then(|r| r.bool("first_time_transaction"))
            .unwrap_or(false),
        metadata: metadata_of(&p),
    };
    store
        .promotion_codes
        .insert(promo.id.clone(), promo.clone());
    let json = promo.to_json(&store);
    store.emit("promotion_code.created", json.clone(), None);
    respond(&store, json, &p)
}

/// Turns a promotion code on or off and merges its metadata. A code turned on must be the only
/// active one with its text.
pub async fn update_promotion_code(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::UpdatePromotionCode)?;
    let mut store = app.store();
    let mut promo = store
        .promotion_codes
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("promotion_code", &id))?;
    if let Some(active) = p.bool("active") {
        if active
            && !promo.active
            && store
                .promotion_codes
                .values()
                .any(|x| x.active && x.id != id && x.code.eq_ignore_ascii_case(&promo.code))
        {
            return Err(ApiError::invalid(format!(
                "An active promotion code with `code: {}` already exists.",
                promo.code
            ))
            .code("resource_already_exists")
            .param("active"));
        }
        promo.active = active;
    }
    merge_metadata(&mut promo.metadata, p.raw("metadata"));
    store.promotion_codes.insert(id, promo.clone());
    let json = promo.to_json(&store);
    store.emit("promotion_code.updated", json.clone(), None);
    respond(&store, json, &p)
}

/// The promotion code's `code` (or a generated one), unique among active codes.
fn promotion_code_param(store: &Store, p: &Params) -> ApiResult<String> {
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
    Ok(code)
}

/// `restrictions[minimum_amount]` with its currency; each needs the other.
fn minimum_amount(p: &Params) -> ApiResult<Option<(i64, String)>> {
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
    Ok(minimum_amount)
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
