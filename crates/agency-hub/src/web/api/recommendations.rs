//! Recommendations as JSON: a service's "often bought together" and "clients also viewed", and
//! what is recommended for the company.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::ErrorResponse;
use super::store::StoreItem;
use crate::AppState;
use crate::engagement::recommendations::{self, SUGGESTED};
use crate::error::AppResult;
use crate::ids::TemplateId;
use crate::web::auth::RequireClient;
use crate::web::extract::Path;

/// What a service's page suggests.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelatedBody {
    /// Bought by the same client companies (two or more).
    pub bought_together: Vec<StoreItem>,
    /// Viewed by the same people (two or more).
    pub also_viewed: Vec<StoreItem>,
}

#[utoipa::path(
    get,
    path = "/api/store/services/{id}/related",
    tag = "store",
    summary = "Often bought together, and also viewed",
    params(("id" = i64, Path, description = "The service template's id")),
    responses(
        (status = 200, description = "Up to four of each, on sale, the strongest first", body = RelatedBody),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not in the store", body = ErrorResponse),
    ),
)]
pub async fn related(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Path(id): Path<TemplateId>,
) -> AppResult<axum::Json<RelatedBody>> {
    state.store.get_on_sale(id).await?;
    let currency = state.billing_currency(client_id).await?;
    let r = state.related(id).await?;
    Ok(axum::Json(RelatedBody {
        bought_together: r
            .bought_together
            .iter()
            .map(|t| StoreItem::of(t, currency))
            .collect(),
        also_viewed: r
            .also_viewed
            .iter()
            .map(|t| StoreItem::of(t, currency))
            .collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/recommendations",
    tag = "store",
    summary = "Recommended for your company",
    description = "What companies that bought what yours bought also bought, then the most bought in the categories of what yours bought; never what your company bought or saved.",
    responses(
        (status = 200, description = "Up to four services on sale", body = Vec<StoreItem>),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
    ),
)]
pub async fn for_company(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
) -> AppResult<axum::Json<Vec<StoreItem>>> {
    let currency = state.billing_currency(client_id).await?;
    let saved = state.saved_ids(client_id).await?;
    let picks = recommendations::for_company(&state.db, client_id, &saved, SUGGESTED).await?;
    Ok(axum::Json(
        picks.iter().map(|t| StoreItem::of(t, currency)).collect(),
    ))
}
