//! Customer portal sessions: a link to the hosted page where a customer changes their card,
//! cancels or resumes a subscription and sees their invoices.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::{App, RawParams, respond};
use crate::billing::PortalSession;
use crate::error::{ApiError, ApiResult};
use crate::schema::Op;
use crate::store::new_id;

pub async fn create_portal_session(
    State(app): State<App>,
    raw: RawParams,
) -> ApiResult<Json<Value>> {
    let p = raw.check(Op::CreatePortalSession)?;
    let customer = p.str("customer").unwrap_or_default().to_string();
    let return_url = p.str("return_url").map(str::to_string);
    if let Some(url) = &return_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(ApiError::invalid("Not a valid URL").param("return_url"));
    }
    let mut store = app.store();
    if !store.customers.contains_key(&customer) {
        return Err(ApiError::no_such("customer", &customer, "customer"));
    }
    let session = PortalSession {
        id: new_id("bps_"),
        created: store.now(),
        customer,
        return_url,
    };
    let json = session.to_json(&store.base_url);
    store.portal_sessions.insert(session.id.clone(), session);
    respond(&store, json, &p)
}
