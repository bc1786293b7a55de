//! The one error type of the app: a status, a stable code and a message a person can act on.
//!
//! Every error answers with the JSON envelope `{"error": {"code", "message", "field"}}`;
//! `web::middleware::html_errors` turns it into an HTML page for routes outside `/api`.
//! Internal errors keep their cause for the log and show only a plain message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Every field at fault, when a whole form was checked (`field` is the first of them).
    fields: FieldErrors,
    cause: Option<anyhow::Error>,
}

/// What an error response carries (and the HTML error page shows).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: `bad_request`, `invalid_input`, `unauthorized`, `forbidden`, `not_found`, …
    #[schema(example = "invalid_input")]
    pub code: &'static str,
    /// For people: what was wrong and what to do.
    pub message: String,
    /// The input at fault, if one is.
    pub field: Option<String>,
    /// Every input at fault with its problem, when a whole form or body was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

pub type AppResult<T> = Result<T, AppError>;

/// What a failure of ours says to people.
const INTERNAL: &str =
    "Something went wrong on our side. Try again; if it keeps happening, tell the agency.";

/// Messages by form field name (`name`, `tasks`, `task-3-due`, …).
#[derive(Clone, Debug, Default)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first problem, as an API error naming its field.
    pub fn first(&self) -> AppError {
        match self.0.iter().next() {
            Some((field, message)) => AppError::invalid(field, message.clone()),
            None => AppError::bad_request("The form is not valid."),
        }
    }

    /// The fields an error names, to show them in its form: every one of a checked form, or
    /// the error's own field (`fallback` when it names none).
    pub fn of(e: &AppError, fallback: &str) -> Self {
        if !e.fields.is_empty() {
            return e.fields.clone();
        }
        let mut errors = Self::default();
        errors.add(e.field.as_deref().unwrap_or(fallback), e.message.clone());
        errors
    }
}

/// A form that did not pass its checks: a 400 naming its first field and keeping them all.
impl From<FieldErrors> for AppError {
    fn from(errors: FieldErrors) -> Self {
        let mut e = errors.first();
        e.fields = errors;
        e
    }
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            fields: FieldErrors::default(),
            cause: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// A 400 that names the input at fault.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_input", message);
        e.field = Some(field.to_string());
        e
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Sign in to continue.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is nothing at this address.",
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is busy. Try again in a moment.",
        )
    }

    /// An error with this status that came without our envelope (a framework's rejection, a
    /// panic caught): a stable code for the status, and `said` (its own short reason) or a
    /// plain message. A 5xx shows no reason of its own.
    pub fn for_status(status: StatusCode, said: Option<String>) -> Self {
        let (code, plain) = match status.as_u16() {
            400 => ("bad_request", "The request is not valid."),
            401 => ("unauthorized", "Sign in to continue."),
            403 => ("forbidden", "This is not allowed."),
            404 => ("not_found", "There is nothing at this address."),
            405 => (
                "method_not_allowed",
                "This address does not take that method.",
            ),
            408 => ("timeout", "The request took too long to arrive."),
            413 => ("too_large", "The request is too large."),
            415 => (
                "unsupported_media_type",
                "The body is not in a type this address takes.",
            ),
            422 => ("invalid_input", "The request could not be read."),
            429 => (
                "rate_limited",
                "Too many requests: wait a moment and try again.",
            ),
            503 => ("unavailable", "The service is busy. Try again in a moment."),
            s if s >= 500 => ("internal", INTERNAL),
            _ => ("bad_request", "The request is not valid."),
        };
        let message = match said {
            Some(said) if !status.is_server_error() && said.len() <= 300 => said,
            _ => plain.to_string(),
        };
        Self::new(status, code, message)
    }

    /// A failure of ours: logged with its cause, shown as a plain 500.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", INTERNAL);
        e.cause = Some(cause.into());
        e
    }

    /// An error the person can act on: bad input, a conflict, something not found, or a
    /// payment provider that could not be reached (try again). A form shows it in place.
    pub fn is_correctable(&self) -> bool {
        self.status.is_client_error() || self.status == StatusCode::BAD_GATEWAY
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: self.message.clone(),
            field: self.field.clone(),
            fields: (!self.fields.is_empty()).then(|| self.fields.0.clone()),
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {cause:#}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for AppError {}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if matches!(err, DbErr::RecordNotFound(_)) {
            return Self::not_found();
        }
        if let Some(SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
            return Self::conflict("That already exists.");
        }
        if matches!(&err, DbErr::ConnectionAcquire(_)) {
            tracing::warn!(error = %err, "database pool exhausted");
            return Self::unavailable();
        }
        Self::internal(err)
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(err: tower_sessions::session::Error) -> Self {
        Self::internal(anyhow::anyhow!("session store: {err}"))
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        Self::internal(err)
    }
}

#[derive(Serialize)]
struct Envelope {
    error: ErrorBody,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let body = self.body();
        let mut response = (
            self.status,
            Json(Envelope {
                error: body.clone(),
            }),
        )
            .into_response();
        response.extensions_mut().insert(body);
        response
    }
}
