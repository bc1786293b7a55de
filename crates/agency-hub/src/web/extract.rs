//! axum's extractors, with bad input answered by our error (a 400 naming what was wrong)
//! instead of axum's plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON body.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| Self(v))
            .map_err(|e| AppError::bad_request(e.body_text()))
    }
}

/// A form body (`application/x-www-form-urlencoded`).
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| Self(v))
            .map_err(|e| AppError::bad_request(e.body_text()))
    }
}

/// The query string.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|e| AppError::bad_request(e.body_text()))
    }
}

/// `?page=&perPage=`, shared by every list (pages and API).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageParams {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

impl PageParams {
    /// The 1-based page number.
    pub fn page(&self) -> u64 {
        self.page.unwrap_or(1).max(1)
    }

    /// The page size: `default` when absent, at most `max`.
    pub fn per_page(&self, default: u64, max: u64) -> u64 {
        self.per_page.unwrap_or(default).clamp(1, max)
    }
}

/// An optional id from a form or query field: empty is none.
pub fn optional_id<T: std::str::FromStr>(field: &str, raw: &str) -> Result<Option<T>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        raw => raw
            .parse()
            .map(Some)
            .map_err(|_| AppError::invalid(field, format!("'{raw}' is not an id."))),
    }
}

/// A form's `true`/`false` field (hidden inputs of toggle buttons).
pub fn bool_field(field: &str, raw: &str) -> Result<bool, AppError> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(AppError::invalid(
            field,
            format!("'{other}' is not true or false."),
        )),
    }
}
