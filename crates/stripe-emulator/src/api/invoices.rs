//! The invoices endpoints (retrieve, list, pay with the saved card) and retrieving a saved card.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{App, RawParams, list, respond};
use crate::billing;
use crate::error::{ApiError, ApiResult};
use crate::schema::Op;

pub async fn retrieve_invoice(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrieveInvoice)?;
    let store = app.store();
    let invoice = store
        .invoices
        .get(&id)
        .ok_or_else(|| ApiError::not_found("invoice", &id))?;
    respond(&store, invoice.to_json(&store), &p)
}

pub async fn list_invoices(State(app): State<App>, raw: RawParams) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::ListInvoices)?;
    let store = app.store();
    let items = store
        .invoices
        .values()
        .rev()
        .filter(|i| p.str("customer").is_none_or(|c| i.customer == c))
        .filter(|i| {
            p.str("subscription")
                .is_none_or(|s| i.subscription.as_deref() == Some(s))
        })
        .filter(|i| p.str("status").is_none_or(|s| i.status.as_str() == s))
        .map(|i| i.to_json(&store))
        .collect();
    list(&store, items, "/v1/invoices", &p)
}

/// Charges an open invoice to its subscription's (or customer's) saved card now; a decline is a
/// 402 `card_error`, as on Stripe.
pub async fn pay_invoice(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::PayInvoice)?;
    let mut store = app.store();
    let invoice = store
        .invoices
        .get(&id)
        .ok_or_else(|| ApiError::not_found("invoice", &id))?;
    if invoice.status != billing::InvoiceStatus::Open {
        return Err(
            ApiError::invalid(format!("Invoice is already {}", invoice.status.as_str()))
                .code("invoice_not_open"),
        );
    }
    if let Some(pm) = p.str("payment_method") {
        let owned = store
            .payment_methods
            .get(pm)
            .is_some_and(|m| m.customer.as_deref() == Some(&invoice.customer));
        if !owned {
            return Err(ApiError::no_such("payment_method", pm, "payment_method"));
        }
        let sub = invoice.subscription.clone().unwrap_or_default();
        if let Some(s) = store.subscriptions.get_mut(&sub) {
            s.default_payment_method = Some(pm.to_string());
        }
    }
    billing::pay_invoice(&mut store, &id, None).map_err(ApiError::card_declined)?;
    let invoice = &store.invoices[&id];
    respond(&store, invoice.to_json(&store), &p)
}

pub async fn retrieve_payment_method(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::RetrievePaymentMethod)?;
    let store = app.store();
    let pm = store
        .payment_methods
        .get(&id)
        .ok_or_else(|| ApiError::not_found("payment_method", &id))?;
    respond(&store, pm.to_json(), &p)
}
