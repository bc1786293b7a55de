//! The company's saved services (its wishlist) as JSON: the same domain functions as the page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::ErrorResponse;
use super::store::{CartBody, MoneyBody, cart_body};
use crate::AppState;
use crate::engagement::wishlist::{self, Saved};
use crate::error::AppResult;
use crate::ids::TemplateId;
use crate::web::auth::RequireClient;
use crate::web::extract::Path;

/// A service the company saved for later.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedBody {
    pub service_template_id: i64,
    pub title: String,
    /// Who saved it.
    pub saved_by: String,
    pub saved_at: DateTime<Utc>,
    /// Its price when it was saved.
    pub price_then: MoneyBody,
    /// Its price now in your company's currency (null without one).
    pub price_now: Option<MoneyBody>,
    /// Cheaper now than when it was saved.
    pub price_dropped: bool,
    /// It can be bought now (on sale, with a price in your currency).
    pub available: bool,
}

impl From<Saved> for SavedBody {
    fn from(s: Saved) -> Self {
        Self {
            service_template_id: s.template.id.get(),
            title: s.template.title().to_string(),
            saved_by: s.saved_by.clone(),
            saved_at: s.saved_at,
            price_dropped: s.price_dropped(),
            available: s.on_sale() && s.price_now.is_some(),
            price_then: s.price_then.into(),
            price_now: s.price_now.map(Into::into),
        }
    }
}

async fn saved_body(
    state: &AppState,
    client_id: crate::ids::ClientId,
) -> AppResult<Vec<SavedBody>> {
    let currency = state.billing_currency(client_id).await?;
    Ok(wishlist::list(&state.db, client_id, currency)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[utoipa::path(
    get,
    path = "/api/saved",
    tag = "saved",
    summary = "Your company's saved services",
    description = "The services anyone in your company saved for later, the latest first, with who saved each and whether its price dropped since.",
    responses(
        (status = 200, description = "The list", body = Vec<SavedBody>),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
) -> AppResult<axum::Json<Vec<SavedBody>>> {
    Ok(axum::Json(saved_body(&state, client_id).await?))
}

#[utoipa::path(
    put,
    path = "/api/saved/{serviceTemplateId}",
    tag = "saved",
    summary = "Save a service for later",
    description = "Saves a service on sale for your company, with its price now. Saving one already saved changes nothing (200).",
    params(("serviceTemplateId" = i64, Path, description = "The service's id")),
    responses(
        (status = 201, description = "Saved: the list", body = Vec<SavedBody>),
        (status = 200, description = "It was saved already: the list", body = Vec<SavedBody>),
        (status = 400, description = "It has no price in your company's currency", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not in the store", body = ErrorResponse),
    ),
)]
pub async fn save(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    Path(id): Path<TemplateId>,
) -> AppResult<Response> {
    let currency = state.billing_currency(client_id).await?;
    let new = state
        .db
        .in_transaction(async |txn| wishlist::save(txn, user.id, client_id, id, currency).await)
        .await?;
    state.saved_changed(client_id);
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(saved_body(&state, client_id).await?)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/saved/{serviceTemplateId}",
    tag = "saved",
    summary = "Take a service off the saved list",
    params(("serviceTemplateId" = i64, Path, description = "The service's id")),
    responses(
        (status = 204, description = "Taken off"),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not on the list", body = ErrorResponse),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Path(id): Path<TemplateId>,
) -> AppResult<StatusCode> {
    state
        .db
        .in_transaction(async |txn| wishlist::remove(txn, client_id, id).await)
        .await?;
    state.saved_changed(client_id);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/cart/items/{serviceTemplateId}/save",
    tag = "cart",
    summary = "Move a line to the saved list",
    description = "Takes the line out of the cart and saves its service for later, in one change.",
    params(("serviceTemplateId" = i64, Path, description = "The service's id")),
    responses(
        (status = 200, description = "The cart after the change", body = CartBody),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not in your cart, or no longer in the store", body = ErrorResponse),
    ),
)]
pub async fn move_from_cart(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    Path(id): Path<TemplateId>,
) -> AppResult<axum::Json<CartBody>> {
    let currency = state.billing_currency(client_id).await?;
    state
        .db
        .in_transaction(async |txn| {
            wishlist::move_from_cart(txn, user.id, client_id, id, currency).await
        })
        .await?;
    state.cart_changed(client_id);
    state.saved_changed(client_id);
    cart_body(&state, client_id).await
}
