//! Reviews as JSON: a service's published reviews, and the company's own review of a service
//! it completed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ErrorResponse;
use crate::AppState;
use crate::db::entities::review;
use crate::engagement::reviews::{self, Order, ReviewForm};
use crate::error::AppResult;
use crate::ids::TemplateId;
use crate::web::auth::RequireClient;
use crate::web::extract::{Json, Path, Query};

/// A review.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewBody {
    /// 1 to 5.
    pub rating: i32,
    pub body: String,
    /// The reviewing company.
    pub company: String,
    pub created_at: DateTime<Utc>,
    /// The agency's public reply.
    pub reply: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
}

/// Your company's review, with where it stands.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnReviewBody {
    pub rating: i32,
    pub body: String,
    /// `pending` (waiting for the agency), `approved` (in the store) or `hidden`.
    pub status: String,
    pub reply: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<review::Model> for OwnReviewBody {
    fn from(r: review::Model) -> Self {
        Self {
            rating: r.rating,
            body: r.body,
            status: r.status.as_str().into(),
            reply: r.reply,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct OrderQuery {
    #[serde(default)]
    order: String,
}

#[utoipa::path(
    get,
    path = "/api/store/services/{id}/reviews",
    tag = "store",
    summary = "A service's reviews",
    description = "Its approved reviews (at most 50), with the agency's replies.",
    params(
        ("id" = i64, Path, description = "The service template's id"),
        ("order" = Option<String>, Query, description = "newest (default), highest or lowest"),
    ),
    responses(
        (status = 200, description = "The reviews", body = Vec<ReviewBody>),
        (status = 400, description = "An unknown order", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not in the store", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    RequireClient(_, _): RequireClient,
    Path(id): Path<TemplateId>,
    Query(q): Query<OrderQuery>,
) -> AppResult<axum::Json<Vec<ReviewBody>>> {
    let order = Order::parse(&q.order)?;
    state.store.get_on_sale(id).await?;
    let shown = state.store.reviews(id, order).await?;
    Ok(axum::Json(
        shown
            .iter()
            .map(|s| ReviewBody {
                rating: s.review.rating,
                body: s.review.body.clone(),
                company: s.company.clone(),
                created_at: s.review.created_at,
                reply: s.review.reply.clone(),
                replied_at: s.review.replied_at,
            })
            .collect(),
    ))
}

/// A review to write.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WriteReview {
    #[schema(example = 5)]
    rating: Option<serde_json::Value>,
    #[schema(example = "Clear, quick and friendly.")]
    body: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/store/services/{id}/review",
    tag = "store",
    summary = "Write or change your company's review",
    description = "A company whose service of this kind is done reviews it: 1 to 5 stars and text, one review per company, which the agency reads before it is published. Changing it sends it back for approval.",
    params(("id" = i64, Path, description = "The service template's id")),
    request_body = WriteReview,
    responses(
        (status = 201, description = "Written, waiting for approval", body = OwnReviewBody),
        (status = 200, description = "Changed, waiting for approval again", body = OwnReviewBody),
        (status = 400, description = "No stars or no text (the field says which)", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user, or your company has no service of this kind done", body = ErrorResponse),
    ),
)]
pub async fn write(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    Path(id): Path<TemplateId>,
    Json(body): Json<WriteReview>,
) -> AppResult<Response> {
    let form = ReviewForm {
        rating: match body.rating {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) => s,
            _ => String::new(),
        },
        body: body.body.unwrap_or_default(),
    };
    let valid = form.validate()?;
    let (saved, new) = state
        .db
        .in_transaction(async |txn| reviews::write(txn, user.id, client_id, id, valid).await)
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(OwnReviewBody::from(saved))).into_response())
}
