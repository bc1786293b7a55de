//! Stripe's error envelope: every failure of the API leaves through `ApiError`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// One API failure, rendered as `{"error": {"type", "code", "message", "param"}}` with Stripe's status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: None,
            message: message.into(),
            param: None,
        }
    }

    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn unknown_param(param: &str) -> Self {
        Self::invalid(format!("Received unknown parameter: {param}"))
            .code("parameter_unknown")
            .param(param)
    }

    pub fn missing_param(param: &str) -> Self {
        Self::invalid(format!("Missing required param: {param}."))
            .code("parameter_missing")
            .param(param)
    }

    /// Stripe answers a reference to an object that does not exist with a 400 when it is a
    /// parameter of another request, and a 404 when it is the object of the URL.
    pub fn no_such(kind: &str, id: &str, param: &str) -> Self {
        Self::invalid(format!("No such {kind}: '{id}'"))
            .code("resource_missing")
            .param(param)
    }

    pub fn not_found(kind: &str, id: &str) -> Self {
        let mut e = Self::no_such(kind, id, "id");
        e.status = StatusCode::NOT_FOUND;
        e
    }

    /// A charge the card's bank refused: 402 with `card_error`, as Stripe answers it.
    pub fn card_declined(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::PAYMENT_REQUIRED,
            kind: "card_error",
            code: Some("card_declined"),
            message: message.into(),
            param: None,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            kind: "invalid_request_error",
            code: None,
            message: message.into(),
            param: None,
        }
    }

    pub fn idempotency(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "idempotency_error",
            code: None,
            message: message.into(),
            param: None,
        }
    }

    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), json!(self.kind));
        error.insert("message".into(), json!(self.message));
        if let Some(code) = self.code {
            error.insert("code".into(), json!(code));
        }
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
