//! The customers endpoints: create, retrieve, update and list.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{App, RawParams, list, metadata_of, respond};
use crate::error::{ApiError, ApiResult};
use crate::model::{Address, Customer};
use crate::params::{Params, merge_metadata};
use crate::schema::Op;
use crate::store::{new_id, previous_attributes};

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
        address: address_of(&p).flatten(),
        metadata: metadata_of(&p),
        next_invoice_sequence: 1,
        default_payment_method: None,
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
    if let Some(address) = address_of(&p) {
        customer.address = address;
    }
    merge_metadata(&mut customer.metadata, p.raw("metadata"));
    store.customers.insert(id, customer.clone());
    let after = customer.to_json();
    let prev = previous_attributes(&before, &after);
    store.emit("customer.updated", after.clone(), Some(prev));
    respond(&store, after, &p)
}

/// The `address` parameter: absent (`None`), unset with `address=` (`Some(None)`), or a new
/// address that replaces the old one whole, as Stripe does.
fn address_of(p: &Params) -> Option<Option<Address>> {
    match p.raw("address")? {
        serde_json::Value::Object(_) => Some(p.obj("address").map(|a| Address::from_params(&a))),
        _ => Some(None),
    }
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
