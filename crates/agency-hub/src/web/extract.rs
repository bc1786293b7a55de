//! axum's extractors, with bad input answered by our error (a 400 naming what was wrong)
//! instead of axum's plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
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
            .map_err(|e| rejected(e.status(), e.body_text()))
    }
}

/// A body that could not be read: too large (413) or of the wrong type (415) as such, anything
/// else a 400 with axum's reason.
fn rejected(status: StatusCode, reason: String) -> AppError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            AppError::for_status(status, None)
        }
        _ => AppError::bad_request(reason),
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
            .map_err(|e| rejected(e.status(), e.body_text()))
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

/// A path's parameters (an id, mostly). One that does not parse is a 400 naming it, not
/// axum's plain-text rejection (which also names our types).
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let (key, value) = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, value, .. } => (Some(key.clone()), value),
                    ErrorKind::ParseErrorAtIndex { index, value, .. } => {
                        (param_name(parts, state, Some(*index)).await, value)
                    }
                    ErrorKind::ParseError { value, .. } => {
                        (param_name(parts, state, None).await, value)
                    }
                    _ => return Err(AppError::bad_request("The address is not valid.")),
                };
                let message = format!("'{value}' is not an id.");
                Err(match key {
                    Some(key) => AppError::invalid(&key, message),
                    None => AppError::bad_request(message),
                })
            }
            Err(e) => Err(AppError::for_status(e.status(), None)),
        }
    }
}

/// The name of the route's path parameter at `index` (its only one when `None`).
async fn param_name<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    index: Option<usize>,
) -> Option<String> {
    let params = axum::extract::RawPathParams::from_request_parts(parts, state)
        .await
        .ok()?;
    let names: Vec<String> = params.iter().map(|(k, _)| k.to_string()).collect();
    match index {
        Some(i) => names.get(i).cloned(),
        None if names.len() == 1 => names.into_iter().next(),
        None => None,
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
    /// The 1-based page number (1 when absent).
    pub fn page(&self) -> Result<u64, AppError> {
        crate::paging::page_number(self.page)
    }

    /// The page size: `default` when absent, else 1 to `max`.
    pub fn per_page(&self, default: u64, max: u64) -> Result<u64, AppError> {
        match self.per_page {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(n) => Err(AppError::invalid(
                "perPage",
                format!("{n} is not a page size: use 1 to {max}."),
            )),
        }
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

/// A form as sent, with its files: `multipart/form-data` (a file field left empty is no file),
/// or a plain `application/x-www-form-urlencoded` form (no files). A file past the largest
/// size allowed is not kept: `refused` names it, for the handler to say in place (with what
/// was typed). The route lifts axum's default body limit; the outer limit bounds the request.
pub struct Submitted {
    pub fields: Vec<(String, String)>,
    pub files: Vec<crate::files::Upload>,
    pub refused: Option<AppError>,
}

impl Submitted {
    /// The first value of a field, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FromRequest<crate::AppState> for Submitted {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &crate::AppState) -> Result<Self, AppError> {
        let multipart = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("multipart/form-data"));
        if !multipart {
            let Form(fields) = Form::<Vec<(String, String)>>::from_request(req, state).await?;
            return Ok(Self {
                fields,
                files: Vec::new(),
                refused: None,
            });
        }
        let max = state.config.files.max_file_bytes;
        let mut form = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|e| rejected(e.status(), e.body_text()))?;
        let mut out = Self {
            fields: Vec::new(),
            files: Vec::new(),
            refused: None,
        };
        let unreadable = |e: axum::extract::multipart::MultipartError| {
            rejected(
                e.status(),
                format!("The form could not be read: {}", e.body_text()),
            )
        };
        while let Some(mut field) = form.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or_default().to_string();
            let Some(file_name) = field.file_name().map(str::to_string) else {
                let value = field.text().await.map_err(unreadable)?;
                out.fields.push((name, value));
                continue;
            };
            let mut bytes = Vec::new();
            let mut read = 0u64;
            while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                read += chunk.len() as u64;
                if read <= max {
                    bytes.extend_from_slice(&chunk);
                }
            }
            if read > max {
                let mut e = AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!(
                        "{} is larger than {}: a file may be at most that.",
                        crate::files::safe_name(&file_name),
                        crate::files::size_label(max)
                    ),
                );
                e.field = Some(name);
                out.refused.get_or_insert(e);
                continue;
            }
            // A file input left empty sends a part with no name and no bytes.
            if file_name.is_empty() && bytes.is_empty() {
                continue;
            }
            out.files.push(crate::files::Upload {
                field: name,
                name: file_name,
                bytes: bytes.into(),
            });
        }
        Ok(out)
    }
}

/// A write that may carry files: JSON (`application/json`, at most [`JSON_LIMIT`] bytes), or
/// a `multipart/form-data` form read as [`Submitted`]. Its route lifts axum's default body
/// limit for the files, so the JSON is bounded here.
pub enum JsonOrForm<T> {
    Json(T),
    Form(Submitted),
}

/// The largest JSON body a route taking files accepts (as every other JSON route).
pub const JSON_LIMIT: usize = 2 * 1024 * 1024;

impl<T: DeserializeOwned> FromRequest<crate::AppState> for JsonOrForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &crate::AppState) -> Result<Self, AppError> {
        let content_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if content_type.starts_with("multipart/form-data") {
            return Ok(Self::Form(Submitted::from_request(req, state).await?));
        }
        if !content_type.starts_with("application/json") {
            return Err(AppError::for_status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
            ));
        }
        let bytes = axum::body::to_bytes(req.into_body(), JSON_LIMIT)
            .await
            .map_err(|_| AppError::for_status(StatusCode::PAYLOAD_TOO_LARGE, None))?;
        axum::Json::<T>::from_bytes(&bytes)
            .map(|axum::Json(v)| Self::Json(v))
            .map_err(|e| rejected(e.status(), e.body_text()))
    }
}
